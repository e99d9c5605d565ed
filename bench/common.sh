# Sourced by the bench scripts: waiting for a server on loopback, logging an account in (by
# default the benchmark's admin the scripts create: bench / Bench-Pass-1).

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
