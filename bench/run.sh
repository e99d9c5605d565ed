#!/usr/bin/env bash
# Load test of the release build, measured the way ../shared/bench measures its reference
# servers: server pinned to CPU 1, wrk (1 thread) pinned to CPU 0, 3 s of warm-up, then GET by
# id, list (random offset, `total` counted), cursor (a random page by keyset cursor; the
# reference, which has no cursors, runs its offset list there) and POST at c64, on a fresh copy
# of a SQLite database with 20 categories and 10,000 products. Anonymous reads; POSTs as an
# admin. Memory: the most resident memory seen during each scenario ("RSS under load", VmRSS
# sampled twice a second) and the peak since the server started (VmHWM).
#
# usage: bench/run.sh            (from the repository root; needs wrk, curl and python3)
# env:   DURATION [10]  CONNS [64]  REPS [3]  SCENARIOS ["get list cursor post"]  PORT [18080]
#        BIN: a storefront binary to measure (default: target/release/storefront, built first)
#        REFERENCE_DIR: a built copy of ../shared/bench (its limit/ built with
#        `cargo build --release`, its data/seed.db made by scripts/seed.py) to measure its
#        rust-sqlx server in the same run, rep by rep, for ratios that transfer.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10} CONNS=${CONNS:-64} REPS=${REPS:-3} PORT=${PORT:-18080}
SCENARIOS=${SCENARIOS:-"get list cursor post"}
SCENARIO_LUA=$(cd ../shared/bench/scripts && pwd)/scenario.lua
LIMITS="auth=1000000/60s,default=100000000/60s,admin=100000000/60s"
SECRET="bench-secret-bench-secret-bench-secret"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 2; }
[ -n "${BIN:-}" ] || { cargo build --release --quiet; BIN=target/release/storefront; }
# shellcheck source=bench/common.sh
. bench/common.sh
scratch

serve() {  # serve the seeded database (a fresh copy) on $PORT, pinned to CPU 1
  rm -f "$work"/run.db*
  cp "$work/seed.db" "$work/run.db"
  DATABASE_URL="sqlite://$work/run.db" STOREFRONT_BIND="127.0.0.1:$PORT" STOREFRONT_LOG_FORMAT=json \
    STOREFRONT_RATE_LIMITS="$LIMITS" STOREFRONT_JWT_SECRET="$SECRET" \
    taskset -c 1 "$BIN" >"$work/server.log" 2>&1 &
  PID=$!
  wait_ready /readyz
}

serve_reference() {
  rm -f "$work"/ref.db*
  cp "$REFERENCE_DIR/data/seed.db" "$work/ref.db"
  MODE=sqlite BENCH_DB="$work/ref.db" PORT=$PORT taskset -c 1 "$REFERENCE_DIR/limit/target/release/bench-limit" \
    >"$work/ref.log" 2>&1 &
  PID=$!
  wait_ready /api/v1/products/1
}

# Seed once, through the API.
CURSORS="$work/cursors.txt" seed_products "$work/seed.db"

measure() {  # measure <server label> <post token or "">
  local label=$1 token=$2 scenario before after out line requests errors field
  SCENARIO=get taskset -c 0 wrk -t1 -c16 -d3s -s "$SCENARIO_LUA" "http://127.0.0.1:$PORT" >/dev/null
  for scenario in $SCENARIOS; do
    # The most resident memory seen during this scenario's load (sampled twice a second), beside
    # the process's peak since it started (VmHWM: with a login's transient 19 MiB, say).
    sample_rss "$work/rss"
    sampler=$!
    before=$(awk '{print $14+$15}' "/proc/$PID/stat")
    if [ "$scenario" = post ] && [ -n "$token" ]; then
      out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s -H "Authorization: Bearer $token" \
        -s bench/post.lua "http://127.0.0.1:$PORT")
    elif [ "$scenario" = cursor ] && [ -n "$token" ]; then
      out=$(CURSORS="$work/cursors.txt" taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s \
        -s bench/cursor.lua "http://127.0.0.1:$PORT")
    else
      # The reference has no cursors: its offset list stands in for them.
      out=$(SCENARIO=${scenario/cursor/list} taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s \
        -s "$SCENARIO_LUA" "http://127.0.0.1:$PORT")
    fi
    after=$(awk '{print $14+$15}' "/proc/$PID/stat")
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    line=$(echo "$out" | grep RESULT)
    field() { echo "$line" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
    requests=$(echo "$line" | sed -n 's/RESULT requests=\([0-9]*\).*/\1/p')
    errors=$(( $(field err_connect) + $(field err_read) + $(field err_write) + $(field err_timeout) + $(field non2xx3xx) ))
    printf '| %s | %s | %s | %.0f | %s | %s | %s | %s | %.1f | %.1f |\n' "$label" "$scenario" "$rep" "$(field rps)" \
      "$(field p50_ms)" "$(field p99_ms)" "$errors" "$(( (after - before) * 10000 / (requests > 0 ? requests : 1) ))" \
      "$(awk '{print $1 / 1024}' "$work/rss")" "$(awk '/VmHWM/ {print $2 / 1024}' "/proc/$PID/status")"
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true
  PID=""
}

machine
printf '| server | scenario | rep | req/s | p50 ms | p99 ms | errors | server CPU µs/req | RSS under load MB | peak RSS MB |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for rep in $(seq 1 "$REPS"); do
  if [ -n "${REFERENCE_DIR:-}" ]; then
    serve_reference
    measure rust-sqlx ""
  fi
  serve
  measure storefront "$(login)"
done
