# Sourced by the bench scripts: waiting for a server on loopback, logging the benchmark's admin
# in (the account they create: bench / Bench-Pass-1).

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

# login [PORT]: the admin's access token, from the server on PORT (default $PORT).
login() {
  curl -fsS "http://127.0.0.1:${1:-$PORT}/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"username":"bench","password":"Bench-Pass-1"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
