"""What the schemas and hadolint cannot see in deploy/: this deployment's own rules, across files.

Run by deploy/lint.sh (with deploy/.venv's Python: PyYAML, dockerfile-parse). Each rule prints
`ok` or `FAIL` with what is wrong; the exit status is 1 when any rule fails.

- Every environment variable the files set for Storefront is one it reads (storefront.example.toml's
  keys, spelled as src/config.rs spells them), so a typo cannot pass silently.
- Dockerfile: multi-stage, the builder is rust:1.95-bookworm with `cargo build --release --locked`,
  no `latest` or untagged image, a non-root numeric USER in the runtime stage, HEALTHCHECK on
  /healthz, EXPOSE 8080, STOREFRONT_BIND=0.0.0.0:8080.
- docker-compose.yml: PostgreSQL 16 with a health check and a data volume; the api waits for it to
  be healthy and has its own health check; the secrets are `${VAR:?…}` from the environment.
- k8s/: probes on /healthz and /readyz, requests and limits, non-root and read-only, the secrets by
  secretKeyRef (no Secret committed), the drain and grace periods under terminationGracePeriodSeconds,
  and the Service selecting the pods.
- kong/kong.yml: the service's host is the upstream, which has two targets and checks /readyz.
"""

import re
import sys
import tomllib
from pathlib import Path

import yaml
from dockerfile_parse import DockerfileParser

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
failures = 0


def check(ok, what):
    global failures
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures += 1


# ---- the variables Storefront reads ------------------------------------------------------------
# storefront.example.toml lists every key (a test keeps it complete), some commented out.
example = (ROOT / "storefront.example.toml").read_text()
keys = set(tomllib.loads(example))
keys |= set(re.findall(r"^# ([a-z_]+) = ", example, re.M))
config_rs = (ROOT / "src/config.rs").read_text() + (ROOT / "src/main.rs").read_text()
known = set(re.findall(r'env = "([A-Z_]+)"', config_rs)) | {"STOREFRONT_ADMIN_PASSWORD"}
expected = {"DATABASE_URL" if k == "database_url" else "STOREFRONT_" + k.upper() for k in keys}
check(expected <= known, f"every key of storefront.example.toml has its variable in src/config.rs ({len(expected)} keys)")


def storefront_vars(names, where):
    names = {n for n in names if n.startswith("STOREFRONT_") or n == "DATABASE_URL"}
    unknown = sorted(names - known)
    check(not unknown, f"{where}: every Storefront variable is one it reads" + (f" (unknown: {unknown})" if unknown else ""))


# ---- Dockerfile ---------------------------------------------------------------------------------
dockerfile = DockerfileParser(str(DEPLOY / "Dockerfile"))
instructions = [(i["instruction"], i["value"]) for i in dockerfile.structure if i["instruction"] != "COMMENT"]
froms = [v.split()[0] for k, v in instructions if k == "FROM"]
check(len(froms) >= 2, "Dockerfile: multi-stage")
check(froms and froms[0] == "rust:1.95-bookworm", "Dockerfile: the builder is rust:1.95-bookworm")
check(
    froms and (froms[-1] == "debian:bookworm-slim" or froms[-1].startswith("gcr.io/distroless/")),
    f"Dockerfile: the runtime image is slim or distroless ({froms[-1] if froms else None})",
)
check(
    all(":" in f and not f.endswith(":latest") for f in froms if f != "scratch"),
    "Dockerfile: every base image has a tag, none `latest`",
)
runs = " ".join(v for k, v in instructions if k == "RUN")
check("cargo build --release --locked" in runs, "Dockerfile: cargo build --release --locked")
last = max(n for n, (k, _) in enumerate(instructions) if k == "FROM")
runtime = instructions[last:]
users = [v for k, v in runtime if k == "USER"]
uid = users[-1].split(":")[0] if users else None
check(uid is not None and uid.isdigit() and uid != "0", f"Dockerfile: the runtime stage runs as a non-root numeric USER ({uid})")
health = [v for k, v in runtime if k == "HEALTHCHECK"]
check(bool(health) and "/healthz" in health[-1], "Dockerfile: HEALTHCHECK on /healthz")
check(any(k == "EXPOSE" and "8080" in v.split() for k, v in runtime), "Dockerfile: EXPOSE 8080")
check(dockerfile.envs.get("STOREFRONT_BIND") == "0.0.0.0:8080", "Dockerfile: STOREFRONT_BIND=0.0.0.0:8080")
storefront_vars(dockerfile.envs, "Dockerfile")

# ---- docker-compose.yml -------------------------------------------------------------------------
compose_text = (DEPLOY / "docker-compose.yml").read_text()
compose = yaml.safe_load(compose_text)
services = compose["services"]
pg, api = services.get("postgres", {}), services.get("api", {})
check(str(pg.get("image", "")).startswith("postgres:16"), "compose: PostgreSQL 16")
check("healthcheck" in pg and "healthcheck" in api, "compose: health checks on postgres and api")
check(
    api.get("depends_on", {}).get("postgres", {}).get("condition") == "service_healthy",
    "compose: api depends on postgres being healthy",
)
volumes = compose.get("volumes", {})
check(
    any(str(v).split(":")[0] in volumes and str(v).endswith("/var/lib/postgresql/data") for v in pg.get("volumes", [])),
    "compose: a named volume for PostgreSQL's data",
)
api_env = api.get("environment", {})
for name in ("STOREFRONT_JWT_SECRET", "DATABASE_URL"):
    check(re.search(r"\$\{[A-Z_]+:\?", str(api_env.get(name, ""))) is not None, f"compose: {name} comes from the environment (${{VAR:?…}})")
