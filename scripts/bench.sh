#!/usr/bin/env bash
# The proxy side by side with Mosquitto directly and with HAProxy (TCP mode) in
# front of the same Mosquitto, in one run, alternating, the hop under test pinned to
# a CPU of its own.
#
# Usage: scripts/bench.sh [SECONDS] [PUBLISHERS] [SIZE] [QOS] [CORES]
#            throughput (unlimited rate) and latency (at half of direct's maximum):
#            ROUNDS alternating rounds of direct, proxy, HAProxy each, then one more
#            round of each hop under `perf stat`; medians and ratios at the end
#        scripts/bench.sh idle [CONNECTIONS ...]   memory per idle connection (default 5000),
#            and the hop's CPU while they are held IDLE_HOLD seconds (default 10) with
#            keep alive IDLE_KEEP_ALIVE (default 30: a PINGREQ every 15 s; 0: silent)
#        scripts/bench.sh connect [COUNT]          CONNECT/s: direct, proxy without a guard,
#            proxy with RS256 JWTs (one token for all, and a new token per connection)
#        scripts/bench.sh profile [SECONDS]        `perf record` of the proxy under the flood:
#            top symbols, kernel vs user share
#        scripts/bench.sh profile connect [COUNT]  the same under a storm of CONNECTs with a
#            new RS256 token each, plus the share of the signature arithmetic
#        scripts/bench.sh goals [SECONDS]          every goal from one run: the throughput and
#            latency rounds, connect, idle (GOALS_IDLE, default 5000 9500) and scale
#            (GOALS_SCALE=0 skips it), each printing its own tables, then one table of
#            the goals as ratios to the baselines of the same run, met or not
#        scripts/bench.sh scale [SECONDS]          CPU per message and memory per connection
#            from 1k to 9.5k connections (SCALE_CONNS) on 1 and 2 cores (SCALE_CORES);
#            writes the table and SCALE_REPORT (default bench-scale.html, via
#            `mqtt-loadtest plot`). With SCALE_CORES=1 the proxy is pinned to a CPU of
#            its own, as in the throughput bench; otherwise nothing is pinned
#        scripts/bench.sh tail [SECONDS]           the latency tail against the load CPU's
#            headroom: direct, proxy and HAProxy at TAIL_LOADS percent (default 30 40 50)
#            of direct's maximum, with the idle share of the broker's and load
#            generator's CPU in every second of every run
#        scripts/bench.sh schema [SECONDS] [PUBLISHERS] [SIZE] [QOS] [CORES]
#            the cost of payload validation: JSON payloads through the proxy with and
#            without a JSON Schema rule on their topics (HAProxy's place in the table
#            goes to the validating proxy)
# Defaults: 10 s, 10 publishers, 64-byte payloads, QoS 0, one core for the proxy and
# one thread for HAProxy. One subscriber on all topics.
# Environment:
#   ROUNDS=5        alternating rounds per figure (the median is reported)
#   HOP_CPUS=LIST   the CPUs of the hop under test (default: the last CORES CPUs); the
#                   broker and the load generator get the others (taskset). When no CPU
#                   is left for them, nothing is pinned and the table says so.
#   PROXY_FLAGS     extra flags for the proxy; PROXY_BIN another build of it (e.g. an
#                   older commit's, for a before/after pair against the same baseline)
#   BENCH_JSON=F    also write every measurement as JSON lines to F
# CPU per delivered message comes from /proc/<pid>/stat (user + system time); every
# message crosses a hop twice (in and out). `perf stat` (software counters: this
# machine's VM exposes no hardware counters) adds context switches, syscalls and
# io_uring submissions per message.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages mosquitto:mosquitto haproxy:haproxy perf:linux-perf
ensure_cargo
ensure_memlock
export PATH="/usr/sbin:$PATH"
mode=throughput
case "${1:-}" in idle | connect | profile | scale | schema | tail | goals) mode=$1; shift ;; esac
if [ $mode = idle ]; then conns=("${@:-5000}"); set --; fi
if [ $mode = connect ]; then count=${1:-20000}; set --; fi
pload=flood
if [ $mode = profile ] && [ "${1:-}" = connect ]; then pload=connect; count=${2:-20000}; set --; fi
secs=${1:-10} pubs=${2:-10} size=${3:-64} qos=${4:-0} cores=${5:-1}
rounds=${ROUNDS:-5}

