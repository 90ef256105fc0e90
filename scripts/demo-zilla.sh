#!/usr/bin/env bash
# The Zilla "MQTT With JWT Guard" guide, run against mqtt-proxy with the guide's
# zilla.yaml exactly as printed (tests/fixtures/zilla/zilla.yaml), changing only the
# key pair: the guide's private key is not ours, so the JWK modulus `n` is replaced
# by the modulus of the TEST-ONLY key in tests/fixtures/jwt (written, like Zilla's,
# in standard base64). Everything else is the guide's: a PKCS#12 keystore at
# tls/localhost.p12 with KEYSTORE_PASSWORD, MOSQUITTO_BROKER_HOST/PORT, ports 7183
# (TCP) and 7883 (TLS), RS256 tokens with kid `example` made like `jwt encode`
# (here by openssl, an independent signer), and mosquitto_sub/mosquitto_pub with
# the token in the user name.
#
#   1. a token without scope mqtt:stream is refused (mqtt-proxy answers CONNACK 5
#      "not authorised"; Zilla closes without one);
#   2. with scope mqtt:stream, mosquitto_sub/mosquitto_pub exchange "Hello, world"
#      on 7183 and on 7883 (TLS, certificate verified);
#   3. the guide's own `--aud https://mqtt.example.com` is refused: its zilla.yaml
#      requires https://api.example.com, and a guard that checks audiences must.
#
# MQTT_PROXY_BIN picks the binary (default: a release build). Exits non-zero and
# says FAIL when a step does not behave.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages mosquitto:mosquitto mosquitto_pub:mosquitto-clients openssl:openssl python3:python3
ensure_memlock
export PATH="/usr/sbin:$PATH"

bin=${MQTT_PROXY_BIN:-}
if [ -z "$bin" ]; then
  ensure_cargo
  cargo build --release --bin mqtt-proxy >&2
  bin=target/release/mqtt-proxy
fi
fixtures=$PWD/tests/fixtures
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2; done; exit 1; }

# The guide's files: zilla.yaml (only `n` changed) and tls/localhost.p12.
key=$fixtures/jwt/TEST-ONLY-rsa-private.pem
n=$(python3 -c 'import base64,sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' \
  "$(openssl rsa -in "$key" -noout -modulus | cut -d= -f2)")
sed "s|^\(          n: \).*|\1$n|" "$fixtures/zilla/zilla.yaml" > "$work/zilla.yaml"
[ "$(diff "$fixtures/zilla/zilla.yaml" "$work/zilla.yaml" | grep -c '^[<>]')" = 2 ] || fail "expected to change one line"
mkdir "$work/tls"
export KEYSTORE_PASSWORD=TEST-ONLY-keystore-password
openssl pkcs12 -export -name localhost -in "$fixtures/tls/TEST-ONLY-localhost.pem" \
  -inkey "$fixtures/tls/TEST-ONLY-localhost.key" -out "$work/tls/localhost.p12" -passout "pass:$KEYSTORE_PASSWORD"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
pids+=($!)
export MOSQUITTO_BROKER_HOST=127.0.0.1 MOSQUITTO_BROKER_PORT=$port

"$bin" --config "$work/zilla.yaml" --cores 1 > "$work/proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  [ "$(grep -c '^ready listener' "$work/proxy.log" || true)" -ge 2 ] && break
  kill -0 "${pids[1]}" 2>/dev/null || fail "the proxy exited"
  sleep 0.05
done
grep -q 'ready listener=north_tcp_server:7883' "$work/proxy.log" || fail "no TLS listener"

# `jwt encode --alg RS256 --kid example --iss ... --aud ... --exp=+1d --no-iat
# [--payload scope=mqtt:stream] --secret @private.pem`, with openssl.
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
jwt_encode() { # aud [scope]
  local header payload exp
  exp=$(( $(date +%s) + 86400 ))
  header=$(printf '{"alg":"RS256","kid":"example","typ":"JWT"}' | b64url)
  payload="{\"iss\":\"https://auth.example.com\",\"aud\":\"$1\",\"exp\":$exp${2:+,\"scope\":\"$2\"}}"
  payload=$(printf '%s' "$payload" | b64url)
  printf '%s.%s.%s' "$header" "$payload" \
    "$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign "$key" -binary | b64url)"
}
AUD=https://api.example.com
CA=$fixtures/tls/TEST-ONLY-ca.pem

echo "1. a token without the mqtt:stream scope"
MQTT_USERNAME="Bearer $(jwt_encode $AUD)"
if mosquitto_sub --url mqtt://localhost:7183/zilla -C 1 -W 5 -u "$MQTT_USERNAME" > "$work/refused.log" 2>&1; then
  fail "a token without mqtt:stream was let in"
fi
grep -qi "not authori" "$work/refused.log" || fail "expected CONNACK not authorised, got: $(cat "$work/refused.log")"
grep -q "reason=missing scope" "$work/proxy.log" || fail "refused, but not for the missing scope"
echo "   refused: $(tr -d '\n' < "$work/refused.log")"

MQTT_USERNAME="Bearer $(jwt_encode $AUD mqtt:stream)"
for url in mqtt://localhost:7183/zilla mqtts://localhost:7883/zilla; do
  extra=()
  [[ $url == mqtts* ]] && extra=(--cafile "$CA")
  echo "2. with mqtt:stream: mosquitto_sub and mosquitto_pub on $url"
  stdbuf -oL mosquitto_sub --url "$url" "${extra[@]}" -C 1 -W 10 -d -u "$MQTT_USERNAME" > "$work/sub.log" 2>&1 &
  sub=$!
  for _ in $(seq 200); do grep -q 'received SUBACK' "$work/sub.log" && break; sleep 0.05; done
  grep -q 'received SUBACK' "$work/sub.log" || fail "the subscriber got no SUBACK"
  mosquitto_pub --url "$url" "${extra[@]}" --message 'Hello, world' -u "$MQTT_USERNAME" || fail "publish refused"
  wait $sub || fail "the subscriber got nothing"
  grep -qx 'Hello, world' "$work/sub.log" || fail "expected Hello, world"
  grep -E 'received CONNACK|^Hello' "$work/sub.log" | sed 's/^/   /'
done

echo "3. the guide's jwt encode --aud https://mqtt.example.com (its zilla.yaml wants $AUD)"
if mosquitto_sub --url mqtt://localhost:7183/zilla -C 1 -W 5 -u "Bearer $(jwt_encode https://mqtt.example.com mqtt:stream)" \
  > "$work/aud.log" 2>&1; then
  fail "a token for another audience was let in"
fi
echo "   refused: $(tr -d '\n' < "$work/aud.log")"
grep -q 'reason=wrong audience' "$work/proxy.log" || fail "refused, but not for the audience"
echo "PASS: the Zilla guide's steps behave with mqtt-proxy"
