#!/usr/bin/env bash
# Alternating A/B runs of two configurations of the release build, for a change with a switch
# (an environment variable): A, then B, ROUNDS times, each on a fresh copy of one database
# seeded through the API (20 categories, 10,000 products), server pinned to CPU 1, wrk (1
# thread) to CPU 0, 2 s of warm-up, then DURATION s of one scenario at CONNS connections. On a VM
# whose speed moves from minute to minute, alternating rounds compare two configurations
# where two separate runs cannot. Per round: requests a second, p99, server CPU per request,
# context switches per request (every thread's, from /proc), the most resident memory seen
# during the load (sampled twice a second, as bench/run.sh does) and after it (anonymous, file-backed
# and shared: the binary's code is file-backed), non-2xx answers,
# and the inline reads' counters (`storefront_db_inline_reads_total`). SCENARIO may name several
# scenarios: each round runs them in that order on one server, a row each (memory under POSTs
# after reads, say, as in bench/run.sh's sequence).
#
# usage: A="STOREFRONT_DB_INLINE_READ_US=1000" B="STOREFRONT_DB_INLINE_READ_US=0" SCENARIO=cursor bench/ab.sh
# env:   SCENARIO [cursor] (cursor | get | list | post, or several: "get list cursor post")
#        ROUNDS [3]  DURATION [6]  CONNS [64]  PORT [18080]
#        BIN [target/release/storefront, built if missing]
set -euo pipefail
cd "$(dirname "$0")/.."
A=${A:?set A and B to the two configurations, as VAR=value pairs} B=${B:?set B}
SCENARIO=${SCENARIO:-cursor} ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-6} CONNS=${CONNS:-64} PORT=${PORT:-18080}
BIN=${BIN:-target/release/storefront}
SCENARIO_LUA=$(cd ../shared/bench/scripts && pwd)/scenario.lua
LIMITS="auth=1000000/60s,default=100000000/60s,admin=100000000/60s"
SECRET="bench-secret-bench-secret-bench-secret"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 2; }
[ -x "$BIN" ] || cargo build --release --quiet
# shellcheck source=bench/common.sh
. bench/common.sh
scratch

start() {  # start [VAR=value …]: the server on a fresh copy of the seeded database
  rm -f "$work"/run.db*
  cp "$work/seed.db" "$work/run.db"
  # shellcheck disable=SC2086 # the configuration is a list of VAR=value words
  env "$@" DATABASE_URL="sqlite://$work/run.db" STOREFRONT_BIND="127.0.0.1:$PORT" STOREFRONT_LOG_FORMAT=json \
    STOREFRONT_RATE_LIMITS="$LIMITS" STOREFRONT_JWT_SECRET="$SECRET" taskset -c 1 "$BIN" >"$work/server.log" 2>&1 &
  PID=$!
  wait_ready /readyz
}

# Seed once, through the API.
CURSORS="$work/cursors.txt" seed_products "$work/seed.db"

switches() { cat /proc/"$PID"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s}'; }
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

round() {  # round LABEL CONFIGURATION
  local label=$1 token="" scenario out line requests c0 c1 t0 t1 inline sampler
  # shellcheck disable=SC2086
  start $2
  case " $SCENARIO " in *" post "*) token=$(login) ;; esac
  SCENARIO=get taskset -c 0 wrk -t1 -c16 -d2s -s "$SCENARIO_LUA" "http://127.0.0.1:$PORT" >/dev/null
  for scenario in $SCENARIO; do
    sample_rss "$work/rss"
    sampler=$!
    c0=$(switches); t0=$(cpu)
    case "$scenario" in
      cursor) out=$(CURSORS="$work/cursors.txt" taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s \
        -s bench/cursor.lua "http://127.0.0.1:$PORT") ;;
      post) out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s -H "Authorization: Bearer $token" \
        -s bench/post.lua "http://127.0.0.1:$PORT") ;;
      *) out=$(SCENARIO=$scenario taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s \
        -s "$SCENARIO_LUA" "http://127.0.0.1:$PORT") ;;
    esac
    c1=$(switches); t1=$(cpu)
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    line=$(echo "$out" | grep RESULT)
    field() { echo "$line" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
    requests=$(echo "$line" | sed -n 's/RESULT requests=\([0-9]*\).*/\1/p')
    inline=$(curl -fsS "http://127.0.0.1:$PORT/metrics" | sed -n 's/^storefront_db_inline_reads_total{outcome="\([a-z]*\)"} \(.*\)/\1=\2/p' | tr '\n' ' ')
    printf '| %s | %s | %.0f | %s | %.1f | %.2f | %.1f | %s | %s | %s |\n' "$label" "$scenario" "$(field rps)" "$(field p99_ms)" \
      "$(echo "($t1 - $t0) * 10000 / ($requests + 1)" | bc -l)" "$(echo "($c1 - $c0) / ($requests + 1)" | bc -l)" \
      "$(awk '{print $1 / 1024}' "$work/rss")" "$(awk '/RssAnon/ {a = $2} /RssFile/ {f = $2} /RssShmem/ {m = $2} END {printf "%.1f+%.1f+%.1f", a / 1024, f / 1024, m / 1024}' "/proc/$PID/status")" \
      "$(( $(field non2xx3xx) + $(field err_timeout) ))" "${inline:-}"
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true
  PID=""
}

machine
printf '| config | scenario | req/s | p99 ms | server CPU µs/req | context switches/req | RSS under load MB | RSS after MB (anon+file+shmem) | errors | inline reads |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for _ in $(seq 1 "$ROUNDS"); do
  round A "$A"
  round B "$B"
done
