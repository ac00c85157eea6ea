// The conformance suite's Node side: @grpc/grpc-js over gRPC, through the
// gateway and straight to each service, and @connectrpc/connect-node over
// gRPC-Web through the gateway, compared with grpc-js's direct answers.
//
// Messages are encoded and decoded with @bufbuild/protobuf from the suite's
// descriptor set (the file CONFORMANCE.descriptors names); what to call is
// in cases.json; where and with which tokens in the CONFORMANCE environment
// variable (see grpcio_client.py). Prints one line a case and ends with
// `N passed, N failed`; exits 1 when a case failed.

import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { createFileRegistry, equals, fromBinary, fromJson, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, anyUnpack } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";

const CASES = JSON.parse(readFileSync(new URL("./cases.json", import.meta.url)));
const CONFIG = JSON.parse(process.env.CONFORMANCE);
const LIMIT = CASES.size_limit;
const SHORT = 1024;
const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, readFileSync(CONFIG.descriptors)),
);
const STATUS = registry.getMessage("google.rpc.Status");
const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

const results = [];

async function check(client, protocol, target, service, name, fn) {
  const label = `${client} ${protocol} ${target} ${service} ${name}`;
  try {
    await fn();
    results.push([label, null]);
    console.log(`PASS ${label}`);
  } catch (e) {
    const detail = String(e?.stack ?? e).slice(0, 400);
    results.push([label, detail]);
    console.log(`FAIL ${label}: ${detail}`);
  }
}

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

function method(path) {
  const [service, name] = path.split("/");
  const m = registry.getService(service)?.methods.find((x) => x.name === name);
  if (!m) throw new Error(`no method ${path} in the descriptors`);
  return m;
}

/** ErrorInfo reasons and BadRequest fields in google.rpc.Status details. */
function decodeDetails(anys) {
  const reasons = [];
  const fields = [];
  for (const any of anys) {
    const d = anyUnpack(any, registry);
    if (d?.$typeName === "google.rpc.ErrorInfo") reasons.push(d.reason);
    if (d?.$typeName === "google.rpc.BadRequest") fields.push(...d.fieldViolations.map((v) => v.field));
  }
  return { reasons, fields };
}

// ---- grpc-js over gRPC -------------------------------------------------