cargo build --release -p mqtt-proxy -p mqtt-loadtest >&2
proxy_bin=${PROXY_BIN:-target/release/mqtt-proxy}
lt=target/release/mqtt-loadtest
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# CPU placement: the hop on its own CPUs, everything else on the rest.
ncpu=$(nproc)
if [ -n "${HOP_CPUS:-}" ]; then hop_cpus=$HOP_CPUS; else hop_cpus=$(seq -s, $((ncpu - cores)) $((ncpu - 1))); fi
load_cpus=$(python3 - "$ncpu" "$hop_cpus" <<'PY'
import sys
n, hop = int(sys.argv[1]), set()
for part in sys.argv[2].split(","):
    a, _, b = part.partition("-")
    hop.update(range(int(a), int(b or a) + 1))
print(",".join(str(c) for c in range(n) if c not in hop))
PY
)
if [ -n "$load_cpus" ] && { [ $mode != scale ] || [ "${SCALE_CORES:-1 2}" = 1 ]; }; then
  load_pin=(taskset -c "$load_cpus")
  hop_pin=(taskset -c "$hop_cpus")
  proxy_place=(--cpus "$hop_cpus")
  placement="hop on CPU $hop_cpus, broker and load generator on CPU $load_cpus"
else
  load_pin=()
  hop_pin=()
  proxy_place=(--cores "$cores")
  placement="not pinned: no CPU left for the broker and the load generator"
fi
echo "placement: $placement" >&2

if [ $mode = goals ]; then
  # Every goal of the hop from one run: the flood and the half load, the CONNECT
  # rates, memory per idle connection and the scale points, each by its own mode of
  # this script (each prints its own tables, with every round), then the goals as
  # ratios against the baselines measured in the same run.
  g=$work/goals
  mkdir -p "$g"
  BENCH_JSON=$g/throughput.jsonl scripts/bench.sh "$secs" "$pubs" "$size" "$qos" "$cores"
  BENCH_JSON=$g/connect.jsonl scripts/bench.sh connect "${GOALS_CONNECTS:-10000}"
  # shellcheck disable=SC2086 # a list of counts
  BENCH_JSON=$g/idle.jsonl scripts/bench.sh idle ${GOALS_IDLE:-5000 9500}
  if [ "${GOALS_SCALE:-1}" != 0 ]; then scripts/bench.sh scale 8; fi
  python3 scripts/bench_summary.py goals "$(getconf CLK_TCK)" "$placement" "$g"
  exit 0
fi

bport=$(free); hport=$(free)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\nmax_keepalive 65535\n' "$bport" > "$work/mosquitto.conf"
"${load_pin[@]}" mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
broker=$!; pids+=($broker)

# start_proxy NAME CONFIG [FLAGS...]: runs a proxy, waits for it, sets $paddr and $ppid.
start_proxy() {
  local name=$1 cfg=$2; shift 2
  RUST_LOG=warn "$proxy_bin" --config "$cfg" "$@" ${PROXY_FLAGS:-} > "$work/$name.ready" 2> "$work/$name.log" &
  ppid=$!; pids+=($ppid)
  for _ in $(seq 200); do grep -q ready "$work/$name.ready" 2>/dev/null && break; sleep 0.05; done
  paddr=$(grep -o 'addr=[^ ]*' "$work/$name.ready" | head -1 | cut -d= -f2)
  [ -n "$paddr" ] || { cat "$work/$name.log" >&2; exit 1; }
}
cat > "$work/proxy.yaml" <<YAML
listeners:
  - name: bench
    bind: 127.0.0.1:0
    upstream: broker
