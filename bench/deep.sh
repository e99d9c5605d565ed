#!/usr/bin/env bash
# Keyset pagination at depth: a catalog of NPRODUCTS [1,000,000] products (written straight into
# a migrated SQLite file), the product list walked page by page by cursor (limit=20) to its
# last page, then three pages each timed under wrk (1 connection, DURATION [5] s, server pinned
# to CPU 1, wrk to CPU 0): the first (no parameters: an offset page, so it counts `total` over
# the whole catalog), the second (the first page reached by cursor) and the deepest. A keyset
# page seeks its index: the deepest page should cost what the second one does.
#
# usage: bench/deep.sh [BINARY]        (default: builds and uses target/release/storefront)
# env:   NPRODUCTS [1000000]  DURATION [5]  PORT [18085]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
NPRODUCTS=${NPRODUCTS:-1000000} DURATION=${DURATION:-5} PORT=${PORT:-18085}
BINARY=${1:-}
if [ -z "$BINARY" ]; then cargo build --release --quiet; BINARY=target/release/storefront; fi
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 2; }
work=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$work"' EXIT
export DATABASE_URL="sqlite://$work/deep.db" STOREFRONT_BIND="127.0.0.1:$PORT" STOREFRONT_LOG_FORMAT=json \
  STOREFRONT_RATE_LIMITS="default=1000000000/60s" STOREFRONT_JWT_SECRET="bench-secret-bench-secret-bench-secret"
"$BINARY" migrate >/dev/null
python3 - "$work/deep.db" "$NPRODUCTS" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO categories (name, name_key, created_at, updated_at) VALUES ('Deep', 'deep', 0, 0)")
db.execute(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
    "INSERT INTO products (name, name_key, description, price_cents, stock, category_id, created_at, updated_at) "
    "SELECT 'product ' || i, 'product ' || i, 'a product', 100 + i % 10000, i % 50, 1, i, i FROM n",
    (int(sys.argv[2]),))
db.commit()
PY
taskset -c 1 "$BINARY" >"$work/server.log" 2>&1 &
PID=$!
wait_ready /readyz
# Walk to the last page; print the cursors of the second and the deepest page, and how many
# pages there were.
read -r SECOND DEEP PAGES < <(python3 - "$PORT" <<'PY'
import http.client, json, sys, urllib.parse
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
path, cursors = "/api/v1/products?limit=20", []
while True:
    conn.request("GET", path)
    page = json.loads(conn.getresponse().read())
    if not page.get("next_cursor"):
        break
    cursors.append(urllib.parse.quote(page["next_cursor"]))
    path = "/api/v1/products?limit=20&cursor=" + cursors[-1]
print(cursors[0], cursors[-1], len(cursors) + 1)
PY
)
first_id=$(curl -fsS "http://127.0.0.1:$PORT/api/v1/products?limit=20" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
deep_id=$(curl -fsS "http://127.0.0.1:$PORT/api/v1/products?limit=20&cursor=$DEEP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
echo "catalog: $NPRODUCTS products, $PAGES pages of 20; first page starts at id $first_id, the deepest at id $deep_id"
printf '| page | req/s | p50 ms | p99 ms |\n|---|---|---|---|\n'
for which in first second deep; do
  url="http://127.0.0.1:$PORT/api/v1/products?limit=20"
  [ "$which" = second ] && url="$url&cursor=$SECOND"
  [ "$which" = deep ] && url="$url&cursor=$DEEP"
  taskset -c 0 wrk -t1 -c1 -d1s "$url" >/dev/null
  out=$(taskset -c 0 wrk -t1 -c1 -d"${DURATION}s" --latency "$url")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  echo "| $which | $rps | $p50 | $p99 |"
done
