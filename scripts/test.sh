#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need
# (mosquitto, mosquitto-clients), then runs format and lint checks and every test
# (unit, codec vectors/property/cross-check, end-to-end against real Mosquitto),
# then runs each fuzz target for 60 s (FUZZ_SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages mosquitto:mosquitto mosquitto_pub:mosquitto-clients mosquitto_sub:mosquitto-clients stdbuf:coreutils openssl:openssl c++:g++ node:nodejs npm:npm python3:python3 haproxy:haproxy systemd-analyze:systemd chromium:chromium prometheus:prometheus redis-server:redis-server ip:iproute2 curl:curl
ensure_cargo
ensure_memlock
export PATH="/usr/sbin:$PATH"   # Debian installs the broker in /usr/sbin

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# Every test binary (benches run once each, in test mode), then one closing line
# that adds up all of them.
log=$(mktemp)
set +e
cargo test --workspace --all-targets --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(awk '/^test result:/ {s += $4} END {print s + 0}' "$log")
failed=$(awk '/^test result:/ {s += $6} END {print s + 0}' "$log")
rm -f "$log"
echo "summary: $passed passed, $failed failed"
[ "$status" -eq 0 ] || exit "$status"

# Each fuzz target for a minute, side by side (FUZZ_SECONDS): the codec, the payload
# validators, the multi-broker session state machine (arbitrary client and
# broker bytes, link losses and time), and what listeners read before MQTT (PROXY
# headers, WebSocket upgrades and frames); any panic fails the run.
scripts/fuzz.sh "${FUZZ_SECONDS:-60}" decode schema session preamble