upstreams:
  - name: broker
    servers: ["127.0.0.1:$bport"]
YAML
# The same with a guard that checks RS256 JWTs against the TEST-ONLY key.
cat > "$work/jwt.yaml" <<YAML
listeners:
  - name: bench
    bind: 127.0.0.1:0
    upstream: broker
    guard: jwt
upstreams:
  - name: broker
    servers: ["127.0.0.1:$bport"]
guards:
  - name: jwt
    issuer: https://auth.example.com
    audience: https://api.example.com
    jwks_file: $PWD/tests/fixtures/jwt/TEST-ONLY-jwks.json
YAML
jwtargs=(--jwt-key tests/fixtures/jwt/TEST-ONLY-rsa-private.pem --jwt-kid example
  --jwt-iss https://auth.example.com --jwt-aud https://api.example.com)
cat > "$work/haproxy.cfg" <<CFG
global
  nbthread $cores
  maxconn 9900
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
start_haproxy() { "${hop_pin[@]}" haproxy -db -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 & hap=$!; pids+=($hap); }

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
out=$work/results.jsonl
: > "$out"
# record KIND NAME ROUND TICKS PERFFILE JSON: one measurement, as a JSON line.
record() {
  python3 - "$@" >> "$out" <<'PY'
import json, sys
kind, name, rnd, ticks, perf, js = sys.argv[1:7]
stat = {}
if perf and perf != "-":
    for line in open(perf):
        f = line.strip().split(",")
        if len(f) > 2 and f[0] and f[0][0].isdigit():
            stat[f[2]] = float(f[0])
print(json.dumps({"kind": kind, "name": name, "round": int(rnd), "ticks": int(ticks),
                  "perf": stat, "result": json.loads(js)}))
PY
}
perf_events=task-clock,context-switches,raw_syscalls:sys_enter,io_uring:io_uring_submit_req

if [ $mode = idle ]; then
  # Each hop holds N client connections and as many to the broker, a fresh hop per
  # N (memory given back to the allocator is not always given back to the system).
  # Client addresses are spread over 127.0.0.2-127.0.0.60 so ports never run out.
  hold=${IDLE_HOLD:-10} ka=${IDLE_KEEP_ALIVE:-30}
  printf '%-10s%12s%14s%14s%12s%18s\n' hop connections "RSS before" "RSS after" bytes/conn "CPU ms/s held"
  for n in "${conns[@]}"; do
    for hop in proxy haproxy; do
      case $hop in
        proxy) start_proxy "idle$n" "$work/proxy.yaml" "${proxy_place[@]}"; a=$paddr; p=$ppid ;;
        haproxy) start_haproxy; sleep 0.3; a="127.0.0.1:$hport"; p=$hap ;;
      esac
      before=$(rss "$p")
      coproc IDLE { "${load_pin[@]}" "$lt" idle --addr "$a" --connections "$n" --hold "$hold" --keep-alive "$ka" --pause --source-ips 127.0.0.2-127.0.0.60; }
      read -r -u "${IDLE[0]}" _ready
      sleep 0.5
      after=$(rss "$p")
      c0=$(cpu "$p")
      echo go >&"${IDLE[1]}"
      read -r -u "${IDLE[0]}" result
      c1=$(cpu "$p")
      wait "$IDLE_PID" 2>/dev/null || true
      printf '%-10s%12s%10s KiB%10s KiB%12s%18s\n' "$hop" "$n" "$before" "$after" "$(((after - before) * 1024 / n))" \
        "$(((c1 - c0) * 1000 / hz / hold))"
      echo "$hop $result" >&2
      record idle "$hop:$n:$before:$after" 1 $((c1 - c0)) - "$result"
      kill "$p"; wait "$p" 2>/dev/null || true
    done
  done
  [ -z "${BENCH_JSON:-}" ] || cp "$out" "$BENCH_JSON"
  exit 0
