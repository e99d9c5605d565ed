#!/usr/bin/env bash
# Sends a request from the interactive docs as a user would, in Debian's headless Chromium with
# no outside network (.ci/browser/try-it-out.mjs, driven by playwright-core pinned in
# .ci/browser/package-lock.json): /docs lists the operations, and "Try it out" → "Execute" on
# GET /api/v1/products shows a 200 and the page. The contract suite's docs test covers the
# rest (assets from the binary, CSP, no request beyond the server).
#
# usage: .ci/docs-try-it-out.sh [BINARY]   (default target/debug/storefront); env PORT [18184]
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY=${1:-target/debug/storefront} PORT=${DOCS_PORT:-18184}
if [ ! -d .ci/browser/node_modules/playwright-core ] \
  || ! cmp -s .ci/browser/package-lock.json .ci/browser/node_modules/.package-lock.json.ci; then
  command -v npm >/dev/null || { echo "npm is required (Node.js >= 18)" >&2; exit 1; }
  npm ci --prefix .ci/browser --no-audit --no-fund --ignore-scripts --loglevel=error
  cp .ci/browser/package-lock.json .ci/browser/node_modules/.package-lock.json.ci
fi
work=$(mktemp -d)
DATABASE_URL="sqlite://$work/docs.db" STOREFRONT_BIND="127.0.0.1:$PORT" "$BINARY" --demo >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
mkdir -p target/tmp
node .ci/browser/try-it-out.mjs "http://127.0.0.1:$PORT" target/tmp/docs-try-it-out.png
