#!/usr/bin/env python3
"""The conformance suite's Python side: grpcio (the C-core client Python,
C++, Ruby, PHP and C# share) over gRPC, through the gateway and straight to
each service, and curl for JSON through the gateway, compared with gRPC.

The contracts come from the servers' own reflection (grpcio-reflection's
descriptor database), so a reflection server that leaves out a file's
imports fails here first. What to call is in cases.json; where and with
which tokens in the CONFORMANCE environment variable (JSON), which the
Rust test (cli/tests/up.rs) sets:

    {"gateway": "127.0.0.1:50051",
     "direct": {"members": "127.0.0.1:50061", ...},
     "tokens": {"admin": "...", "auditor": "..."}}

Prints one line a case and ends with `N passed, N failed`; exits 1 when a
case failed.
"""

import json
import os
import queue
import subprocess
import sys
from pathlib import Path

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.rpc import error_details_pb2
from grpc_reflection.v1alpha import reflection_pb2 as alpha_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status

HERE = Path(__file__).resolve().parent
CASES = json.loads((HERE / "cases.json").read_text())
CONFIG = json.loads(os.environ["CONFORMANCE"])
LIMIT = CASES["size_limit"]
# Longest error message a caller may be sent (the kit caps at 480
# characters; percent-encoded Chinese is longer on the wire, not here).
SHORT = 1024

results = []


