#!/usr/bin/env python3
"""Checks the rendered overlays, as .ci/run runs it:

    k8s/check.py --bin-dir target/release --dockerfile Dockerfile \
        dev=rendered/dev.yaml prod=rendered/prod.yaml

- custom resources (CloudNativePG) against their CRDs' schemas in k8s/crds/;
- the invariants of the suite's objects: probes, securityContext, resources,
  disruption budgets, autoscalers, NetworkPolicies, headless Services, the
  database, graceful termination;
- that every binary, port, flag and environment variable in the manifests is
  one the release binaries have (their `--help`), and that the Dockerfile
  copies every binary the manifests run.

Needs PyYAML and jsonschema. Exits 1 with every problem listed.
"""

import argparse
import copy
import os
import re
import subprocess
import sys
import urllib.parse

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICES = ["members", "proposals", "consultations", "opinions"]
SUITE = ["gateway"] + SERVICES
# Variables the binaries read without clap (so `--help` does not list them).
NOT_FLAGS = {"RUST_LOG", "OTEL_EXPORTER_OTLP_ENDPOINT"}


class Problems:
    def __init__(self):
        self.items = []

    def check(self, ok, where, message):
        if not ok:
            self.items.append(f"{where}: {message}")
        return ok


# --- custom resources against their CRDs --------------------------------


def structural_to_json_schema(node):
    """A JSON Schema for a Kubernetes structural schema: unknown fields
    refused (as the API server prunes, and `kubectl --validate=strict`
    refuses), int-or-string and nullable spelled out, list-map keys unique.
    CEL rules (x-kubernetes-validations) are not evaluated."""
    if isinstance(node, list):
        return [structural_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {k: structural_to_json_schema(v) for k, v in value.items()}
        elif key in ("default", "example", "enum", "description"):
            out[key] = value
        elif key == "x-kubernetes-list-map-keys" and node.get("x-kubernetes-list-type") == "map":
            out["listMapKeys"] = value
        elif key.startswith("x-kubernetes-") or key == "nullable":
            continue
        else:
            out[key] = structural_to_json_schema(value)
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def unique_list_map_keys(validator, keys, instance, schema):
    if not validator.is_type(instance, "array"):
        return
    seen = {}
    for i, item in enumerate(instance):
        if isinstance(item, dict):
            k = tuple(repr(item.get(name)) for name in keys)
            if k in seen:
                yield jsonschema.ValidationError(
                    f"items {seen[k]} and {i} have the same {', '.join(keys)}"
                )
            seen[k] = i


CrdValidator = jsonschema.validators.extend(
    jsonschema.Draft4Validator, {"listMapKeys": unique_list_map_keys}
)

INT_FORMATS = {"int32": 2**31, "int64": 2**63}
FORMATS = jsonschema.FormatChecker(formats=())
for _name, _bound in INT_FORMATS.items():
    FORMATS.checks(_name)(
        lambda v, b=_bound: not isinstance(v, int) or isinstance(v, bool) or -b <= v < b
    )

OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 253},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def crd_validators():
    table = {}
    crds = os.path.join(HERE, "crds")
    for name in sorted(os.listdir(crds)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(crds, name)) as f:
            for crd in yaml.safe_load_all(f):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                spec = crd["spec"]
                for version in spec["versions"]:
                    if not version.get("served", True):
                        continue
                    api = f"{spec['group']}/{version['name']}"
                    schema = structural_to_json_schema(
                        copy.deepcopy(version["schema"]["openAPIV3Schema"])
                    )
                    schema.setdefault("properties", {}).update(
                        {
                            "apiVersion": {"enum": [api]},
                            "kind": {"enum": [spec["names"]["kind"]]},
                            "metadata": OBJECT_META,
                        }
                    )
                    CrdValidator.check_schema(schema)
                    table[(api, spec["names"]["kind"])] = CrdValidator(
                        schema, format_checker=FORMATS
                    )
    return table


def check_custom_resources(p, overlay, objects, validators):
    checked = 0
    for obj in objects:
        key = (obj.get("apiVersion"), obj.get("kind"))
        if "cnpg.io" not in (key[0] or ""):
            continue
        where = f"{overlay}: {obj['kind']}/{obj['metadata'].get('name')}"
        if not p.check(key in validators, where, f"no CRD in k8s/crds for {key[0]} {key[1]}"):
            continue
        for e in sorted(validators[key].iter_errors(obj), key=lambda e: list(map(str, e.path))):
            path = ".".join(str(x) for x in e.absolute_path) or "(root)"
            p.check(False, where, f"{path}: {e.message}")
        checked += 1
    return checked