fi

if [ $mode = connect ]; then
  start_proxy proxy "$work/proxy.yaml" "${proxy_place[@]}"; plain=$paddr; plain_pid=$ppid
  start_proxy jwt "$work/jwt.yaml" "${proxy_place[@]}"; jwt=$paddr; jwt_pid=$ppid
  start_haproxy; sleep 0.3
  conc=${CONCURRENCY:-16}
  for r in $(seq "$rounds"); do
    for what in direct haproxy proxy jwt-cached jwt-new; do
      case $what in
        direct) a=127.0.0.1:$bport; p=""; extra=() ;;
        haproxy) a=127.0.0.1:$hport; p=$hap; extra=() ;;
        proxy) a=$plain; p=$plain_pid; extra=() ;;
        jwt-cached) a=$jwt; p=$jwt_pid; extra=("${jwtargs[@]}") ;;
        jwt-new) a=$jwt; p=$jwt_pid; extra=("${jwtargs[@]}" --unique) ;;
      esac
      c0=$([ -n "$p" ] && cpu "$p" || echo 0)
      res=$("${load_pin[@]}" "$lt" connect --addr "$a" --count "$count" --concurrency "$conc" "${extra[@]}" 2>/dev/null | tail -1)
      c1=$([ -n "$p" ] && cpu "$p" || echo 0)
      echo "$what $res" >&2
      record connect "$what" "$r" $((c1 - c0)) - "$res"
    done
  done
  python3 scripts/bench_summary.py connect "$hz" "$placement" < "$out"
  [ -z "${BENCH_JSON:-}" ] || cp "$out" "$BENCH_JSON"
  exit 0
fi

pubsub() { # addr [rate] [extra flags...]
  local a=$1 r=$2; shift 2
  "${load_pin[@]}" "$lt" pubsub --addr "$a" --duration "$secs" --publishers "$pubs" --size "$size" --qos "$qos" \
    ${json:-} ${r:+--rate "$r"} "$@" 2>/dev/null
}

if [ $mode = profile ]; then
  if [ $pload = connect ]; then
    # A storm of CONNECTs, each with a new RS256 token, through the guarded proxy.
    start_proxy jwt "$work/jwt.yaml" "${proxy_place[@]}"
    "${load_pin[@]}" perf record -q -F 2000 -g -p "$ppid" -o "$work/perf.data" & rec=$!
    sleep 0.5
    c0=$(cpu "$ppid")
    "${load_pin[@]}" "$lt" connect --addr "$paddr" --count "$count" --concurrency "${CONCURRENCY:-16}" \
      "${jwtargs[@]}" --unique 2> /dev/null | tail -1 >&2
    c1=$(cpu "$ppid")
    kill -INT $rec; wait $rec 2> /dev/null || true
    echo "hop CPU per connection, perf record running: $(((c1 - c0) * 1000000 / hz / count)) µs"
  else
    start_proxy proxy "$work/proxy.yaml" "${proxy_place[@]}"
    pubsub "$paddr" "" > /dev/null & load=$!
    sleep 1
    "${load_pin[@]}" perf record -q -F 2000 -g -p "$ppid" -o "$work/perf.data" -- sleep $((secs - 2)) 2> /dev/null
    wait $load
  fi
  [ -z "${PERF_DATA:-}" ] || cp "$work/perf.data" "$PERF_DATA"
  perf report -i "$work/perf.data" --stdio --no-children --sort sym 2> /dev/null |
    grep -E '^ +[0-9.]+%' > "$work/symbols" || true
  echo "Top symbols (self time, % of the proxy's samples; [k] kernel, [.] user):"
  head -"${TOP:-30}" "$work/symbols"
  echo
  awk '{ sub("%", "", $1); if ($2 == "[k]") k += $1; else u += $1 }
       END { printf "Kernel %.1f %%, user %.1f %% of samples\n", k, u }' "$work/symbols"
  # ring's big-number code: the signature checks (RSA) of the CONNECT storm.
  awk '$3 ~ /^ring_core_.*(bn_|LIMBS_|mont)/ { sub("%", "", $1); c += $1 }
       END { printf "Signature arithmetic (ring bn_/LIMBS_/mont symbols) %.1f %%\n", c }' "$work/symbols"
  exit 0
