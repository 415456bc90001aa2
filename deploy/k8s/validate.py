#!/usr/bin/env python3
"""Render every kustomization under deploy/k8s and validate what comes out, offline.

  validate.py [--versions 1.30,1.37]

For base/ and each overlays/*/:
  1. render it with render.py (the subset of kustomize the folders use) and, when `kubectl` is
     installed, with `kubectl kustomize` as well: the two must be identical;
  2. validate every manifest against the Kubernetes JSON schemas bundled in the kubernetes-validate
     package (strict: an unknown field such as `replica:` is an error; a kind or apiVersion without
     a schema is an error too), for each Kubernetes version given;
  3. check what the project relies on: the Deployment agrees with the Dockerfile (UID:GID, port),
     probes /healthz and /readyz, has >= 2 replicas, a PodDisruptionBudget, a grace period above
     preStop + shutdown_delay + shutdown_timeout, a read-only root, the "restricted" Pod Security
     Standard, secrets as files mounted where deploy/container/layout.sh mounts them (no subPath, so
     that updates arrive), requests within limits; the Service and PodDisruptionBudget select its
     pods; the Ingress routes to the Service, hashes on a key nginx can read (required unless the
     replicas have the session store, store.url: then they coordinate refreshes through it, and
     affinity is optional), and (in an overlay) serves the host of public_url in the profile that
     BFF_PROFILE names; a store's URL holds no password and its password file is a mounted Secret.
The standalone examples (secret.example.yaml, valkey.example.yaml, ingress-nginx/*.yaml) get
step 2, and the pods they define the "restricted" Pod Security Standard.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

import yaml
import kubernetes_validate
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import render  # noqa: E402

ERRORS = []


def error(where, msg):
    ERRORS.append(f"{where}: {msg}")


def documents_of(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# --------------------------------------------------------------------------- rendering
def kubectl_kustomize(folder):
    out = subprocess.run(["kubectl", "kustomize", folder], capture_output=True, text=True)
    if out.returncode != 0:
        raise render.RenderError(f"kubectl kustomize {folder}: {out.stderr.strip()}")
    return [d for d in yaml.safe_load_all(out.stdout) if d is not None]


def rendered(folder, use_kubectl):
    ours = render.order(render.render(folder))
    if not use_kubectl:
        return ours, "render.py"
    theirs = kubectl_kustomize(folder)
    if theirs != ours:
        import difflib
        diff = difflib.unified_diff(yaml.safe_dump_all(theirs).splitlines(),
                                    yaml.safe_dump_all(ours).splitlines(),
                                    "kubectl kustomize", "render.py", lineterm="", n=2)
        raise render.RenderError("kubectl kustomize and render.py disagree (keep to render.py's "
                                 "subset, or fix it):\n" + "\n".join(diff))
    return theirs, "kubectl kustomize and render.py (identical)"


# --------------------------------------------------------------------------- schemas
def validate_schema(where, doc, versions):
    name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    for version in versions:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except ValidationError as e:
            path = ".".join(str(p) for p in e.path) or "(top)"
            error(where, f"{name} is invalid for Kubernetes {version}: {path}: {e.message}")
        except SchemaNotFoundError as e:
            error(where, f"{name}: {e.message}")


# --------------------------------------------------------------------------- the checks
def image_facts():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "deploy/container/image.py"), "facts",
                          "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"validate.py: the Dockerfile's facts: {out.stderr.strip()}")
    return json.loads(out.stdout)


def layout_secrets_dir():
    with open(os.path.join(ROOT, "deploy/container/layout.sh"), encoding="utf-8") as f:
        m = re.search(r"^SECRETS_DIR=(\S+)$", f.read(), re.M)
    return m.group(1) if m else None


def seconds(text):
    if isinstance(text, (int, float)):
        return text
    m = re.fullmatch(r"\s*(\d+)\s*(ms|s|m|min)?\s*", str(text))
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2) or "s"
    return {"ms": n / 1000, "s": n, "m": n * 60, "min": n * 60}[unit]


def shutdown_defaults():
    """server.shutdown_delay and server.shutdown_timeout as src/config/defaults.rs has them."""
    found = {"shutdown_delay": 5, "shutdown_timeout": 30}  # the documented defaults
    try:
        with open(os.path.join(ROOT, "src/config/defaults.rs"), encoding="utf-8") as f:
            text = f.read()
        for key in found:
            m = re.search(key + r":\s*Duration::from_(secs|millis)\((\d+)\)", text)
            if m:
                found[key] = int(m.group(2)) / (1000 if m.group(1) == "millis" else 1)
    except OSError:
        pass
    return found


def profile(name):
    path = os.path.join(ROOT, "profiles", f"{name}.toml")
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return tomllib.load(f)


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_pod_security(where, spec):
    """The "restricted" Pod Security Standard, as far as this pod can break it."""
    psc = spec.get("securityContext", {})
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            error(where, f"restricted PSS: {field}")
    for volume in spec.get("volumes", []):
        allowed = {"name", "secret", "configMap", "emptyDir", "projected", "downwardAPI",
                   "persistentVolumeClaim", "csi", "ephemeral"}
        if set(volume) - allowed:
            error(where, f"restricted PSS: volume {volume.get('name')} of a forbidden type")
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        sc = c.get("securityContext", {})
        name = f"container {c.get('name')}"
        if not (sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True):
            error(where, f"restricted PSS: {name}: runAsNonRoot must be true")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            error(where, f"restricted PSS: {name}: runAsUser 0")
        if sc.get("allowPrivilegeEscalation") is not False:
            error(where, f"restricted PSS: {name}: allowPrivilegeEscalation must be false")
        if sc.get("privileged"):
            error(where, f"restricted PSS: {name}: privileged")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            error(where, f"restricted PSS: {name}: capabilities must drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            error(where, f"restricted PSS: {name}: adds capabilities {caps.get('add')}")
        seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            error(where, f"restricted PSS: {name}: seccompProfile RuntimeDefault or Localhost")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            error(where, f"restricted PSS: {name}: hostPort")


def check_deployment(where, docs, facts, secrets_dir, overlay):
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    if len(deployments) != 1:
        error(where, f"expected one Deployment, found {len(deployments)}")
        return
    d = deployments[0]
    spec, pod = d["spec"], d["spec"]["template"]["spec"]
    labels = d["spec"]["template"]["metadata"].get("labels", {})
    if not selects(spec["selector"].get("matchLabels"), labels):
        error(where, "the Deployment's selector does not select its own pods")
    if spec.get("replicas", 1) < 2:
        error(where, f"replicas {spec.get('replicas', 1)}: at least 2")
    containers = [c for c in pod["containers"] if c["name"] == "oidc-bff"]
    if len(containers) != 1:
        error(where, "no container named oidc-bff")
        return
    c = containers[0]
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    psc, sc = pod.get("securityContext", {}), c.get("securityContext", {})
    uid, gid = facts["user"]
    if sc.get("runAsUser", psc.get("runAsUser")) != uid or \
            sc.get("runAsGroup", psc.get("runAsGroup")) != gid:
        error(where, f"runAsUser/runAsGroup must be the image's USER {uid}:{gid}")
    if sc.get("readOnlyRootFilesystem") is not True:
        error(where, "readOnlyRootFilesystem must be true (the BFF writes nothing)")
    check_pod_security(where, pod)

    port = facts["expose"][0]
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    if list(ports.values()) != [port]:
        error(where, f"the container must expose exactly the image's port {port}, has {ports}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or ports.get(get.get("port"), get.get("port")) != port:
            error(where, f"{probe} must GET {path} on port {port}")
    annotations = d["spec"]["template"]["metadata"].get("annotations", {})
    if annotations.get("prometheus.io/scrape") == "true" and \
            (annotations.get("prometheus.io/port") != str(port) or
             annotations.get("prometheus.io/path") != "/metrics"):
        error(where, f"prometheus.io/port and path must be {port} and /metrics")

    # Shutdown: the kubelet's grace period covers preStop, the BFF's delay and its drain.
    defaults = shutdown_defaults()
    prof = profile(env.get("BFF_PROFILE")) or {}
    timing = {}
    for key in ("shutdown_delay", "shutdown_timeout"):
        value = env.get(f"BFF_SERVER__{key.upper()}",
                        prof.get("server", {}).get(key, defaults[key]))
        timing[key] = seconds(value)
    pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    needed = pre_stop + timing["shutdown_delay"] + timing["shutdown_timeout"]
    if grace <= needed:
        error(where, f"terminationGracePeriodSeconds {grace} must exceed preStop {pre_stop} s + "
                     f"shutdown_delay {timing['shutdown_delay']} s + shutdown_timeout "
                     f"{timing['shutdown_timeout']} s = {needed} s")

    # Secrets: as files, from a Secret mounted as a whole folder where layout.sh mounts it.
    for plain in ("BFF_SESSION__KEYS", "BFF_OIDC__CLIENT_SECRET", "BFF_OIDC__PRIVATE_KEY"):
        if plain in env:
            error(where, f"{plain} in the environment: use {plain}_FILE and the Secret")
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for var in ("BFF_SESSION__KEYS_FILE", "BFF_OIDC__CLIENT_SECRET_FILE"):
        path = env.get(var)
        if not path:
            error(where, f"{var} is not set")
            continue
        folder = os.path.dirname(path)
        mount = mounts.get(folder)
        if folder != secrets_dir:
            error(where, f"{var}={path}: not under {secrets_dir}, where layout.sh tests it")
        if not mount or "secret" not in volumes.get(mount["name"], {}):
            error(where, f"{var}={path}: {folder} is not a mounted Secret")
        elif mount.get("subPath") or mount.get("readOnly") is not True:
            error(where, f"{folder}: mount the Secret read-only and without subPath (a subPath "
                         "mount never sees the Secret's updates, so keys could not rotate)")

    resources = c.get("resources", {})
    for kind in ("cpu", "memory"):
        req = resources.get("requests", {}).get(kind)
        lim = resources.get("limits", {}).get(kind)
        if req is None or lim is None:
            error(where, f"resources: set requests and limits of {kind}")
        elif quantity(req) > quantity(lim):
            error(where, f"resources: the {kind} request {req} exceeds the limit {lim}")

    # The other resources agree with the Deployment.
    services = [s for s in docs if s["kind"] == "Service"]
    if not any(selects(s["spec"].get("selector"), labels) for s in services):
        error(where, "no Service selects the BFF's pods")
    pdbs = [p for p in docs if p["kind"] == "PodDisruptionBudget"]
    if not any(selects(p["spec"]["selector"].get("matchLabels"), labels) for p in pdbs):
        error(where, "no PodDisruptionBudget selects the BFF's pods")
    for p in pdbs:
        if p["spec"].get("minAvailable", 0) >= spec.get("replicas", 1):
            error(where, "the PodDisruptionBudget's minAvailable blocks every drain")
    store = check_store(where, env, mounts, volumes)
    for ingress in (i for i in docs if i["kind"] == "Ingress"):
        check_ingress(where, ingress, services, env, overlay, store)


def check_store(where, env, mounts, volumes):
    """The session store's URL (from BFF_STORE__URL or the profile), checked; None without one."""
    prof = profile(env.get("BFF_PROFILE")) or {}
    url = env.get("BFF_STORE__URL", prof.get("store", {}).get("url")) or None
    if url is None:
        if env.get("BFF_STORE__PASSWORD_FILE"):
            error(where, "BFF_STORE__PASSWORD_FILE without a store URL (BFF_STORE__URL)")
        return None
    if not re.match(r"^rediss?://[^/@]+(?:/\d*)?$", url) and \
            not re.match(r"^rediss?://[^:/@]+@[^/@]+(?:/\d*)?$", url):
        error(where, f"store URL {url!r}: expected redis://host:port/db or rediss://... (a user "
                     "name may come before @, a password never: it goes in the password file)")
    if "BFF_STORE__PASSWORD" in env:
        error(where, "BFF_STORE__PASSWORD in the environment: use BFF_STORE__PASSWORD_FILE and the "
                     "Secret")
    path = env.get("BFF_STORE__PASSWORD_FILE")
    if path:
        mount = mounts.get(os.path.dirname(path))
        if not mount or "secret" not in volumes.get(mount["name"], {}):
            error(where, f"BFF_STORE__PASSWORD_FILE={path}: its folder is not a mounted Secret")
    return url


