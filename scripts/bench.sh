#!/usr/bin/env bash
# Throughput through the proxy vs directly to Mosquitto, measured in one run.
# Usage: scripts/bench.sh [SECONDS] [PUBLISHERS] [SIZE] [QOS] [PROXY_CORES]
# Defaults: 30 s, 10 publishers, 64-byte payloads, QoS 0, 1 proxy core; one
# subscriber on all topics. Runs direct, proxy, direct, proxy and prints each run's
# JSON, then the ratios (proxy / direct) and the proxy's CPU time per message.
# (HAProxy as a third contender comes with the loadtest issue.)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages mosquitto:mosquitto
ensure_cargo
ensure_memlock
export PATH="/usr/sbin:$PATH"
secs=${1:-30} pubs=${2:-10} size=${3:-64} qos=${4:-0} cores=${5:-1}

cargo build --release --bin mqtt-proxy -p mqtt-proxy -p mqtt-loadtest >&2
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
broker=$!
cat > "$work/proxy.yaml" <<YAML
listeners:
  - name: bench
    bind: 127.0.0.1:0
    upstream: broker
upstreams:
  - name: broker
    servers: ["127.0.0.1:$port"]
YAML
RUST_LOG=warn target/release/mqtt-proxy --config "$work/proxy.yaml" --cores "$cores" > "$work/ready" 2> "$work/proxy.log" &
proxy=$!
trap 'kill $proxy $broker 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q ready "$work/ready" 2>/dev/null && break; sleep 0.1; done
paddr=$(grep -o 'addr=[^ ]*' "$work/ready" | cut -d= -f2)

cpu() { awk '{print $14 + $15}' "/proc/$proxy/stat"; }
run() { target/release/mqtt-loadtest pubsub --addr "$1" --duration "$secs" --publishers "$pubs" --size "$size" --qos "$qos" 2>/dev/null; }
field() { sed -E "s/.*\"$2\":([0-9.]+).*/\1/" <<< "$1"; }

declare -a direct proxied ticks
for round in 1 2; do
  d=$(run "127.0.0.1:$port"); echo "direct  $d"; direct+=("$d")
  c0=$(cpu); p=$(run "$paddr"); c1=$(cpu); echo "proxied $p"; proxied+=("$p"); ticks+=($((c1 - c0)))
done
hz=$(getconf CLK_TCK)
python3 - "$hz" "${direct[@]}" "${proxied[@]}" "${ticks[@]}" <<'PY'
import json, sys
hz = int(sys.argv[1]); d = [json.loads(x) for x in sys.argv[2:4]]; p = [json.loads(x) for x in sys.argv[4:6]]
t = [int(x) for x in sys.argv[6:8]]
for i in range(2):
    ratio = p[i]["out_msgs_per_s"] / d[i]["out_msgs_per_s"]
    cpu_ns = t[i] / hz * 1e9 / max(p[i]["received_after_stop"], 1)
    print(f"round {i+1}: direct {d[i]['out_msgs_per_s']:.0f} msg/s, proxied {p[i]['out_msgs_per_s']:.0f} msg/s, "
          f"ratio {ratio:.3f}; proxy CPU {cpu_ns:.0f} ns per message forwarded")
PY
