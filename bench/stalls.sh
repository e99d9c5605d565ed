#!/usr/bin/env bash
# Where the GET tail comes from. The release build under bench/run.sh's GET load (server pinned to
# CPU 1, wrk with one thread to CPU 0, CONNS connections, random ids of 10,000 products seeded
# through the API), with every context switch on both CPUs recorded (`perf record -e
# sched:sched_switch`) and the JSON access log kept. bench/stalls.py then lists the longest
# pauses between two consecutive answers of the server and what each CPU ran during each one:
# the server, wrk, another process, or nothing (idle). A pause with the server's CPU busy with the
# server is the server's own; one where another process held a CPU is the machine's; one where
# both CPUs sat idle with requests in flight is a halted vCPU waking late (see bench/README.md).
#
# usage: bench/stalls.sh          (root, or perf_event_paranoid ≤ -1: perf traces every CPU)
# env:   DURATION [10]  CONNS [64]  TOP [20]  PORT [18080]  BIN [target/release/storefront, built if missing]
#        SAMPLE_HZ [0]: also sample what each CPU runs this many times a second (`perf -e
#        cpu-clock`), and name the functions the server was in during each pause (1000–4000
#        shows a pause of a millisecond or more; sampling costs the server some throughput)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10} CONNS=${CONNS:-64} TOP=${TOP:-20} PORT=${PORT:-18080} SAMPLE_HZ=${SAMPLE_HZ:-0}
BIN=${BIN:-target/release/storefront}
SCENARIO_LUA=$(cd ../shared/bench/scripts && pwd)/scenario.lua
LIMITS="auth=1000000/60s,default=100000000/60s,admin=100000000/60s"
SECRET="bench-secret-bench-secret-bench-secret"
for tool in wrk perf; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
done
[ -x "$BIN" ] || cargo build --release --quiet
# shellcheck source=bench/common.sh
. bench/common.sh
scratch

machine
seed_products "$work/run.db"
DATABASE_URL="sqlite://$work/run.db" STOREFRONT_BIND="127.0.0.1:$PORT" STOREFRONT_LOG_FORMAT=json \
  STOREFRONT_RATE_LIMITS="$LIMITS" STOREFRONT_JWT_SECRET="$SECRET" taskset -c 1 "$BIN" >"$work/server.log" 2>&1 &
PID=$!
wait_ready /readyz
SCENARIO=get taskset -c 0 wrk -t1 -c16 -d2s -s "$SCENARIO_LUA" "http://127.0.0.1:$PORT" >/dev/null
# A buffer (64 MiB a CPU) that holds the whole run's switches, so that perf does not stop to write
# them out during the load (it would take the CPU from the server or wrk for ~7 ms each time).
events=(-e sched:sched_switch)
if [ "$SAMPLE_HZ" -gt 0 ]; then events+=(-e cpu-clock -c $((1000000000 / SAMPLE_HZ))); fi
perf record -q -k mono "${events[@]}" -m 16384 -a -o "$work/perf.data" -- sleep $((DURATION + 2)) \
  >/dev/null 2>&1 &
recorder=$!
sleep 0.5 # perf's start takes CPU time of its own; the load starts after it
# perf's timestamps are CLOCK_MONOTONIC, the log's wall-clock time: their difference, and the
# load's start (answers before it, the warm-up's last ones, flushed late, are left out).
read -r offset from < <(python3 -c 'import time; m = time.monotonic(); print(time.time() - m, m)')
SCENARIO=get taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s -s "$SCENARIO_LUA" \
  "http://127.0.0.1:$PORT" | grep RESULT
wait "$recorder"
server_threads=$(cd "/proc/$PID/task" && printf "%s," *)
perf script -i "$work/perf.data" 2>/dev/null >"$work/switches.txt"
python3 bench/stalls.py --log "$work/server.log" --switches "$work/switches.txt" --offset "$offset" \
  --from "$from" --duration "$DURATION" --server-threads "$server_threads" --top "$TOP"