def quantity(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?", str(text))
    if not m:
        return float("inf")
    factor = {None: 1, "m": 0.001, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "k": 1e3,
              "M": 1e6, "G": 1e9}[m.group(2)]
    return float(m.group(1)) * factor


def check_ingress(where, ingress, services, env, overlay, store):
    name = f"Ingress/{ingress['metadata']['name']}"
    key = ingress["metadata"].get("annotations", {}).get(
        "nginx.ingress.kubernetes.io/upstream-hash-by")
    if key is None:
        if store is None:
            error(where, f"{name}: no upstream-hash-by: session affinity is missing (it may only "
                         "go when the replicas have the session store, BFF_STORE__URL)")
    else:
        # nginx (and ingress-nginx's Lua balancer) end a variable name at the first character
        # outside [A-Za-z0-9_]: "$cookie___Host-bff" reads the cookie "__Host" plus "-bff".
        for m in re.finditer(r"\$\{?([A-Za-z0-9_]+)\}?([-.][A-Za-z0-9_.-]*)?", key):
            if m.group(1).startswith("cookie_") and m.group(2):
                error(where, f"{name}: upstream-hash-by {key!r}: nginx reads ${m.group(1)} then "
                             f"the text {m.group(2)!r}: every request would hash alike and one "
                             "replica take all the traffic")
    ports = {(s["metadata"]["name"], p.get("name")) for s in services for p in s["spec"]["ports"]}
    ports |= {(s["metadata"]["name"], p["port"]) for s in services for p in s["spec"]["ports"]}
    hosts = set()
    for rule in ingress["spec"].get("rules", []):
        hosts.add(rule.get("host"))
        for path in rule.get("http", {}).get("paths", []):
            svc = path["backend"]["service"]
            port = svc["port"].get("name", svc["port"].get("number"))
            if (svc["name"], port) not in ports:
                error(where, f"{name}: {path['path']} goes to {svc['name']}:{port}, not a Service "
                             "port here")
    for path in ("/api/", "/docs", "/openapi.json", "/openapi.yaml"):
        if not any(p["path"] == path for r in ingress["spec"].get("rules", [])
                   for p in r.get("http", {}).get("paths", [])):
            error(where, f"{name}: no path {path}")
    tls_hosts = {h for t in ingress["spec"].get("tls", []) for h in t.get("hosts", [])}
    if hosts - tls_hosts:
        error(where, f"{name}: hosts without TLS: {sorted(hosts - tls_hosts)} (the __Host- cookie "
                     "needs https)")
    if overlay:
        name_of_profile = env.get("BFF_PROFILE")
        prof = profile(name_of_profile) if name_of_profile else None
        if prof is None or name_of_profile == "dev":
            error(where, f"BFF_PROFILE={name_of_profile!r}: not a shipped stg/prd profile")
            return
        public = prof.get("server", {}).get("public_url", "")
        host = re.sub(r"^https://([^/:]+).*$", r"\1", public)
        if hosts != {host}:
            error(where, f"{name}: hosts {sorted(hosts)} but profiles/{name_of_profile}.toml "
                         f"has public_url {public}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", default="1.30,1.37")
    args = parser.parse_args()
    versions = args.versions.split(",")
    use_kubectl = shutil.which("kubectl") is not None
    facts = image_facts()
    secrets_dir = layout_secrets_dir()
    if not secrets_dir:
        raise SystemExit("validate.py: no SECRETS_DIR= line in deploy/container/layout.sh")

    targets = ["base"] + sorted(os.path.join("overlays", o)
                                for o in os.listdir(os.path.join(HERE, "overlays")))
    for target in targets:
        folder = os.path.join(HERE, target)
        before = len(ERRORS)
        try:
            docs, how = rendered(folder, use_kubectl)
        except render.RenderError as e:
            error(target, str(e))
            continue
        for doc in docs:
            validate_schema(target, doc, versions)
        check_deployment(target, docs, facts, secrets_dir, target != "base")
        kinds = ", ".join(d["kind"] for d in docs)
        verdict = "ok" if len(ERRORS) == before else "FAILED"
        print(f"validate: {target}: {verdict}: {len(docs)} manifests ({kinds}) rendered by {how}, "
              f"schemas of Kubernetes {' and '.join(versions)} (strict)")
    examples = ["secret.example.yaml", "valkey.example.yaml"] + sorted(
        os.path.join("ingress-nginx", f) for f in os.listdir(os.path.join(HERE, "ingress-nginx")))
    for example in examples:
        before = len(ERRORS)
        docs = documents_of(os.path.join(HERE, example))
        pods = 0
        for doc in docs:
            validate_schema(example, doc, versions)
            template = doc.get("spec", {}).get("template", {}).get("spec")
            if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet") and template:
                check_pod_security(f"{example}: {doc['kind']}/{doc['metadata']['name']}", template)
                pods += 1
        print(f"validate: {example}: {'ok' if len(ERRORS) == before else 'FAILED'}: "
              f"{len(docs)} manifest(s), schemas{' and the restricted PSS' if pods else ' only'}")
    for e in dict.fromkeys(ERRORS):
        print(f"validate: ERROR: {e}", file=sys.stderr)
    return 1 if ERRORS else 0


if __name__ == "__main__":
    sys.exit(main())
