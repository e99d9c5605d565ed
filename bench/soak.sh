#!/usr/bin/env bash
# Soak test: starts Storefront on a fresh SQLite database seeded with 20 categories and 1,000
# products, then runs bench/soak.py against it — a fixed rate of mixed reads and writes — and
# fails when a request failed, resident memory or open descriptors grew, or a pool went past
# its bounds. CI runs a short one (SECONDS_=30); the README's figures come from 10 minutes.
#
# usage: bench/soak.sh [BINARY]     (default: target/release/storefront, built if missing)
# env:   SOAK_SECONDS [600]  SOAK_RATE [200]  PORT [18903]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
SOAK_SECONDS=${SOAK_SECONDS:-600} SOAK_RATE=${SOAK_RATE:-200} PORT=${PORT:-18903}
BINARY=${1:-target/release/storefront}
[ -x "$BINARY" ] || cargo build --release --quiet
work=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$work"' EXIT

export STOREFRONT_RATE_LIMITS="auth=1000/60s,default=100000000/60s,admin=100000000/60s" \
  STOREFRONT_JWT_SECRET="soak-secret-soak-secret-soak-secret-00" STOREFRONT_LOG_FORMAT=json \
  STOREFRONT_ACCESS_TOKEN_TTL_SECS=86400 DATABASE_URL="sqlite://$work/soak.db"
STOREFRONT_ADMIN_PASSWORD=Soak-Pass-1 "$BINARY" create-admin --username soak --email soak@example.com >/dev/null
STOREFRONT_BIND="127.0.0.1:$PORT" "$BINARY" >"$work/server.log" 2>&1 &
PID=$!
wait_ready /readyz
TOKEN=$(login "$PORT" soak Soak-Pass-1)
SEED_TOKEN=$TOKEN python3 bench/seed.py "http://127.0.0.1:$PORT" 1000 >/dev/null
SOAK_TOKEN=$TOKEN python3 bench/soak.py "http://127.0.0.1:$PORT" "$PID" \
  --seconds "$SOAK_SECONDS" --rate "$SOAK_RATE" --products 1000
if grep -q '"level":"ERRO"' "$work/server.log"; then
  echo "the server logged errors during the soak:" >&2
  grep '"level":"ERRO"' "$work/server.log" | head -20 >&2
  exit 1
fi