check(
    re.search(r"\$\{POSTGRES_PASSWORD:\?", str(pg.get("environment", {}).get("POSTGRES_PASSWORD", ""))) is not None,
    "compose: POSTGRES_PASSWORD comes from the environment",
)
check(all(v not in ("", None) for v in api_env.values()), "compose: no empty Storefront value (an empty variable is an error to it)")
storefront_vars(api_env, "compose")
check(str(api_env.get("STOREFRONT_BIND", "0.0.0.0:8080")).startswith("0.0.0.0:"), "compose: the api listens on all interfaces")

# ---- Kubernetes ---------------------------------------------------------------------------------
docs = [d for f in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)
check("Secret" not in by_kind, "k8s: no Secret committed (its values are created with kubectl)")
(deployment,) = by_kind.get("Deployment", [None])
(configmap,) = by_kind.get("ConfigMap", [None])
(service,) = by_kind.get("Service", [None])
pod = deployment["spec"]["template"]["spec"]
(container,) = pod["containers"]
check(deployment["spec"].get("replicas") == 2, "k8s: 2 replicas")
check(container.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", "k8s: liveness on /healthz")
readiness = container.get("readinessProbe", {})
check(readiness.get("httpGet", {}).get("path") == "/readyz", "k8s: readiness on /readyz")
resources = container.get("resources", {})
check(
    all(k in resources.get(kind, {}) for kind in ("requests", "limits") for k in ("cpu", "memory")),
    "k8s: cpu and memory requests and limits",
)
security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
check(security.get("runAsNonRoot") is True, "k8s: runAsNonRoot")
check(security.get("readOnlyRootFilesystem") is True, "k8s: readOnlyRootFilesystem")
check(str(security.get("runAsUser")) == uid, f"k8s: runAsUser is the image's USER ({uid})")
check(security.get("allowPrivilegeEscalation") is False, "k8s: no privilege escalation")
env = {e["name"]: e for e in container.get("env", [])}
for name in ("DATABASE_URL", "STOREFRONT_JWT_SECRET"):
    check("secretKeyRef" in env.get(name, {}).get("valueFrom", {}), f"k8s: {name} from a Secret reference")
check(all("value" not in e for e in env.values() if e["name"] in ("DATABASE_URL", "STOREFRONT_JWT_SECRET")), "k8s: no secret value inline")
refs = [e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e]
check(configmap is not None and configmap["metadata"]["name"] in refs, "k8s: the ConfigMap is the container's envFrom")
data = configmap["data"] if configmap else {}
storefront_vars(data, "k8s ConfigMap")
storefront_vars(env, "k8s Deployment")
check(not ({"DATABASE_URL", "STOREFRONT_JWT_SECRET"} & set(data)), "k8s: no secret in the ConfigMap")
drain = int(data.get("STOREFRONT_SHUTDOWN_DRAIN_SECS", 0))
grace = int(data.get("STOREFRONT_SHUTDOWN_GRACE_SECS", 10))
check(drain == 10, "k8s: STOREFRONT_SHUTDOWN_DRAIN_SECS=10")
termination = pod.get("terminationGracePeriodSeconds", 30)
check(drain + grace < termination <= drain + grace + 15, f"k8s: terminationGracePeriodSeconds ({termination}) a bit above drain + grace ({drain + grace})")
window = readiness.get("periodSeconds", 10) * readiness.get("failureThreshold", 3)
check(window < drain, f"k8s: the drain ({drain} s) outlasts readiness' period x failures ({window} s)")
check(not str(container["image"]).endswith(":latest") and ":" in container["image"], "k8s: the image has a version tag")
labels = deployment["spec"]["template"]["metadata"]["labels"]
check(all(labels.get(k) == v for k, v in service["spec"]["selector"].items()), "k8s: the Service selects the pods")
port_names = {p.get("name") for p in container.get("ports", [])}
check(all(p["targetPort"] in port_names for p in service["spec"]["ports"]), "k8s: the Service's target ports are the container's")

# ---- Kong -----------------------------------------------------------------------------------------
kong = yaml.safe_load((DEPLOY / "kong/kong.yml").read_text())
upstreams = {u["name"]: u for u in kong.get("upstreams", [])}
(kong_service,) = kong["services"]
upstream = upstreams.get(kong_service.get("host"))
check(upstream is not None, "kong: the service's host is the upstream")
if upstream:
    check(len(upstream.get("targets", [])) == 2, "kong: two Storefront targets")
    check(upstream["healthchecks"]["active"].get("http_path") == "/readyz", "kong: active health checks on /readyz")
routes = kong_service.get("routes", [])
check(any("/api" in r.get("paths", []) and r.get("strip_path") is False for r in routes), "kong: /api routed as is (strip_path false)")
plugins = {p["name"] for p in kong_service.get("plugins", [])}
check({"rate-limiting", "cors"} <= plugins, "kong: rate-limiting and cors plugins shown")

print(f"deploy/check.py: {'all rules pass' if not failures else f'{failures} rule(s) failed'}")
sys.exit(1 if failures else 0)
