# shellcheck shell=bash
# Sourced by the bench scripts: waiting for a server on loopback, logging an account in (by
# default the benchmark's admin the scripts create: bench / Bench-Pass-1).

# scratch: a new temporary directory in $work, removed when the script exits, and with it the
# server the script started last ($PID, if still set).
scratch() {
  work=$(mktemp -d)
  PID=""
  trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$work"' EXIT
}

# wait_ready [PATH] [PORT]: until GET PATH (default /readyz) on PORT (default $PORT) answers 2xx,
# for READY_SECONDS [10]; exits the script if it never does.
wait_ready() {
  local path=${1:-/readyz} port=${2:-$PORT} tries=$((${READY_SECONDS:-10} * 10))
  for _ in $(seq 1 "$tries"); do
    curl -fsS "http://127.0.0.1:$port$path" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "the server on $port did not start" >&2
  exit 1
}

# login [PORT] [USERNAME] [PASSWORD]: an access token for that account (default: the benchmark's
# admin, bench / Bench-Pass-1), from the server on PORT (default $PORT).
login() {
  local body
  body=$(python3 -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' \
    "${2:-bench}" "${3:-Bench-Pass-1}")
  curl -fsS "http://127.0.0.1:${1:-$PORT}/api/v1/auth/login" -H 'content-type: application/json' -d "$body" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# sample_rss FILE: in the background, the most resident memory (VmRSS, kB) process $PID has had
# since the call, sampled twice a second, kept in FILE; the caller kills the sampler ($!) when
# the load is over.
sample_rss() {
  echo 0 >"$1"
  ( max=0; while kill -0 "$PID" 2>/dev/null; do
      kb=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status" 2>/dev/null || echo 0)
      if [ "${kb:-0}" -gt "$max" ]; then max=$kb; echo "$max" >"$1"; fi
      sleep 0.5
    done ) &
}

# seed_products DB: a new database at DB holding the benchmark's admin (bench / Bench-Pass-1) and
# 10,000 products in 20 categories, written through the API (bench/seed.py) by $BIN serving on
# $PORT (with $LIMITS and $SECRET); with CURSORS set, the cursor of every page of 20 goes to that
# file (bench/cursors.py).
seed_products() {
  DATABASE_URL="sqlite://$1" STOREFRONT_ADMIN_PASSWORD=Bench-Pass-1 \
    "$BIN" create-admin --username bench --email bench@example.com >/dev/null
  DATABASE_URL="sqlite://$1" STOREFRONT_BIND="127.0.0.1:$PORT" STOREFRONT_RATE_LIMITS="$LIMITS" \
    STOREFRONT_JWT_SECRET="$SECRET" "$BIN" >"$1.log" 2>&1 &
  PID=$!
  wait_ready /readyz
  SEED_TOKEN=$(login) python3 bench/seed.py "http://127.0.0.1:$PORT" 10000 >/dev/null
  if [ -n "${CURSORS:-}" ]; then python3 bench/cursors.py "http://127.0.0.1:$PORT" >"$CURSORS"; fi
  kill "$PID"; wait "$PID" 2>/dev/null || true
  PID=""
}

# machine: one line naming the CPU and how an idle vCPU waits (the cpuidle driver and, with
# `haltpoll`, guest_halt_poll_ns: 0 halts at once and leaves waking to the host, which moved
# requests a second and the tail by a third on the 2-vCPU KVM guests these figures come from;
# see bench/README.md, "Where the GET tail comes from").
machine() {
  local cpu idle poll
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  idle=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo unknown)
  poll=$(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns 2>/dev/null || echo -)
  echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}; cpuidle $idle, guest_halt_poll_ns $poll"
}