function metadata(token, callId, owner) {
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${token}`);
  md.set("x-request-id", callId);
  md.set("x-conformance-client", "grpc-js");
  if (owner) md.set(CASES.watch.owner_header, owner);
  return md;
}

/** One unary call; resolves with the answer or the error, and metadata. */
function unary(client, path, request, md, deadlineMs = 20000) {
  const m = method(path);
  return new Promise((resolve) => {
    let answer = {};
    let headers = null;
    const call = client.makeUnaryRequest(
      `/${path}`,
      (msg) => Buffer.from(toBinary(m.input, msg)),
      (buf) => fromBinary(m.output, buf),
      fromJson(m.input, request),
      md,
      { deadline: Date.now() + deadlineMs },
      (err, resp) => {
        answer = { err, resp };
      },
    );
    call.on("metadata", (h) => {
      headers = h;
    });
    call.on("status", (s) => resolve({ ...answer, headers, trailers: s.metadata, schema: m.output }));
  });
}

function header(result, name) {
  for (const md of [result.headers, result.trailers, result.err?.metadata]) {
    const v = md?.get(name);
    if (v && v.length) return String(v[0]);
  }
  return null;
}

function grpcError(result) {
  expect(result.err, "the call succeeded; a refusal was expected");
  const bin = result.err.metadata.get("grpc-status-details-bin")[0];
  expect(bin, "no grpc-status-details-bin on the refusal");
  const status = fromBinary(STATUS, bin);
  return {
    code: CODE_NAMES[result.err.code],
    message: result.err.details,
    ...decodeDetails(status.details),
  };
}

async function grpcService(target, addr, service, spec, outcomes) {
  const owner = target === "gateway" && service !== "reports" ? service : undefined;
  const client = new grpc.Client(addr, grpc.credentials.createInsecure(), {
    "grpc.max_send_message_length": 2 * LIMIT,
    "grpc.max_receive_message_length": 2 * LIMIT,
  });
  const admin = CONFIG.tokens.admin;
  const run = (name, fn) => check("grpc-js", "grpc", target, service, name, fn);

  await run("unary", async () => {
    const id = `js-${target}-${service}-ok`;
    const r = await unary(client, spec.ok.method, spec.ok.request, metadata(admin, id));
    expect(!r.err, `${r.err?.code} ${r.err?.details}`);
    expect(header(r, "x-request-id") === id, `x-request-id came back as ${header(r, "x-request-id")}`);
    outcomes.set(`${service} ok`, { schema: r.schema, message: r.resp });
  });
  await run("error-details", async () => {
    const e = spec.error;
    const id = `js-${target}-${service}-error`;
    const r = await unary(client, e.method, e.request, metadata(admin, id));
    const got = grpcError(r);
    expect(got.code === e.code, `${got.code}: ${got.message}`);
    expect(got.reasons.includes(e.reason), `reasons ${got.reasons}`);
    expect(got.fields.includes(e.field), `fields ${got.fields}`);
    expect(header(r, "x-request-id") === id, "no x-request-id on the refusal");
    outcomes.set(`${service} error`, got);
  });
  if (spec.refused) {
    await run("role-refused-by-contract", async () => {
      const e = spec.refused;
      const id = `js-${target}-${service}-refused`;
      const r = await unary(client, e.method, e.request, metadata(CONFIG.tokens[e.token], id));
      const got = grpcError(r);
      expect(got.code === e.code, `${got.code}: ${got.message}`);
      expect(got.reasons.includes(e.reason), `reasons ${got.reasons}`);
      expect(header(r, "x-request-id") === id, "no x-request-id on the refusal");
      outcomes.set(`${service} refused`, got);
    });
  }
  const sized = (length, code) => async () => {
    const r = await unary(client, spec.long.method, { [spec.long.field]: "x".repeat(length) }, metadata(admin, "js-long"));
    expect(r.err, "the call succeeded");
    expect(CODE_NAMES[r.err.code] === code, `${CODE_NAMES[r.err.code]}: ${String(r.err.details).slice(0, 200)}`);
    expect(String(r.err.details).length < SHORT, `a message of ${String(r.err.details).length} characters`);
  };
  await run("long-value-64KiB", sized(64 * 1024, "INVALID_ARGUMENT"));
  await run("near-size-limit", sized(LIMIT - 1024, "INVALID_ARGUMENT"));
  await run("over-size-limit", sized(LIMIT + 1024, "RESOURCE_EXHAUSTED"));

  if (service === "reports") {
    await run("deadline", async () => {
      const r = await unary(client, spec.ok.method, spec.ok.request, metadata(admin, "js-deadline"), 1);
      expect(r.err?.code === grpc.status.DEADLINE_EXCEEDED, `${r.err?.code} ${r.err?.details}`);
    });
  } else {
    const w = method(CASES.watch.method);
    const stream = (md, deadlineMs) =>
      client.makeServerStreamRequest(
        `/${CASES.watch.method}`,
        (msg) => Buffer.from(toBinary(w.input, msg)),
        (buf) => fromBinary(w.output, buf),
        fromJson(w.input, CASES.watch.request),
        md,
        { deadline: Date.now() + deadlineMs },
      );
    await run("server-stream-cancelled", async () => {
      const call = stream(metadata(admin, "js-watch", owner), 30000);
      const got = [];
      const end = await new Promise((resolve) => {
        call.on("data", (m) => {
          got.push(m);
          if (got.length === CASES.watch.messages) call.cancel();
        });
        call.on("error", (e) => resolve(e.code));
        call.on("end", () => resolve("end"));
      });
      expect(got.length === CASES.watch.messages, `${got.length} messages, then ${end}`);
      expect(got.every((m) => m.cursor), "a message without a cursor");
      expect(end === grpc.status.CANCELLED, `ended ${end}`);
    });
    await run("deadline", async () => {
      const call = stream(metadata(admin, "js-watch-deadline", owner), 500);
      const end = await new Promise((resolve) => {
        call.on("data", () => {});
        call.on("error", (e) => resolve(e.code));
        call.on("end", () => resolve("end"));
      });
      expect(end === grpc.status.DEADLINE_EXCEEDED, `ended ${end}`);
    });
  }
  client.close();
}

// ---- connect-node over gRPC-Web, through the gateway -------------------

async function grpcWebService(service, spec, direct) {
  const transport = createGrpcWebTransport({
    baseUrl: `http://${CONFIG.gateway}`,
    httpVersion: "1.1",
  });
  const clientOf = (path) => {
    const m = method(path);
    return { call: createClient(m.parent, transport)[m.localName], m };
  };
  const admin = CONFIG.tokens.admin;
  const run = (name, fn) => check("connect-node", "grpc-web", "gateway", service, name, fn);
  const headers = (id, owner) => {
    const h = { authorization: `Bearer ${admin}`, "x-request-id": id, "x-conformance-client": "connect-node" };
    if (owner) h[CASES.watch.owner_header] = owner;
    return h;
  };
  const refusal = async (promise) => {
    try {
      await promise;
    } catch (e) {
      expect(e instanceof ConnectError, `not a ConnectError: ${e}`);
      return e;
    }
    throw new Error("the call succeeded; a refusal was expected");
  };
  const codeName = (e) => CODE_NAMES[e.code];

  await run("unary-same-as-grpc", async () => {
    const { call, m } = clientOf(spec.ok.method);
    let id = null;
    const answer = await call(fromJson(m.input, spec.ok.request), {
      headers: headers("web-ok"),
      onHeader: (h) => {
        id = h.get("x-request-id");
      },
    });
    expect(id === "web-ok", `x-request-id came back as ${id}`);
    const grpcAnswer = direct.get(`${service} ok`);
    expect(grpcAnswer, "no gRPC answer to compare with");
    expect(equals(m.output, answer, grpcAnswer.message), "the gRPC-Web answer differs from gRPC's");
  });
  await run("error-same-as-grpc", async () => {
    const e = spec.error;
    const { call, m } = clientOf(e.method);
    const err = await refusal(call(fromJson(m.input, e.request), { headers: headers("web-error") }));
    const got = {
      code: codeName(err),
      message: err.rawMessage,
      reasons: err.findDetails(registry.getMessage("google.rpc.ErrorInfo")).map((d) => d.reason),
      fields: err
        .findDetails(registry.getMessage("google.rpc.BadRequest"))
        .flatMap((d) => d.fieldViolations.map((v) => v.field)),
    };
    const grpcError = direct.get(`${service} error`);
    expect(JSON.stringify(got) === JSON.stringify(grpcError), `${JSON.stringify(got)} against ${JSON.stringify(grpcError)}`);
    expect(err.metadata.get("x-request-id") === "web-error", "no x-request-id on the refusal");
  });
  const sized = (length, code) => async () => {
    const { call, m } = clientOf(spec.long.method);
    const request = fromJson(m.input, { [spec.long.field]: "x".repeat(length) });
    const err = await refusal(call(request, { headers: headers("web-long") }));
    expect(codeName(err) === code, `${codeName(err)}: ${err.rawMessage.slice(0, 200)}`);
    expect(err.rawMessage.length < SHORT, `a message of ${err.rawMessage.length} characters`);
  };
  await run("long-value-64KiB", sized(64 * 1024, "INVALID_ARGUMENT"));
  await run("near-size-limit", sized(LIMIT - 1024, "INVALID_ARGUMENT"));
  await run("over-size-limit", sized(LIMIT + 1024, "RESOURCE_EXHAUSTED"));
  if (service === "reports") {
    await run("deadline", async () => {
      const { call, m } = clientOf(spec.ok.method);
      const err = await refusal(call(fromJson(m.input, spec.ok.request), { headers: headers("web-deadline"), timeoutMs: 1 }));
      expect(codeName(err) === "DEADLINE_EXCEEDED", `${codeName(err)} ${err.rawMessage}`);
    });
    return;
  }
  const { call: watch, m: w } = clientOf(CASES.watch.method);
  await run("server-stream-cancelled", async () => {
    const abort = new AbortController();
    let got = 0;
    let cursors = true;
    try {
      for await (const message of watch(fromJson(w.input, CASES.watch.request), {
        headers: headers("web-watch", service),
        signal: abort.signal,
      })) {
        got += 1;
        cursors &&= Boolean(message.cursor);
        if (got === CASES.watch.messages) abort.abort();
      }
    } catch (e) {
      // Once the client aborts, how it reports that is its own affair
      // (CANCELED, or the socket it closed itself); before, it is a fault.
      expect(abort.signal.aborted, `ended before the client aborted: ${e}`);
    }
    expect(got === CASES.watch.messages, `${got} messages`);
    expect(cursors, "a message without a cursor");
  });
  await run("deadline", async () => {
    const err = await refusal(
      (async () => {
        for await (const _ of watch(fromJson(w.input, CASES.watch.request), {
          headers: headers("web-watch-deadline", service),
          timeoutMs: 500,
        })) {
          // read on until the deadline
        }
      })(),
    );
    expect(codeName(err) === "DEADLINE_EXCEEDED", `${codeName(err)} ${err.rawMessage}`);
  });
}

async function main() {
  const viaGateway = new Map();
  const direct = new Map();
  for (const [service, spec] of Object.entries(CASES.services)) {
    await grpcService("gateway", CONFIG.gateway, service, spec, viaGateway);
    const compareWith = spec.gateway_only ? viaGateway : direct;
    if (!spec.gateway_only) {
      await grpcService(service, CONFIG.direct[service], service, spec, direct);
      await check("grpc-js", "grpc", "gateway=direct", service, "same-answers", async () => {
        const [g, d] = [viaGateway.get(`${service} ok`), direct.get(`${service} ok`)];
        expect(g && d && equals(g.schema, g.message, d.message), "the answers to the same call differ");
        for (const kind of ["error", "refused"]) {
          const [ge, de] = [viaGateway.get(`${service} ${kind}`), direct.get(`${service} ${kind}`)];
          expect(JSON.stringify(ge) === JSON.stringify(de), `${kind}: ${JSON.stringify(ge)} against ${JSON.stringify(de)}`);
        }
      });
    }
    await grpcWebService(service, spec, compareWith);
  }
  const failed = results.filter(([, f]) => f).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

await main();