fi

if [ $mode = scale ]; then
  # mqtt-loadtest idle holds N connections while a flood of 10 publishers runs through
  # the same proxy: CPU per message and memory per connection at each N and core count.
  for c in ${SCALE_CORES:-1 2}; do
    # The proxy holds two descriptors per connection and this machine allows 20,000
    # per process: 9,500 is the most one proxy can hold here.
    for n in ${SCALE_CONNS:-1000 5000 9500}; do
      # A fresh proxy per point: memory a larger count left behind is not this one's.
      if [ ${#hop_pin[@]} -gt 0 ]; then place=("${proxy_place[@]}"); else place=(--cores "$c"); fi
      start_proxy "scale$c.$n" "$work/proxy.yaml" "${place[@]}"
      before=$(rss "$ppid")
      coproc IDLE { "${load_pin[@]}" "$lt" idle --addr "$paddr" --connections "$n" --hold 1 --pause --source-ips 127.0.0.2-127.0.0.60; }
      read -r -u "${IDLE[0]}" _ready
      sleep 0.5
      after=$(rss "$ppid")
      c0=$(cpu "$ppid")
      res=$(pubsub "$paddr" "")
      c1=$(cpu "$ppid")
      echo go >&"${IDLE[1]}"
      read -r -u "${IDLE[0]}" _result
      wait "$IDLE_PID" 2>/dev/null || true
      echo "cores=$c conns=$n $res" >&2
      record scale "$c:$n:$before:$after" 1 $((c1 - c0)) - "$res"
      kill "$ppid"; wait "$ppid" 2>/dev/null || true
    done
  done
  python3 scripts/bench_summary.py scale "$hz" "$placement" "$work/scale.json" < "$out"
  "$lt" plot --input "$work/scale.json" --report "${SCALE_REPORT:-bench-scale.html}"
  echo "plot: ${SCALE_REPORT:-bench-scale.html}"
  [ -z "${BENCH_JSON:-}" ] || cp "$out" "$BENCH_JSON"
  exit 0
fi

if [ $mode = tail ]; then
  # Idle share (percent) of the load CPUs in each quarter second while "$@" runs.
  with_idle() { # FILE CMD...: runs CMD, sampling /proc/stat meanwhile into FILE
    local f=$1; shift
    python3 - "$load_cpus" > "$f" <<'PY' & local sp=$!
import sys, time
cpus = {"cpu" + c for c in sys.argv[1].split(",") if c}
def snap():
    t = i = 0
    for line in open("/proc/stat"):
        f = line.split()
        if f[0] in cpus:
            v = [int(x) for x in f[1:9]]
            t += sum(v); i += v[3] + v[4]
    return t, i
prev = snap()
while True:
    time.sleep(0.25)
    cur = snap()
    dt = cur[0] - prev[0]
    if dt > 0:
        print(round(100 * (cur[1] - prev[1]) / dt), flush=True)
    prev = cur
PY
    "$@"; local rc=$?
    kill $sp 2>/dev/null; wait $sp 2>/dev/null || true
    return $rc
  }
  start_proxy proxy "$work/proxy.yaml" "${proxy_place[@]}"; proxy_addr=$paddr
  start_haproxy; sleep 0.3
  max=$(pubsub "127.0.0.1:$bport" "" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["out_msgs_per_s"]))')
  echo "direct maximum: $max msg/s" >&2
  for pct in ${TAIL_LOADS:-30 40 50}; do
    rate=$((max * pct / 100 / pubs))
    for r in $(seq "$rounds"); do
      for hop in direct proxy haproxy; do
        case $hop in direct) a=127.0.0.1:$bport ;; proxy) a=$proxy_addr ;; haproxy) a=127.0.0.1:$hport ;; esac
        res=$(with_idle "$work/idle" pubsub "$a" "$rate")
        res=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["load_idle_pct"]=[int(x) for x in open(sys.argv[2]) if x.strip()]; print(json.dumps(r))' "$res" "$work/idle")
        echo "tail $pct% $hop $r $(echo "$res" | head -c 300)" >&2
        record tail "$hop:$pct" "$r" 0 - "$res"
      done
    done
  done
  python3 scripts/bench_summary.py tail "$hz" "$placement" "$max" < "$out"
  [ -z "${BENCH_JSON:-}" ] || cp "$out" "$BENCH_JSON"
  exit 0
