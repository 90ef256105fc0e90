#!/usr/bin/env bash
# The proxy side by side with Mosquitto directly and with HAProxy (TCP mode) in
# front of the same Mosquitto, in one run, alternating.
#
# Usage: scripts/bench.sh [SECONDS] [PUBLISHERS] [SIZE] [QOS] [CORES]
#        scripts/bench.sh idle [CONNECTIONS]   memory per idle connection (default 5000)
#        scripts/bench.sh schema [SECONDS] [PUBLISHERS] [SIZE] [QOS] [CORES]
#            the cost of payload validation: JSON payloads through the proxy with and
#            without a JSON Schema rule on their topics (HAProxy's place in the table
#            goes to the validating proxy)
# Defaults: 30 s, 10 publishers, 64-byte payloads, QoS 0, one core for the proxy and
# one thread for HAProxy. One subscriber on all topics. PROXY_FLAGS adds flags to the
# proxy (e.g. PROXY_FLAGS=--no-pin); PROXY_BIN runs another build of it (e.g. an older
# commit's, for a before/after pair measured against the same direct baseline).
#   1. throughput, unlimited rate: direct, proxy, HAProxy, twice;
#   2. latency at half of the direct maximum rate: the percentiles each hop adds.
# Prints each run's JSON, then a table: throughput ratio against direct, added
# latency, and CPU time per delivered message of the proxy and of HAProxy (from
# /proc/<pid>/stat; every message crosses each hop twice: in and out).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages mosquitto:mosquitto haproxy:haproxy
ensure_cargo
ensure_memlock
export PATH="/usr/sbin:$PATH"
mode=throughput
if [ "${1:-}" = idle ]; then mode=idle; conns=${2:-5000}; shift $#; fi
if [ "${1:-}" = schema ]; then mode=schema; shift; fi
secs=${1:-30} pubs=${2:-10} size=${3:-64} qos=${4:-0} cores=${5:-1}

cargo build --release -p mqtt-proxy -p mqtt-loadtest >&2
work=$(mktemp -d)
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
bport=$(free); hport=$(free)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n' "$bport" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
broker=$!
cat > "$work/proxy.yaml" <<YAML
listeners:
  - name: bench
    bind: 127.0.0.1:0
    upstream: broker
upstreams:
  - name: broker
    servers: ["127.0.0.1:$bport"]
YAML
# PROXY_FLAGS: extra flags for the proxy (e.g. --no-pin).
RUST_LOG=warn "${PROXY_BIN:-target/release/mqtt-proxy}" --config "$work/proxy.yaml" --cores "$cores" ${PROXY_FLAGS:-} > "$work/ready" 2> "$work/proxy.log" &
proxy=$!
if [ $mode = schema ]; then
  # The same proxy, validating every bench/# payload against the loadtest's JSON shape.
  cat "$work/proxy.yaml" - > "$work/schema.yaml" <<'YAML'
catalogs:
  - name: bench
    inline:
      payload: |
        {"type": "object", "required": ["t", "p", "s"], "additionalProperties": false,
         "properties": {"t": {"type": "string", "pattern": "^[0-9]{20}$"},
                        "p": {"type": "string", "pattern": "^[0-9]{10}$"},
                        "s": {"type": "string", "pattern": "^[0-9]{20}$"},
                        "pad": {"type": "string"}}}
schemas:
  - filter: bench/#
    content: {model: json, catalog: bench, subject: payload}
YAML
  RUST_LOG=warn "${PROXY_BIN:-target/release/mqtt-proxy}" --config "$work/schema.yaml" --cores "$cores" ${PROXY_FLAGS:-} > "$work/ready2" 2> "$work/proxy2.log" &
  hap=$!
fi
cat > "$work/haproxy.cfg" <<CFG
global
  nbthread $cores
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend mqtt
  bind 127.0.0.1:$hport
  default_backend broker
backend broker
  server mosquitto 127.0.0.1:$bport
CFG
if [ $mode != schema ]; then
  haproxy -db -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 &
  hap=$!
fi
trap 'kill $proxy $hap $broker 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q ready "$work/ready" 2>/dev/null && break; sleep 0.1; done
paddr=$(grep -o 'addr=[^ ]*' "$work/ready" | cut -d= -f2)
haddr="127.0.0.1:$hport"
json=""
if [ $mode = schema ]; then
  for _ in $(seq 100); do grep -q ready "$work/ready2" 2>/dev/null && break; sleep 0.1; done
  haddr=$(grep -o 'addr=[^ ]*' "$work/ready2" | cut -d= -f2)
  json=--json-payload
fi

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