def case(client, protocol, target, service, name, check):
    """Runs one check; records PASS or FAIL with what went wrong."""
    label = f"{client} {protocol} {target} {service} {name}"
    try:
        check()
        results.append((label, None))
        print(f"PASS {label}", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is a finding
        detail = f"{type(e).__name__}: {e}"[:400]
        results.append((label, detail))
        print(f"FAIL {label}: {detail}", flush=True)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


class Contracts:
    """Message classes built from one server's reflection."""

    def __init__(self, channel):
        self.pool = descriptor_pool.DescriptorPool(
            ProtoReflectionDescriptorDatabase(channel)
        )

    def method(self, path):
        service, name = path.split("/")
        m = self.pool.FindServiceByName(service).methods_by_name[name]
        return (
            message_factory.GetMessageClass(m.input_type),
            message_factory.GetMessageClass(m.output_type),
        )


def metadata(token, call_id, owner=None):
    md = [
        ("authorization", f"Bearer {token}"),
        ("x-request-id", call_id),
        ("x-conformance-client", "grpcio"),
    ]
    if owner:
        md.append((CASES["watch"]["owner_header"], owner))
    return md


def header(call, name):
    """A response header, from the initial metadata or (trailers-only
    answers) the trailing metadata."""
    for md in (call.initial_metadata() or (), call.trailing_metadata() or ()):
        for k, v in md:
            if k == name:
                return v
    return None


def unary(channel, contracts, path, request, md, timeout=20):
    req_cls, resp_cls = contracts.method(path)
    stub = channel.unary_unary(
        "/" + path,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=resp_cls.FromString,
    )
    return stub.with_call(json_format.ParseDict(request, req_cls()), metadata=md, timeout=timeout)


def refused(fn):
    """The RpcError `fn` raises; fails when it answers."""
    try:
        fn()
    except grpc.RpcError as e:
        return e
    raise AssertionError("the call succeeded; a refusal was expected")


def details(err):
    """ErrorInfo reasons and BadRequest fields of a refusal."""
    status = rpc_status.from_call(err)
    expect(status is not None, "no grpc-status-details-bin on the refusal")
    reasons, fields = [], []
    for d in status.details:
        if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            d.Unpack(info)
            reasons.append(info.reason)
        if d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            d.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    return reasons, fields


def check_service(target, addr, service, spec, tokens, outcomes):
    owner = service if target == "gateway" and service != "reports" else None
    channel = grpc.insecure_channel(
        addr,
        options=[
            ("grpc.max_send_message_length", 2 * LIMIT),
            ("grpc.max_receive_message_length", 2 * LIMIT),
        ],
    )
    contracts = Contracts(channel)
    admin = tokens["admin"]
    run = lambda name, check: case("grpcio", "grpc", target, service, name, check)  # noqa: E731

    def ok():
        call_id = f"py-{target}-{service}-ok"
        response, call = unary(channel, contracts, spec["ok"]["method"], spec["ok"]["request"], metadata(admin, call_id))
        outcomes[(service, "ok")] = response
        expect(header(call, "x-request-id") == call_id, f"x-request-id came back as {header(call, 'x-request-id')!r}")

    def error():
        e = spec["error"]
        call_id = f"py-{target}-{service}-error"
        err = refused(lambda: unary(channel, contracts, e["method"], e["request"], metadata(admin, call_id)))
        expect(err.code().name == e["code"], f"{err.code().name}: {err.details()}")
        reasons, fields = details(err)
        expect(e["reason"] in reasons, f"reasons {reasons}")
        expect(e["field"] in fields, f"fields {fields}")
        expect(header(err, "x-request-id") == call_id, "no x-request-id on the refusal")
        outcomes[(service, "error")] = (err.code().name, err.details(), reasons, fields)

    def role_refused():
        r = spec["refused"]
        call_id = f"py-{target}-{service}-refused"
        err = refused(lambda: unary(channel, contracts, r["method"], r["request"], metadata(tokens[r["token"]], call_id)))
        expect(err.code().name == r["code"], f"{err.code().name}: {err.details()}")
        reasons, _ = details(err)
        expect(r["reason"] in reasons, f"reasons {reasons}")
        expect(header(err, "x-request-id") == call_id, "no x-request-id on the refusal")
        outcomes[(service, "refused")] = (err.code().name, err.details(), reasons)

    def sized(length, code):
        def check():
            long = spec["long"]
            request = {long["field"]: "x" * length}
            err = refused(lambda: unary(channel, contracts, long["method"], request, metadata(admin, "py-long")))
            expect(err.code().name == code, f"{err.code().name}: {(err.details() or '')[:200]}")
            expect(len(err.details() or "") < SHORT, f"a message of {len(err.details())} characters")
        return check

    run("unary", ok)
    run("error-details", error)
    if "refused" in spec:
        run("role-refused-by-contract", role_refused)
    run("long-value-64KiB", sized(64 * 1024, "INVALID_ARGUMENT"))
    run("near-size-limit", sized(LIMIT - 1024, "INVALID_ARGUMENT"))
    run("over-size-limit", sized(LIMIT + 1024, "RESOURCE_EXHAUSTED"))

    if service == "reports":
        def deadline():
            err = refused(lambda: unary(channel, contracts, spec["ok"]["method"], spec["ok"]["request"], metadata(admin, "py-deadline"), timeout=0.001))
            expect(err.code() == grpc.StatusCode.DEADLINE_EXCEEDED, f"{err.code().name}: {err.details()}")
        run("deadline", deadline)
    else:
        watch = CASES["watch"]
        req_cls, resp_cls = contracts.method(watch["method"])
        stream = channel.unary_stream(
            "/" + watch["method"],
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=resp_cls.FromString,
        )

        def server_stream():
            call = stream(req_cls(), metadata=metadata(admin, "py-watch", owner), timeout=30)
            got = []
            for message in call:
                got.append(message)
                if len(got) == watch["messages"]:
                    break
            call.cancel()
            expect(len(got) == watch["messages"], f"{len(got)} messages before the stream ended")
            expect(all(m.cursor for m in got), "a message without a cursor")
            expect(call.code() == grpc.StatusCode.CANCELLED, f"ended {call.code()}")

        def deadline():
            call = stream(req_cls(), metadata=metadata(admin, "py-watch-deadline", owner), timeout=0.5)
            err = refused(lambda: [m for m in call])
            expect(err.code() == grpc.StatusCode.DEADLINE_EXCEEDED, f"{err.code().name}: {err.details()}")

        run("server-stream-cancelled", server_stream)
        run("deadline", deadline)

    if target == "gateway" and service != "reports":
        def audit():
            _, call = unary(channel, contracts, "cppcc.audit.v1.AuditService/VerifyAuditLog", {}, metadata(tokens["auditor"], "py-audit", service))
            expect(header(call, "x-request-id") == "py-audit", "no x-request-id")
        run("audit-log-by-owner-header", audit)
    channel.close()


def check_reflection(target, addr):
    """Two questions on one open stream, each answered before the next is
    asked (as buf and grpcurl ask), the second with its imports."""
    channel = grpc.insecure_channel(addr)
    asks = queue.Queue()

    def requests():
        while (r := asks.get()) is not None:
            yield r

    path = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
    call = channel.stream_stream(
        path,
        request_serializer=alpha_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=alpha_pb2.ServerReflectionResponse.FromString,
    )(requests(), timeout=10)

    def check():
        asks.put(alpha_pb2.ServerReflectionRequest(list_services=""))
        listed = [s.name for s in next(call).list_services_response.service]
        expect("cppcc.events.v1.EventStreamService" in listed, f"listed {listed}")
        asks.put(alpha_pb2.ServerReflectionRequest(file_containing_symbol="cppcc.events.v1.EventStreamService"))
        files = next(call).file_descriptor_response.file_descriptor_proto
        expect(len(files) >= 2, f"{len(files)} file(s): the imports did not come with it")
        asks.put(None)
        call.cancel()

    case("grpcio", "grpc", target, "reflection", "answers-each-question-with-imports", check)
    channel.close()


def check_json(outcomes, tokens):
    """curl with JSON through the gateway, compared with grpcio's answers."""
    gateway = CONFIG["gateway"]

    def curl(path, body, token, owner=None):
        args = ["curl", "-s", "-w", "\n%{http_code}", "-H", f"authorization: Bearer {token}",
                "-H", "content-type: application/json", "-H", "x-request-id: curl-1",
                "-D", "-", "--data-binary", "@-", f"http://{gateway}/{path}"]
        if owner:
            args[1:1] = ["-H", f"cppcc-service: {owner}"]
        out = subprocess.run(args, input=json.dumps(body).encode(), capture_output=True, check=True).stdout.decode()
        head, _, rest = out.partition("\r\n\r\n")
        text, _, code = rest.rpartition("\n")
        return int(code), json.loads(text), head.lower()

    for service, spec in CASES["services"].items():
        def ok(service=service, spec=spec):
            code, body, head = curl(spec["ok"]["method"], spec["ok"]["request"], tokens["admin"])
            expect(code == 200, f"HTTP {code}: {body}")
            expect("x-request-id: curl-1" in head, "no x-request-id")
            grpc_answer = outcomes[(service, "ok")]
            # The same message, whichever defaults each spelling writes out.
            as_json = json_format.ParseDict(body, type(grpc_answer)())
            expect(as_json == grpc_answer, "the JSON answer differs from gRPC's")

        def error(service=service, spec=spec):
            e = spec["error"]
            code, body, _ = curl(e["method"], e["request"], tokens["admin"])
            expect(code == 400, f"HTTP {code}")
            grpc_code, message, reasons, fields = outcomes[(service, "error")]
            expect(body["status"] == grpc_code and body["message"] == message, f"{body} against {message}")
            got_reasons = [d.get("reason") for d in body["details"] if d["@type"].endswith("ErrorInfo")]
            got_fields = [v["field"] for d in body["details"] if d["@type"].endswith("BadRequest") for v in d["fieldViolations"]]
            expect(got_reasons == reasons and got_fields == fields, f"{got_reasons} {got_fields}")

        case("curl", "json", "gateway", service, "unary-same-as-grpc", ok)
        case("curl", "json", "gateway", service, "error-same-as-grpc", error)

    def audit():
        code, body, _ = curl("cppcc.audit.v1.AuditService/VerifyAuditLog", {}, tokens["auditor"], "members")
        expect(code == 200 and "intact" in body, f"HTTP {code}: {body}")

    case("curl", "json", "gateway", "audit", "audit-log-by-owner-header", audit)


def main():
    tokens = CONFIG["tokens"]
    gateway_outcomes, direct_outcomes = {}, {}
    check_reflection("gateway", CONFIG["gateway"])
    for service, spec in CASES["services"].items():
        check_service("gateway", CONFIG["gateway"], service, spec, tokens, gateway_outcomes)
        if spec.get("gateway_only"):
            continue
        addr = CONFIG["direct"][service]
        check_reflection(service, addr)
        check_service(service, addr, service, spec, tokens, direct_outcomes)

        def same(service=service):
            for kind in ("ok", "error", "refused"):
                g, d = gateway_outcomes.get((service, kind)), direct_outcomes.get((service, kind))
                if kind == "ok" and g is not None and d is not None:
                    # Each side's classes come from its own reflection.
                    g, d = (m.SerializeToString(deterministic=True) for m in (g, d))
                expect(g is not None and g == d, f"{kind}: through the gateway {g!r:.200}, direct {d!r:.200}")

        case("grpcio", "grpc", "gateway=direct", service, "same-answers", same)
    check_json(gateway_outcomes, tokens)
    failed = sum(1 for _, f in results if f)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
