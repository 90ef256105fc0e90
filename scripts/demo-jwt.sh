#!/usr/bin/env bash
# The JWT scenario, step by step, with mosquitto_sub / mosquitto_pub:
#   1. a token without scope mqtt:stream is refused;
#   2. tokens with it exchange "Hello, world" on 7183 (TCP) and 7883 (TLS, verified);
#   3. tokens made by an independent tool (PyJWT, when installed; otherwise the
#      PyJWT-made fixtures) are accepted.
# Uses config/jwt.yaml and the TEST-ONLY keys of tests/fixtures. Exits non-zero if
# any step does not behave.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages mosquitto:mosquitto mosquitto_pub:mosquitto-clients
ensure_cargo
ensure_memlock
export PATH="/usr/sbin:$PATH"

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
broker=$!
export MOSQUITTO_BROKER_HOST=127.0.0.1 MOSQUITTO_BROKER_PORT=$port KEYSTORE_PASSWORD=TEST-ONLY-keystore-password
cargo build --release --bin mqtt-proxy >&2
target/release/mqtt-proxy --config config/jwt.yaml > "$work/ready" 2> "$work/proxy.log" &
proxy=$!
trap 'kill $proxy $broker 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ "$(grep -c ready "$work/ready" 2>/dev/null)" -ge 2 ] && break; sleep 0.1; done

tok() { python3 -c "import json,sys; print(json.load(open('tests/fixtures/jwt/TEST-ONLY-tokens.json'))[sys.argv[1]])" "$1"; }
STREAM=$(tok pyjwt-rs256-stream)
NOSCOPE=$(tok pyjwt-rs256-noscope)
CA=tests/fixtures/tls/TEST-ONLY-ca.pem

echo "1. token without mqtt:stream -> refused"
if mosquitto_sub -h localhost -p 7183 -t zilla -C 1 -W 3 -u "Bearer $NOSCOPE" 2>&1; then
  echo "FAIL: the client was let in" >&2; exit 1
fi
echo "   refused, as it should be"

for mode in tcp tls; do
  if [ $mode = tcp ]; then p=7183; extra=(); else p=7883; extra=(--cafile "$CA"); fi
  echo "2. ($mode, port $p) mosquitto_sub -t zilla, then mosquitto_pub 'Hello, world'"
  mosquitto_sub -h localhost -p $p "${extra[@]}" -t zilla -C 1 -W 5 -u "Bearer $STREAM" > "$work/got" &
  sub=$!
  sleep 0.5   # let the subscriber's SUBACK arrive before publishing (demo only)
  mosquitto_pub -h localhost -p $p "${extra[@]}" -t zilla -m 'Hello, world' -u "Bearer $STREAM"
  wait $sub
  echo "   received: $(cat "$work/got")"
  [ "$(cat "$work/got")" = "Hello, world" ] || { echo "FAIL" >&2; exit 1; }
done

echo "3. a token made now by an independent tool"
if python3 -c 'import jwt' 2>/dev/null; then
  FRESH=$(python3 - <<'PY'
import jwt, time
key = open("tests/fixtures/jwt/TEST-ONLY-rsa-private.pem").read()
print(jwt.encode({"iss": "https://auth.example.com", "aud": "https://api.example.com", "sub": "demo",
                  "exp": int(time.time()) + 3600, "scope": "mqtt:stream"}, key, "RS256", headers={"kid": "example"}))
PY
)
  echo "   (PyJWT)"
else
  FRESH=$STREAM
  echo "   (PyJWT not installed: using its fixture token; pip install pyjwt cryptography for a fresh one)"
fi
mosquitto_pub -h localhost -p 7883 --cafile "$CA" -t zilla -m 'from an independent token' -u "Bearer $FRESH"
echo "   accepted"
echo "All steps passed. Proxy log: refusals name their reason only there:"
grep -E "refused: authentication|authenticated" "$work/proxy.log" | sed 's/^/   /' | head -5
