#!/usr/bin/env bash
# Quick start: a local Mosquitto on 127.0.0.1:1884 and the proxy in front of it on
# 127.0.0.1:1883 (config/quickstart.yaml). Installs Mosquitto if missing. Ctrl-C
# stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages mosquitto:mosquitto mosquitto_pub:mosquitto-clients
ensure_cargo
ensure_memlock
export PATH="/usr/sbin:$PATH"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Debian's package starts its own broker service on 1883 under systemd: the
# quickstart needs that port for the proxy, so stop the service (not disabled).
if port_busy 1883 && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
  echo "stopping the mosquitto system service, which holds port 1883 (systemctl start mosquitto to get it back)" >&2
  systemctl stop mosquitto
fi
for p in 1883 1884; do
  if port_busy "$p"; then
    echo "port $p on 127.0.0.1 is in use; stop what listens there and retry" >&2
    exit 1
  fi
done

work=$(mktemp -d)
cat > "$work/mosquitto.conf" <<CONF
listener 1884 127.0.0.1
allow_anonymous true
persistence false
CONF
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; rm -rf "$work"' EXIT

cargo build --release --bin mqtt-proxy
cat <<TRY

  Mosquitto: 127.0.0.1:1884 (log: $work/mosquitto.log)
  Proxy:     127.0.0.1:1883

  Try, in another terminal:
    mosquitto_sub -h 127.0.0.1 -p 1883 -t 'demo/#' -v
    mosquitto_pub -h 127.0.0.1 -p 1883 -t demo/hello -m 'Hello, world'

TRY
target/release/mqtt-proxy --config config/quickstart.yaml