# --- the binaries --------------------------------------------------------


class Binary:
    """What a release binary says it takes, from its --help."""

    def __init__(self, path):
        self.path = path
        text = subprocess.run(
            [path, "--help"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
        self.env = set(re.findall(r"\[env: ([A-Z0-9_]+)", text))
        self.flags = set(re.findall(r"(--[a-z0-9-]+)", text))
        self.defaults = dict(
            re.findall(r"\[env: ([A-Z0-9_]+)=?[^\]]*\]\s*\[default: ([^\]]+)\]", text)
        )


def dockerfile_binaries(path):
    with open(path) as f:
        text = f.read()
    return set(re.findall(r"target/release/([a-z0-9-]+)", text))


# --- the objects ---------------------------------------------------------


def by_kind(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def env_of(container, configmaps):
    """Every variable a container gets: (name, value or None for secrets)."""
    out = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref:
            out.update(configmaps.get(ref["name"], {}).get("data", {}))
    for e in container.get("env", []):
        out[e["name"]] = e.get("value")
    return out


def port_of(addr):
    return int(addr.rsplit(":", 1)[1]) if addr and ":" in addr else None


def seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m)", text or "")
    if not m:
        return None
    n = int(m.group(1))
    return {"ms": n / 1000, "s": n, "m": 60 * n}[m.group(2)]


def check_container(p, where, container, pod):
    sc = container.get("securityContext", {})
    pod_sc = pod.get("securityContext", {})
    p.check(sc.get("allowPrivilegeEscalation") is False, where, "allowPrivilegeEscalation must be false")
    p.check(sc.get("readOnlyRootFilesystem") is True, where, "readOnlyRootFilesystem must be true")
    p.check(sc.get("privileged") in (None, False), where, "must not be privileged")
    p.check(
        "ALL" in sc.get("capabilities", {}).get("drop", []), where, "must drop ALL capabilities"
    )
    p.check(
        not sc.get("capabilities", {}).get("add"), where, "must add no capabilities"
    )
    p.check(
        sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where, "must run as non-root"
    )
    resources = container.get("resources", {})
    for kind in ("requests", "limits"):
        for what in ("cpu", "memory"):
            p.check(what in resources.get(kind, {}), where, f"no {what} in resources.{kind}")
    p.check(
        container.get("image", "").split(":")[-1] not in ("", "latest")
        and ":" in container.get("image", ""),
        where,
        f"image {container.get('image')!r} has no fixed tag",
    )


def check_pod(p, where, pod):
    sc = pod.get("securityContext", {})
    p.check(sc.get("runAsNonRoot") is True, where, "pod securityContext.runAsNonRoot must be true")
    p.check(
        sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
        where,
        "pod seccompProfile must be RuntimeDefault",
    )
    p.check(pod.get("automountServiceAccountToken") is False, where, "must not mount a service-account token")
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        p.check(not pod.get(flag), where, f"must not set {flag}")
    for volume in pod.get("volumes", []):
        p.check("hostPath" not in volume, where, f"volume {volume['name']} is a hostPath")


def check_database_tls(p, where, container, pod, configmaps, clusters):
    """The database is reached over TLS with its server certificate checked
    against the Cluster's CA (CloudNativePG's `<cluster>-ca` Secret), mounted
    without the CA's key."""
    url = urllib.parse.urlsplit(env_of(container, configmaps).get("DATABASE_URL") or "")
    query = urllib.parse.parse_qs(url.query)
    host = url.hostname or ""
    cname = host[: -len("-rw")] if host.endswith("-rw") else None
    if not p.check(cname in clusters, where, f"DATABASE_URL's host {host!r} is no Cluster's -rw Service"):
        return
    p.check(
        query.get("sslmode") == ["verify-full"],
        where,
        f"DATABASE_URL must set sslmode=verify-full (has {query.get('sslmode')})",
    )
    root = (query.get("sslrootcert") or [""])[0]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        if root.startswith(mount["mountPath"].rstrip("/") + "/"):
            secret = volumes.get(mount["name"], {}).get("secret", {})
            p.check(
                secret.get("secretName") == f"{cname}-ca",
                where,
                f"sslrootcert {root} is not from Secret {cname}-ca",
            )
            items = secret.get("items")
            p.check(
                items is not None and all(i["key"] == "ca.crt" for i in items),
                where,
                f"the volume with sslrootcert must hold only ca.crt of {cname}-ca, not the CA's key",
            )
            break
    else:
        p.check(False, where, f"sslrootcert {root!r} is on no mounted volume")


def check_overlay(p, overlay, objects, binaries, docker_bins, validators, prod):
    configmaps = by_kind(objects, "ConfigMap")
    deployments = by_kind(objects, "Deployment")
    services = by_kind(objects, "Service")
    policies = by_kind(objects, "NetworkPolicy")
    pdbs = by_kind(objects, "PodDisruptionBudget")
    hpas = by_kind(objects, "HorizontalPodAutoscaler")
    clusters = by_kind(objects, "Cluster")
    common = configmaps.get("cppcc-common", {}).get("data", {})
    drain = (seconds(common.get("CPPCC_SHUTDOWN_DELAY")) or 0) + (
        seconds(common.get("CPPCC_SHUTDOWN_GRACE")) or 0
    )

    p.check(
        check_custom_resources(p, overlay, objects, validators) >= 1,
        overlay,
        "no CloudNativePG resource rendered",
    )
    for obj in objects:
        p.check(
            obj["kind"] == "Namespace" or obj["metadata"].get("namespace"),
            f"{overlay}: {obj['kind']}/{obj['metadata']['name']}",
            "has no namespace",
        )
        if obj["kind"] == "Secret":
            p.check(False, f"{overlay}: Secret/{obj['metadata']['name']}", "secrets are not kept in the manifests")

    # ConfigMaps hold no secret material: key settings name files.
    for name, cm in configmaps.items():
        for key, value in (cm.get("data") or {}).items():
            if re.search(r"(PASSWORD|SECRET|_KEYS?$)", key):
                p.check(
                    str(value).startswith("/") or re.fullmatch(r"(\w+=/[^,]+,?)+", str(value)),
                    f"{overlay}: ConfigMap/{name}",
                    f"{key} must name a mounted file, not hold the secret",
                )

    # Every Deployment, the suite's and the collector: pod and container
    # security, resources, probes.
    for name, d in deployments.items():
        where = f"{overlay}: Deployment/{name}"
        pod = d["spec"]["template"]["spec"]
        check_pod(p, where, pod)
        for c in pod.get("initContainers", []) + pod.get("containers", []):
            check_container(p, f"{where} container {c['name']}", c, pod)
        for c in pod.get("containers", []):
            for probe in ("readinessProbe", "livenessProbe"):
                p.check(probe in c, f"{where} container {c['name']}", f"no {probe}")
        if prod and name not in SUITE:
            p.check(
                any(
                    (pdb["spec"].get("selector", {}).get("matchLabels") or {}).items()
                    <= d["spec"]["selector"]["matchLabels"].items()
                    for pdb in pdbs.values()
                ),
                where,
                "no PodDisruptionBudget selects its pods",
            )

    ports = {}
    for name in SUITE:
        where = f"{overlay}: Deployment/{name}"
        d = deployments.get(name)
        if not p.check(d is not None, overlay, f"no Deployment {name}"):
            continue
        pod = d["spec"]["template"]["spec"]
        grace = pod.get("terminationGracePeriodSeconds", 30)
        p.check(
            grace > drain,
            where,
            f"terminationGracePeriodSeconds {grace} must exceed the drain "
            f"(shutdown delay + grace = {drain}s)",
        )
        replicas = d["spec"].get("replicas", 1)
        if prod:
            p.check(replicas >= 3, where, f"{replicas} replicas; prod runs at least 3")
            affinity = pod.get("affinity", {}).get("podAntiAffinity")
            p.check(bool(affinity), where, "no podAntiAffinity")
            p.check(
                any(
                    (pdb["spec"].get("selector", {}).get("matchLabels") or {}).items()
                    <= d["spec"]["selector"]["matchLabels"].items()
                    and (pdb["spec"].get("maxUnavailable") is not None or pdb["spec"].get("minAvailable") is not None)
                    for pdb in pdbs.values()
                ),
                where,
                "no PodDisruptionBudget selects its pods",
            )
            hpa = hpas.get(name)
            if p.check(hpa is not None, where, "no HorizontalPodAutoscaler"):
                p.check(
                    hpa["spec"]["scaleTargetRef"]["name"] == name
                    and hpa["spec"].get("minReplicas", 1) >= 3,
                    where,
                    "its autoscaler must target it and keep at least 3 replicas",
                )
        else:
            p.check(replicas == 1, where, f"dev runs one replica, not {replicas}")

        containers = pod.get("containers", [])
        p.check(len(containers) == 1, where, "one container")
        main = containers[0]
        binary_name = os.path.basename((main.get("command") or [""])[0])
        p.check(binary_name == f"cppcc-{name}", where, f"runs {binary_name!r}, not cppcc-{name}")
        p.check(binary_name in docker_bins, where, f"the Dockerfile does not copy {binary_name}")
        binary = binaries.get(binary_name)
        if not p.check(binary is not None, where, f"{binary_name} is not in the release build"):
            continue
        for c in pod.get("initContainers", []) + containers:
            cwhere = f"{where} container {c['name']}"
            cbin = os.path.basename((c.get("command") or [""])[0])
            p.check(cbin == binary_name, cwhere, f"runs {cbin!r}")
            for arg in c.get("args", []):
                if arg.startswith("--"):
                    p.check(arg.split("=")[0] in binary.flags, cwhere, f"{binary_name} has no flag {arg}")
            env = env_of(c, configmaps)
            for var, value in env.items():
                if var in NOT_FLAGS or any(f"$({var})" in (v or "") for v in env.values()):
                    continue
                p.check(var in binary.env, cwhere, f"{binary_name} takes no variable {var}")
            for e in c.get("env", []):
                if re.search(r"(PASSWORD|_KEY$|_KEYS$)", e["name"]):
                    p.check(
                        "valueFrom" in e and "secretKeyRef" in e["valueFrom"]
                        or str(e.get("value", "")).startswith("/"),
                        cwhere,
                        f"{e['name']} must come from a Secret",
                    )
        env = env_of(main, configmaps)
        addr_var = f"CPPCC_{name.upper()}_ADDR"
        addr = env.get(addr_var, binary.defaults.get(addr_var))
        port = port_of(addr)
        p.check(port is not None, where, f"no address ({addr_var})")
        ports[name] = port
        container_ports = {cp["containerPort"]: cp.get("name") for cp in main.get("ports", [])}
        p.check(port in container_ports, where, f"serves on {port}, which is not a containerPort")
        probe_port = port
        if name == "gateway":
            admin = port_of(env.get("CPPCC_GATEWAY_ADMIN_ADDR"))
            if p.check(admin is not None, where, "no CPPCC_GATEWAY_ADMIN_ADDR for the probes"):
                p.check(admin in container_ports, where, f"admin port {admin} is not a containerPort")
                probe_port = admin
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            spec = main.get(probe)
            if p.check(spec is not None, where, f"no {probe}"):
                p.check(
                    spec.get("grpc", {}).get("port") == probe_port,
                    where,
                    f"{probe} must be the gRPC health check on {probe_port}",
                )
        if name in SERVICES:
            inits = pod.get("initContainers", [])
            p.check(
                any("--migrate-only" in c.get("args", []) for c in inits),
                where,
                "no init container runs the migrations (--migrate-only)",
            )
            for c in inits:
                p.check(
                    env_of(c, configmaps).get("DATABASE_URL") == env.get("DATABASE_URL"),
                    f"{where} container {c['name']}",
                    "migrates a different database than the service uses",
                )
            p.check("DATABASE_URL" in env, where, "no DATABASE_URL")
            p.check(
                f"//{name}:" in (env.get("DATABASE_URL") or ""),
                where,
                f"connects as another role than {name}",
            )
            for c in [main, *inits]:
                check_database_tls(p, f"{where} container {c['name']}", c, pod, configmaps, clusters)

        svc = services.get(name)
        if p.check(svc is not None, where, f"no Service {name}"):
            spec = svc["spec"]
            if name == "gateway":
                p.check(spec.get("type") == "LoadBalancer", f"{overlay}: Service/gateway", "must be a LoadBalancer")
            else:
                p.check(spec.get("clusterIP") == "None", f"{overlay}: Service/{name}", "must be headless")
                p.check(spec.get("type", "ClusterIP") == "ClusterIP", f"{overlay}: Service/{name}", "must not be exposed")
            p.check(
                {pp["port"] for pp in spec["ports"]} & {port, probe_port} and all(
                    pp["targetPort"] in container_ports.values() or pp["targetPort"] in container_ports
                    for pp in spec["ports"]
                ),
                f"{overlay}: Service/{name}",
                "its ports must be the Deployment's",
            )

    # Only the gateway is exposed.
    for name, svc in services.items():
        if name != "gateway":
            p.check(
                svc["spec"].get("type", "ClusterIP") == "ClusterIP",
                f"{overlay}: Service/{name}",
                "only the gateway is exposed outside the cluster",
            )
    p.check(not by_kind(objects, "Ingress"), overlay, "no Ingress: the gateway's LoadBalancer is the entry")

    # The gateway's routes are the services' headless names and ports.
    routes = (configmaps.get("gateway-config", {}).get("data") or {}).get("CPPCC_GATEWAY_ROUTES", "")
    for name in SERVICES:
        p.check(
            f"cppcc.{name}.v1=http://{name}:{ports.get(name)}" in routes,
            f"{overlay}: ConfigMap/gateway-config",
            f"CPPCC_GATEWAY_ROUTES does not send cppcc.{name}.v1 to {name}:{ports.get(name)}",
        )

    # NetworkPolicies.
    p.check(
        any(
            pol["spec"].get("podSelector") == {}
            and "Ingress" in pol["spec"].get("policyTypes", [])
            and not pol["spec"].get("ingress")
            for pol in policies.values()
        ),
        overlay,
        "no default-deny ingress NetworkPolicy",
    )

    def policies_for(labels):
        return [
            pol
            for pol in policies.values()
            if pol["spec"].get("podSelector", {}).get("matchLabels")
            and pol["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]

    def sources(pol):
        for rule in pol["spec"].get("ingress", []):
            for peer in rule.get("from", [{}]):
                yield peer, {pp["port"] for pp in rule.get("ports", [])}

    for name in SERVICES:
        d = deployments.get(name)
        if not d:
            continue
        labels = d["spec"]["template"]["metadata"]["labels"]
        pols = policies_for(labels)
        where = f"{overlay}: NetworkPolicy for {name}"
        p.check(pols, where, "none selects its pods")
        for pol in pols:
            for peer, peer_ports in sources(pol):
                allowed = (peer.get("podSelector") or {}).get("matchLabels", {}).get(
                    "app.kubernetes.io/component"
                )
                p.check(
                    set(peer) == {"podSelector"} and allowed in ("gateway", "service"),
                    where,
                    f"lets in {peer or 'anyone'}: only the gateway and the services may call",
                )
                p.check(ports.get(name) in peer_ports, where, f"does not open its port {ports.get(name)}")
    for cname, cluster in clusters.items():
        db_labels = {"cnpg.io/cluster": cname}
        pols = policies_for(db_labels)
        where = f"{overlay}: NetworkPolicy for Cluster/{cname}"
        p.check(pols, where, "none selects the database's pods")
        for pol in pols:
            for peer, peer_ports in sources(pol):
                labels = (peer.get("podSelector") or {}).get("matchLabels", {})
                ns = (peer.get("namespaceSelector") or {}).get("matchLabels", {})
                p.check(
                    labels.get("app.kubernetes.io/component") == "service"
                    or labels == db_labels
                    or (ns.get("kubernetes.io/metadata.name") == "cnpg-system" and "podSelector" not in peer),
                    where,
                    f"lets in {peer or 'anyone'}: only the services (and the operator and instances) may",
                )
        spec = cluster["spec"]
        roles = {r["name"]: r for r in spec.get("managed", {}).get("roles", [])}
        sql = " ".join(spec.get("bootstrap", {}).get("initdb", {}).get("postInitApplicationSQL", []))
        for name in SERVICES:
            role = roles.get(name)
            if p.check(role is not None, where, f"no managed role {name}"):
                p.check(
                    role.get("passwordSecret", {}).get("name") == f"{cname}-{name}",
                    where,
                    f"role {name}'s password must be in its own Secret cppcc-db-{name}",
                )
            p.check(
                f"CREATE SCHEMA {name} AUTHORIZATION {name}" in sql,
                where,
                f"the bootstrap does not create schema {name} for role {name}",
            )
        instances = spec.get("instances", 1)
        if not isinstance(instances, int):
            continue  # the CRD check has said so
        if prod:
            p.check(instances >= 3, where, f"{instances} instances; prod runs 3")
            p.check("backup" in spec, where, "no backup configuration")
            p.check(
                any(
                    o["kind"] == "ScheduledBackup" and o["spec"]["cluster"]["name"] == cname
                    for o in objects
                ),
                where,
                "no ScheduledBackup",
            )
        else:
            p.check(instances == 1, where, f"dev runs one instance, not {instances}")


# Each change below breaks one invariant; --self-test checks that each is
# caught (so the checks above can fail), on a copy of the prod rendering.
def _deployment(objs, name):
    return next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == name)


def _env(container, name):
    return next(e for e in container["env"] if e["name"] == name)


def _container(objs, name):
    return _deployment(objs, name)["spec"]["template"]["spec"]["containers"][0]


MUTATIONS = [
    ("no liveness probe", "no livenessProbe", lambda o: _container(o, "members").pop("livenessProbe")),
    ("a probe on the wrong port", "gRPC health check on 9090",
     lambda o: _container(o, "gateway")["readinessProbe"]["grpc"].update(port=50051)),
    ("root allowed", "must run as non-root",
     lambda o: (_container(o, "opinions")["securityContext"].update(runAsNonRoot=False),
                _deployment(o, "opinions")["spec"]["template"]["spec"]["securityContext"].update(runAsNonRoot=False))),
    ("a writable root filesystem", "readOnlyRootFilesystem",
     lambda o: _container(o, "proposals")["securityContext"].update(readOnlyRootFilesystem=False)),
    ("a privileged collector", "must not be privileged",
     lambda o: _container(o, "otel-collector")["securityContext"].update(privileged=True)),
    ("a collector without limits", "no cpu in resources.limits",
     lambda o: _container(o, "otel-collector")["resources"]["limits"].pop("cpu")),
    ("no memory limit", "no memory in resources.limits",
     lambda o: _container(o, "consultations")["resources"]["limits"].pop("memory")),
    ("a PodDisruptionBudget gone", "no PodDisruptionBudget",
     lambda o: o.remove(next(x for x in o if x["kind"] == "PodDisruptionBudget" and x["metadata"]["name"] == "members"))),
    ("two replicas", "prod runs at least 3", lambda o: _deployment(o, "gateway")["spec"].update(replicas=2)),
    ("the default deny gone", "default-deny",
     lambda o: o.remove(next(x for x in o if x["kind"] == "NetworkPolicy" and x["spec"]["podSelector"] == {}))),
    ("a service open to all", "only the gateway and the services may call",
     lambda o: next(x for x in o if x["kind"] == "NetworkPolicy" and x["metadata"]["name"] == "services-ingress")["spec"]["ingress"].append({"ports": [{"port": 50061}]})),
    ("a service exposed", "only the gateway is exposed",
     lambda o: next(x for x in o if x["kind"] == "Service" and x["metadata"]["name"] == "members")["spec"].update(type="LoadBalancer", clusterIP=None)),
    ("a port the binary does not serve", "not a containerPort",
     lambda o: _container(o, "members")["ports"][0].update(containerPort=50099)),
    ("a variable no binary takes", "takes no variable CPPCC_MEMBERS_TYPO",
     lambda o: _container(o, "members").setdefault("env", []).append({"name": "CPPCC_MEMBERS_TYPO", "value": "1"})),
    ("a flag no binary has", "has no flag --migrate-everything",
     lambda o: _deployment(o, "members")["spec"]["template"]["spec"]["initContainers"][0].update(args=["--migrate-everything"])),
    ("a binary not in the image", "cppcc-members2",
     lambda o: _container(o, "members").update(command=["/usr/local/bin/cppcc-members2"])),
    ("a grace period shorter than the drain", "terminationGracePeriodSeconds",
     lambda o: _deployment(o, "gateway")["spec"]["template"]["spec"].update(terminationGracePeriodSeconds=20)),
    ("no migrations", "--migrate-only",
     lambda o: _deployment(o, "opinions")["spec"]["template"]["spec"].pop("initContainers")),
    ("a password in a ConfigMap", "must name a mounted file",
     lambda o: next(x for x in o if x["kind"] == "ConfigMap" and x["metadata"]["name"] == "cppcc-common")["data"].update(CPPCC_PII_KEYS="k1:c2VjcmV0")),
    ("a Cluster field CNPG does not have", "instancez",
     lambda o: next(x for x in o if x["kind"] == "Cluster")["spec"].update(instancez=3)),
    ("a Cluster field of the wrong type", "is not of type 'integer'",
     lambda o: next(x for x in o if x["kind"] == "Cluster")["spec"].update(instances="three")),
    ("one database instance", "prod runs 3",
     lambda o: next(x for x in o if x["kind"] == "Cluster")["spec"].update(instances=1)),
    ("no backups", "no backup configuration",
     lambda o: next(x for x in o if x["kind"] == "Cluster")["spec"].pop("backup")),
    ("a shared database password", "its own Secret",
     lambda o: next(x for x in o if x["kind"] == "Cluster")["spec"]["managed"]["roles"][1]["passwordSecret"].update(name="cppcc-db-members")),
    ("the database without TLS", "sslmode=verify-full",
     lambda o: _env(_container(o, "proposals"), "DATABASE_URL").update(value="postgres://proposals:$(DB_PASSWORD)@cppcc-db-rw:5432/cppcc?sslmode=prefer")),
    ("the database CA not mounted", "on no mounted volume",
     lambda o: _container(o, "members").update(volumeMounts=[m for m in _container(o, "members")["volumeMounts"] if m["name"] != "db-ca"])),
    ("the database CA's key mounted", "not the CA's key",
     lambda o: next(v for v in _deployment(o, "opinions")["spec"]["template"]["spec"]["volumes"] if v["name"] == "db-ca")["secret"].pop("items")),
    ("the database open to the gateway", "only the services",
     lambda o: next(x for x in o if x["kind"] == "NetworkPolicy" and x["metadata"]["name"] == "database-ingress")["spec"]["ingress"][0]["from"].append({"podSelector": {"matchLabels": {"app.kubernetes.io/component": "gateway"}}})),
]


def self_test(objects, binaries, docker_bins, validators):
    failures = []
    for what, expected, mutate in MUTATIONS:
        objs = copy.deepcopy(objects)
        mutate(objs)
        p = Problems()
        check_overlay(p, "prod", objs, binaries, docker_bins, validators, prod=True)
        if not any(expected in item for item in p.items):
            failures.append(f"{what}: not caught (wanted a problem with {expected!r}; got {p.items})")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--dockerfile", required=True)
    parser.add_argument("--self-test", action="store_true", help="also check that broken manifests are caught")
    parser.add_argument("rendered", nargs="+", help="overlay=file.yaml")
    args = parser.parse_args()

    p = Problems()
    docker_bins = dockerfile_binaries(args.dockerfile)
    binaries = {}
    for name in sorted(docker_bins):
        path = os.path.join(args.bin_dir, name)
        if p.check(os.access(path, os.X_OK), "Dockerfile", f"copies {name}, which the release build does not make"):
            binaries[name] = Binary(path)
    validators = crd_validators()
    for item in args.rendered:
        overlay, path = item.split("=", 1)
        with open(path) as f:
            objects = [o for o in yaml.safe_load_all(f) if o]
        check_overlay(p, overlay, objects, binaries, docker_bins, validators, prod=overlay == "prod")
        if args.self_test and overlay == "prod":
            for failure in self_test(objects, binaries, docker_bins, validators):
                p.check(False, "self-test", failure)
    if p.items:
        print(f"k8s/check.py: {len(p.items)} problem(s):")
        for item in p.items:
            print(f"  - {item}")
        return 1
    print(
        f"k8s/check.py: {', '.join(a.split('=')[0] for a in args.rendered)} pass "
        f"(binaries: {', '.join(sorted(binaries))})"
        + (f"; the {len(MUTATIONS)} broken variants of prod are each caught" if args.self_test else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
