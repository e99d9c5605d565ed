#!/usr/bin/env bash
# Regenerates link/hot-functions.txt: the functions a server runs in a usual day (start-up, then
# bench/layout.py's requests and a few seconds of each load scenario), most instructions first,
# as callgrind counted them in a release build. build.rs hands the file to the linker
# (`--symbol-ordering-file`), which places those functions together at the start of `.text`.
#
# Why: the kernel maps a binary's code into a process a page-cache folio at a time (up to 2 MiB,
# depending on how the file was read or written) wherever a function runs, and resident memory
# counts every page so mapped. Scattered through 20 MB of code, the functions that run touch
# most of it; placed together, they touch a few MB. Symbols the file names that a later build no
# longer has are skipped (the linker's warning for them is off), so a stale file costs only
# some locality: regenerate it after large changes, and when the README's memory figures move.
#
# usage: bench/layout.sh [BINARY]   (default: builds and uses target/release/storefront)
# needs: valgrind, wrk, python3, curl
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18907}
LIMITS="auth=1000000/60s,default=100000000/60s,admin=100000000/60s"
SECRET="bench-secret-bench-secret-bench-secret"
BINARY=${1:-}
if [ -z "$BINARY" ]; then cargo build --release --quiet; BINARY=target/release/storefront; fi
BINARY=$(realpath "$BINARY")
work=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$work"' EXIT

# shellcheck source=bench/common.sh
. bench/common.sh

export STOREFRONT_RATE_LIMITS="$LIMITS" STOREFRONT_JWT_SECRET="$SECRET" STOREFRONT_LOG_FORMAT=json \
  STOREFRONT_ACCESS_TOKEN_TTL_SECS=86400 DATABASE_URL="sqlite://$work/run.db" STOREFRONT_BIND="127.0.0.1:$PORT"
STOREFRONT_ADMIN_PASSWORD=Bench-Pass-1 "$BINARY" create-admin --username bench --email bench@example.com >/dev/null
"$BINARY" >"$work/seed.log" 2>&1 &
PID=$!
wait_ready
SEED_TOKEN=$(login) python3 bench/seed.py "http://127.0.0.1:$PORT" 10000 >/dev/null
python3 bench/cursors.py "http://127.0.0.1:$PORT" >"$work/cursors.txt"
kill "$PID"; wait "$PID" 2>/dev/null || true

valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/cg.out" "$BINARY" >"$work/server.log" 2>&1 &
PID=$!
READY_SECONDS=60 wait_ready  # callgrind starts it slowly
TOKEN=$(login)
LAYOUT_TOKEN=$TOKEN python3 bench/layout.py "http://127.0.0.1:$PORT"
SCENARIO=get wrk -t1 -c16 -d3s -s ../shared/bench/scripts/scenario.lua "http://127.0.0.1:$PORT" >/dev/null
SCENARIO=list wrk -t1 -c16 -d3s -s ../shared/bench/scripts/scenario.lua "http://127.0.0.1:$PORT" >/dev/null
CURSORS="$work/cursors.txt" wrk -t1 -c16 -d3s -s bench/cursor.lua "http://127.0.0.1:$PORT" >/dev/null
wrk -t1 -c16 -d3s -H "Authorization: Bearer $TOKEN" -s bench/post.lua "http://127.0.0.1:$PORT" >/dev/null
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
mkdir -p link
python3 bench/layout_order.py "$BINARY" "$work"/cg.out* >link/hot-functions.txt