fi

start_proxy proxy "$work/proxy.yaml" "${proxy_place[@]}"; proxy=$ppid; proxy_addr=$paddr
third=haproxy
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
  start_proxy validating "$work/schema.yaml" "${proxy_place[@]}"; hap=$ppid; haddr=$paddr
  third=validating
  json=--json-payload
else
  start_haproxy; haddr="127.0.0.1:$hport"
  sleep 0.3
fi

# measure KIND NAME ROUND ADDR PID RATE [perf]: one run, CPU of PID around it.
measure() {
  local kind=$1 name=$2 rnd=$3 a=$4 p=$5 rate=$6 perf=${7:-} c0 c1 r pf=-
  if [ -n "$perf" ]; then
    pf=$work/perf.$name.$kind
    "${load_pin[@]}" perf stat -x, -e "$perf_events" -p "$p" -o "$pf" & local ps=$!
    sleep 0.2
  fi
  c0=$([ -n "$p" ] && cpu "$p" || echo 0)
  r=$(pubsub "$a" "$rate")
  c1=$([ -n "$p" ] && cpu "$p" || echo 0)
  if [ -n "$perf" ]; then kill -INT $ps; wait $ps 2>/dev/null || true; fi
  echo "$kind $name $rnd $r" >&2
  record "$kind" "$name" "$rnd" $((c1 - c0)) "$pf" "$r"
}
hops() { # KIND ROUND RATE: the three, alternating which hop goes first
  if [ $(($2 % 2)) -eq 1 ]; then
    measure "$1" direct "$2" "127.0.0.1:$bport" "" "$3"
    measure "$1" proxy "$2" "$proxy_addr" "$proxy" "$3"
    measure "$1" "$third" "$2" "$haddr" "$hap" "$3"
  else
    measure "$1" direct "$2" "127.0.0.1:$bport" "" "$3"
    measure "$1" "$third" "$2" "$haddr" "$hap" "$3"
    measure "$1" proxy "$2" "$proxy_addr" "$proxy" "$3"
  fi
}
for r in $(seq "$rounds"); do hops throughput "$r" ""; done
max=$(python3 -c '
import json, statistics, sys
v = [json.loads(l) for l in open(sys.argv[1])]
print(int(statistics.median(x["result"]["out_msgs_per_s"] for x in v if x["name"] == "direct")))' "$out")
half=$((max / 2 / pubs))
for r in $(seq "$rounds"); do hops latency "$r" "$half"; done
# One more round of each hop under perf stat (kept out of the medians above).
measure perfstat proxy 0 "$proxy_addr" "$proxy" "" "$perf_events"
measure perfstat "$third" 0 "$haddr" "$hap" "" "$perf_events"
python3 scripts/bench_summary.py throughput "$hz" "$placement" "$third" "$half" < "$out"
[ -z "${BENCH_JSON:-}" ] || cp "$out" "$BENCH_JSON"
