#!/usr/bin/env bash
# Instructions per request of the release build, counted by callgrind with
# ../shared/bench/scripts/instructions.sh (the same count on a busy or an idle machine), for
# GET /api/v1/products/{id} and an authenticated POST /api/v1/products, on a fresh copy of a
# database seeded with 20 categories and 10,000 products. With REFERENCE_DIR (a built copy of
# ../shared/bench, see README.md), shared/bench's rust-sqlx server is counted the same way.
# `get` runs with the product cache off (STOREFRONT_CACHE_ENTRIES=0: random ids over the whole
# catalog would mostly miss it anyway); `get-cached` asks for 100 ids, so that after the
# warm-up every GET is a cache hit. `cursor` asks for one page of 20 in the middle of the list
# by its keyset cursor (lists are not cached); the reference, which has no cursors, is counted
# on its offset list at random offsets, as in bench/run.sh.
#
# usage: bench/instructions.sh [BINARY]      (default: builds and uses target/release/storefront)
# env:   N [2000] requests counted per scenario; SCENARIOS ["get get-cached post"]; PORT [18902]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
N=${N:-2000} SCENARIOS=${SCENARIOS:-"get get-cached cursor post"} PORT=${PORT:-18902}
COUNT=$(cd ../shared/bench/scripts && pwd)/instructions.sh
LIMITS="auth=1000000/60s,default=100000000/60s,admin=100000000/60s"
SECRET="bench-secret-bench-secret-bench-secret"
BINARY=${1:-}
if [ -z "$BINARY" ]; then cargo build --release --quiet; BINARY=target/release/storefront; fi
work=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$work"' EXIT

export STOREFRONT_RATE_LIMITS="$LIMITS" STOREFRONT_JWT_SECRET="$SECRET" STOREFRONT_LOG_FORMAT=json \
  STOREFRONT_ACCESS_TOKEN_TTL_SECS=86400
DATABASE_URL="sqlite://$work/seed.db" STOREFRONT_ADMIN_PASSWORD=Bench-Pass-1 \
  "$BINARY" create-admin --username bench --email bench@example.com >/dev/null
DATABASE_URL="sqlite://$work/seed.db" STOREFRONT_BIND="127.0.0.1:$PORT" "$BINARY" >"$work/seed.log" 2>&1 &
PID=$!
wait_ready /readyz
TOKEN=$(login)
SEED_TOKEN=$TOKEN python3 bench/seed.py "http://127.0.0.1:$PORT" 10000 >/dev/null
CURSOR=$(curl -fsS "http://127.0.0.1:$PORT/api/v1/products?limit=20&offset=5000" \
  | python3 -c 'import json, sys, urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["next_cursor"]))')
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""

POST_BODY='{"name":"item {n}","price":"12.34","stock":5,"category_id":3,"tags":["bench"]}'
for scenario in $SCENARIOS; do
  rm -f "$work"/run.db*; cp "$work/seed.db" "$work/run.db"
  export DATABASE_URL="sqlite://$work/run.db" STOREFRONT_BIND="127.0.0.1:$PORT"
  case $scenario in
    get) STOREFRONT_CACHE_ENTRIES=0 PROBE_PATH=/healthz "$COUNT" storefront "$PORT" "$N" GET '/api/v1/products/{id}' \
           -- "$BINARY" ;;
    get-cached) IDS=100 PROBE_PATH=/healthz "$COUNT" storefront-cached "$PORT" "$N" GET '/api/v1/products/{id}' \
           -- "$BINARY" ;;
    cursor) PROBE_PATH=/healthz "$COUNT" storefront "$PORT" "$N" GET "/api/v1/products?limit=20&cursor=$CURSOR" \
           -- "$BINARY" ;;
    post) PROBE_PATH=/healthz "$COUNT" storefront "$PORT" "$N" POST /api/v1/products "$POST_BODY" \
            "Authorization: Bearer $TOKEN" -- "$BINARY" ;;
  esac
  if [ -n "${REFERENCE_DIR:-}" ] && [ "$scenario" != get-cached ]; then
    rm -f "$work"/ref.db*; cp "$REFERENCE_DIR/data/seed.db" "$work/ref.db"
    case $scenario in
      get) MODE=sqlite BENCH_DB="$work/ref.db" PORT=$PORT "$COUNT" rust-sqlx "$PORT" "$N" GET '/api/v1/products/{id}' \
             -- "$REFERENCE_DIR/limit/target/release/bench-limit" ;;
      cursor) IDS=9980 MODE=sqlite BENCH_DB="$work/ref.db" PORT=$PORT PROBE_PATH=/api/v1/products/1 "$COUNT" rust-sqlx \
                "$PORT" "$N" GET '/api/v1/products?limit=20&offset={id}' \
                -- "$REFERENCE_DIR/limit/target/release/bench-limit" ;;
      post) MODE=sqlite BENCH_DB="$work/ref.db" PORT=$PORT PROBE_PATH=/api/v1/products/1 "$COUNT" rust-sqlx "$PORT" "$N" \
              POST /api/v1/products '{"name":"item {n}","price":12.34,"stock":5,"category_id":3}' \
              -- "$REFERENCE_DIR/limit/target/release/bench-limit" ;;
    esac
  fi
done
