#!/usr/bin/env bash
# Build everything, start the bundled demo payments API on a free port, and run
# the example journey against it end to end. Extra arguments go to `reqflo run`
# (try -v to see every request and response, with the key redacted).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-wasm-target
cargo build --workspace

# The key the demo API accepts, and the one reqflo's env provider will find
# (the same, unless you set PAYMENTS_API_KEY to something else to see a 401).
export DEMO_API_KEY="${DEMO_API_KEY:-sk_test_demo/KEY+4242=}"
export PAYMENTS_API_KEY="${PAYMENTS_API_KEY:-$DEMO_API_KEY}"
log=$(mktemp)
./target/debug/demo-api --port 0 >"$log" 2>&1 &
api=$!
trap 'kill $api 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do
  grep -q 'listening on' "$log" && break
  sleep 0.1
done
url=$(sed -n 's/.*listening on //p' "$log")
[ -n "$url" ] || { echo "demo API did not start:"; cat "$log"; exit 1; }

./target/debug/reqflo --project examples/payments run payment-flow --env sandbox \
  --var base_url="$url" --no-prompt "$@"