if [ $mode = idle ]; then
  # Each hop holds $conns client connections and as many to the broker. Client
  # addresses are spread over 127.0.0.2-127.0.0.60 so ports never run out.
  printf '%-10s%14s%14s%16s\n' hop "RSS before" "RSS after" "bytes/conn"
  for hop in proxy haproxy; do
    case $hop in proxy) a=$paddr; p=$proxy;; haproxy) a="127.0.0.1:$hport"; p=$hap;; esac
    before=$(rss "$p")
    coproc IDLE { target/release/mqtt-loadtest idle --addr "$a" --connections "$conns" --hold 1 --pause --source-ips 127.0.0.2-127.0.0.60; }
    read -r -u "${IDLE[0]}" _ready
    after=$(rss "$p")
    echo go >&"${IDLE[1]}"
    read -r -u "${IDLE[0]}" result
    wait "$IDLE_PID" 2>/dev/null || true
    printf '%-10s%11s KiB%11s KiB%16s\n' "$hop" "$before" "$after" "$(( (after - before) * 1024 / conns ))"
    echo "$hop $result" >&2
  done
  exit 0
fi
run() { target/release/mqtt-loadtest pubsub --addr "$1" --duration "$secs" --publishers "$pubs" --size "$size" --qos "$qos" $json ${2:+--rate "$2"} 2>/dev/null; }

results=()
measure() { # name addr pid rate
  local c0 c1 r
  c0=$( [ -n "$3" ] && cpu "$3" || echo 0 )
  r=$(run "$2" "$4")
  c1=$( [ -n "$3" ] && cpu "$3" || echo 0 )
  echo "$1 $r" >&2
  results+=("$1|$((c1 - c0))|$r")
}
for round in 1 2; do
  measure direct "127.0.0.1:$bport" "" ""
  measure proxy "$paddr" "$proxy" ""
  measure haproxy "$haddr" "$hap" ""
done
max=$(printf '%s\n' "${results[@]}" | grep '^direct|' | head -1 | sed -E 's/.*"out_msgs_per_s":([0-9]+).*/\1/')
half=$(( max / 2 / pubs ))
for name in direct proxy haproxy; do
  case $name in direct) a="127.0.0.1:$bport"; p="";; proxy) a=$paddr; p=$proxy;; haproxy) a=$haddr; p=$hap;; esac
  measure "$name@half" "$a" "$p" "$half"
done
python3 - "$(getconf CLK_TCK)" "$half" "$cores" "$mode" "${results[@]}" <<'PY'
import json, sys
hz, half, cores, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
third = "validating" if mode == "schema" else "haproxy"
rows = []
for item in sys.argv[5:]:
    name, ticks, js = item.split("|", 2)
    name = name.replace("haproxy", third)
    rows.append((name, int(ticks), json.loads(js)))
direct = [r for n, t, r in rows if n == "direct"]
what = "the validating proxy on as many" if mode == "schema" else f"HAProxy nbthread {cores}"
print(f"\nThroughput (unlimited rate; proxy on {cores} core(s), {what}):")
print(f"{'hop':<10}{'round':>6}{'out msg/s':>12}{'vs direct':>11}{'CPU ns/msg':>12}{'lost':>8}")
seen = {}
for name, ticks, r in rows:
    if "@" in name:
        continue
    seen[name] = seen.get(name, 0) + 1
    d = direct[seen[name] - 1]["out_msgs_per_s"]
    cpu = ticks / hz * 1e9 / max(r["received"], 1) if name != "direct" else float("nan")
    print(f"{name:<10}{seen[name]:>6}{r['out_msgs_per_s']:>12.0f}{r['out_msgs_per_s'] / d:>11.3f}{cpu:>12.0f}{r['lost']:>8}")
print(f"\nLatency at {half} msg/s per publisher (half of direct's maximum), microseconds:")
print(f"{'hop':<10}{'p50':>9}{'p90':>9}{'p99':>9}{'p99.9':>9}{'+p50':>9}{'+p99':>9}{'CPU ns/msg':>12}")
base = next(r for n, t, r in rows if n == "direct@half")["latency_us"]
for name, ticks, r in rows:
    if "@" not in name:
        continue
    l = r["latency_us"]
    cpu = ticks / hz * 1e9 / max(r["received"], 1) if not name.startswith("direct") else float("nan")
    print(f"{name.split('@')[0]:<10}{l['p50']:>9.0f}{l['p90']:>9.0f}{l['p99']:>9.0f}{l['p999']:>9.0f}{l['p50'] - base['p50']:>9.0f}{l['p99'] - base['p99']:>9.0f}{cpu:>12.0f}")
PY
