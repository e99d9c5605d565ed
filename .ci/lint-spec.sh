#!/usr/bin/env bash
# Lints openapi/openapi.yaml with Spectral (spectral:oas + the OWASP API Security ruleset,
# .spectral.yaml) and Redocly CLI (recommended-strict, redocly.yaml). Fails on any finding:
# errors and warnings alike (Spectral --fail-severity=warn; Redocly's strict set makes warnings
# errors). A rule that does not apply is switched off in the ruleset file with its reason.
# The linters are pinned in .ci/lint/package-lock.json and installed there (npm ci) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
LINT=.ci/lint
if [ ! -x "$LINT/node_modules/.bin/spectral" ] || [ ! -x "$LINT/node_modules/.bin/redocly" ] \
  || ! cmp -s "$LINT/package-lock.json" "$LINT/node_modules/.package-lock.json.ci"; then
  command -v npm >/dev/null || { echo "npm is required (Node.js >= 20.19)" >&2; exit 1; }
  npm ci --prefix "$LINT" --no-audit --no-fund --ignore-scripts --loglevel=error
  cp "$LINT/package-lock.json" "$LINT/node_modules/.package-lock.json.ci"
fi
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
echo "--> spectral (.spectral.yaml)"
"$LINT/node_modules/.bin/spectral" lint --ruleset .spectral.yaml --fail-severity=warn \
  --display-only-failures openapi/openapi.yaml
echo "--> redocly (redocly.yaml)"
"$LINT/node_modules/.bin/redocly" lint --config redocly.yaml openapi/openapi.yaml
