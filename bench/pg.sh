#!/usr/bin/env bash
# The load scenarios on PostgreSQL, with one server process and then two on the same database:
# GET by id with the product cache on and off, the offset list, a random page by cursor, and
# the admin's POST, at c64 for DURATION [10] s each after 3 s of warm-up, each on a fresh copy
# (CREATE DATABASE … TEMPLATE) of a database seeded through the API with 20 categories and
# 10,000 products. Nothing is pinned: PostgreSQL, the servers and wrk share the machine's cores.
# With two processes, each gets half of the connections from its own wrk, and the table sums
# them. Production settings otherwise, as in bench/run.sh.
#
# usage: bench/pg.sh [BINARY]     (default: builds and uses target/release/storefront)
# env:   PG_URL [postgres://postgres@127.0.0.1:5432] (a role that may create databases)
#        DURATION [10]  CONNS [64]  PROCS ["1 2"]  SCENARIOS ["get get-nocache list cursor post"]  PORT [18180]
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432} DURATION=${DURATION:-10} CONNS=${CONNS:-64}
PROCS=${PROCS:-"1 2"} SCENARIOS=${SCENARIOS:-"get get-nocache list cursor post"} PORT=${PORT:-18180}
SCENARIO_LUA=$(cd ../shared/bench/scripts && pwd)/scenario.lua
export STOREFRONT_RATE_LIMITS="auth=1000000/60s,default=100000000/60s,admin=100000000/60s"
export STOREFRONT_JWT_SECRET="bench-secret-bench-secret-bench-secret" STOREFRONT_LOG_FORMAT=json
BINARY=${1:-}
if [ -z "$BINARY" ]; then cargo build --release --quiet; BINARY=target/release/storefront; fi
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 2; }
work=$(mktemp -d)
PIDS=()
stop() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; PIDS=(); }
trap 'stop; rm -rf "$work"' EXIT
# shellcheck source=bench/common.sh
. bench/common.sh
sql() { psql -q -v ON_ERROR_STOP=1 "$PG_URL/postgres" -c "$1" >/dev/null; }

start() {  # start <port> <database> [env...]: a server, waited for
  local port=$1 db=$2; shift 2
  env DATABASE_URL="$PG_URL/$db" STOREFRONT_BIND="127.0.0.1:$port" "$@" "$BINARY" >>"$work/server-$port.log" 2>&1 &
  PIDS+=($!)
  wait_ready /readyz "$port"
}

load() {  # load <scenario> <port> <connections> <token>: one wrk, its RESULT line
  local scenario=$1 port=$2 conns=$3 token=$4 url="http://127.0.0.1:$2"
  case $scenario in
    post) wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 5s -H "Authorization: Bearer $token" -s bench/post.lua "$url" ;;
    cursor) CURSORS="$work/cursors.txt" wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 5s -s bench/cursor.lua "$url" ;;
    get-nocache) SCENARIO=get wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 5s -s "$SCENARIO_LUA" "$url" ;;
    *) SCENARIO=$scenario wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 5s -s "$SCENARIO_LUA" "$url" ;;
  esac | grep RESULT
}

# Seed once, through the API.
sql "DROP DATABASE IF EXISTS sf_bench_run" && sql "DROP DATABASE IF EXISTS sf_bench_seed" && sql "CREATE DATABASE sf_bench_seed"
DATABASE_URL="$PG_URL/sf_bench_seed" STOREFRONT_ADMIN_PASSWORD=Bench-Pass-1 \
  "$BINARY" create-admin --username bench --email bench@example.com >/dev/null
start "$PORT" sf_bench_seed
SEED_TOKEN=$(login "$PORT") python3 bench/seed.py "http://127.0.0.1:$PORT" 10000 >/dev/null
python3 bench/cursors.py "http://127.0.0.1:$PORT" >"$work/cursors.txt"
stop

printf '| processes | scenario | req/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|\n'
for procs in $PROCS; do
  for scenario in $SCENARIOS; do
    sql "DROP DATABASE IF EXISTS sf_bench_run" && sql "CREATE DATABASE sf_bench_run TEMPLATE sf_bench_seed"
    cache=()
    [ "$scenario" = get-nocache ] && cache=(STOREFRONT_CACHE_ENTRIES=0)
    for i in $(seq 0 $((procs - 1))); do start $((PORT + i)) sf_bench_run "${cache[@]}"; done
    token=$(login "$PORT")
    wrks=()
    for i in $(seq 0 $((procs - 1))); do
      SCENARIO=get wrk -t1 -c16 -d3s -s "$SCENARIO_LUA" "http://127.0.0.1:$((PORT + i))" >/dev/null &
      wrks+=($!)
    done
    for p in "${wrks[@]}"; do wait "$p"; done
    wrks=()
    for i in $(seq 0 $((procs - 1))); do
      load "$scenario" $((PORT + i)) $((CONNS / procs)) "$token" >"$work/result-$i" &
      wrks+=($!)
    done
    for p in "${wrks[@]}"; do wait "$p"; done
    cat "$work"/result-* | python3 -c '
import sys
rows = [dict(kv.split("=") for kv in line.split()[1:]) for line in sys.stdin if line.startswith("RESULT")]
rps = sum(float(r["rps"]) for r in rows)
p50 = max(float(r["p50_ms"]) for r in rows)
p99 = max(float(r["p99_ms"]) for r in rows)
errors = sum(int(r[k]) for r in rows for k in ("err_connect", "err_read", "err_write", "err_timeout", "non2xx3xx"))
print(f"| {sys.argv[1]} | {sys.argv[2]} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {errors} |")' "$procs" "$scenario"
    rm -f "$work"/result-*
    stop
  done
done
sql "DROP DATABASE IF EXISTS sf_bench_run" && sql "DROP DATABASE IF EXISTS sf_bench_seed"
