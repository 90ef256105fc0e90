#!/usr/bin/env bash
# Scale-out test: three mqtt-proxy hosts behind HAProxy (TCP mode, PROXY protocol
# v2) in front of a real broker cluster, each host its own Linux network namespace
# on one bridge; faults injected under an mqtt-loadtest `fleet` load.
#
#   scripts/cluster-test.sh [--short] [--layouts mosquitto,aedes,aedes-stock,rabbitmq]
#                           [--scenarios steady,kill-proxy,kill-broker,restart,reload]
#                           [--devices N] [--rate MSG_PER_S] [--duration S] [--out DIR]
#
# Layouts:
#   mosquitto  3 independent Mosquitto brokers; rendezvous placement by client id is
#              what keeps a session on one broker. MQTT 5.0 devices.
#   aedes      3 Aedes 1.2 nodes sharing Redis (mqemitter-redis carries publishes
#              between nodes, aedes-persistence-redis holds sessions and queued
#              messages), so a session outlives its node. MQTT 3.1.1 devices (Aedes
#              has no 5.0). Aedes runs with scripts/cluster/ack-after-persist.mjs: a
#              QoS 1 PUBACK follows the store, as Aedes already does for QoS 2.
#   aedes-stock  the same with Aedes as published, which sends the PUBACK before it
#              stores the message: a killed node loses what it had just acknowledged,
#              with or without a proxy. Broker kills only; the losses are reported,
#              not judged (long form only).
#   rabbitmq   a 3-node RabbitMQ cluster (Debian's 3.10, MQTT plugin), persistent
#              sessions in quorum queues replicated on all nodes: a session and its
#              acknowledged messages outlive a node. MQTT 3.1.1 devices; at most
#              RABBIT_DEVICES (200) devices, as every session is a Raft group.
# Before the scenarios, a smoke check with mosquitto_pub / mosquitto_sub.
# Scenarios (each a fresh fleet run; a PASS/FAIL line each, JSON lines in
# DIR/report.jsonl, the loadtest's own JSON in DIR/<layout>-<scenario>.json):
#   steady       load spread over the 3 proxies, nothing dropped
#   kill-proxy   SIGKILL one proxy: its devices come back through another and resume
#   kill-broker  SIGKILL one broker: its devices move on (Mosquitto: new session,
#                nothing acknowledged lost but what the dead broker's sessions held;
#                Aedes: same session, Session Present 1)
#   kill-broker-direct  the same without balancer and proxies (devices on the brokers
#                themselves): the control for kill-broker
#   restart      kill proxy 1 and start it again, then kill proxies 2 and 3: every
#                device goes through the restarted proxy to the broker it had (Mosquitto)
#   reload       SIGHUP each proxy in turn with a changed config: no connection dropped
# --short: 200 devices, 12 s, Mosquitto kill-proxy, kill-broker and reload, Aedes
# kill-proxy and kill-broker (what CI runs, through tests/cluster.rs; RabbitMQ only
# when --layouts names it).
#
# Needs root (ip netns). Everything it creates is named mqc<pid>-* and removed at the
# end, also on failure or Ctrl-C. Binaries: MQTT_PROXY and MQTT_LOADTEST (default:
# built with cargo --release).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

LAYOUTS=""
SCENARIOS=""
DEVICES=2000
RATE=1
DURATION=30
OUT=target/cluster
SHORT=0
while [ $# -gt 0 ]; do
  case "$1" in
    --short) SHORT=1; DEVICES=200; DURATION=12 ;;
    --layouts) LAYOUTS=$2; shift ;;
    --scenarios) SCENARIOS=$2; shift ;;
    --devices) DEVICES=$2; shift ;;
    --rate) RATE=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
# Default layouts: all three for the long form, Mosquitto and Aedes for --short.
[ -n "$LAYOUTS" ] || { if [ "$SHORT" = 1 ]; then LAYOUTS=mosquitto,aedes; else LAYOUTS=mosquitto,aedes,aedes-stock,rabbitmq; fi; }
[ "$(id -u)" -eq 0 ] || { echo "cluster-test.sh needs root (ip netns)" >&2; exit 2; }
ensure_packages ip:iproute2 haproxy:haproxy mosquitto:mosquitto mosquitto_pub:mosquitto-clients mosquitto_sub:mosquitto-clients redis-server:redis-server node:nodejs npm:npm python3:python3 curl:curl
[[ ",$LAYOUTS," != *",rabbitmq,"* ]] || ensure_packages rabbitmq-server:rabbitmq-server
ensure_memlock
ulimit -n 20000 2>/dev/null || true

if [ -z "${MQTT_PROXY:-}" ] || [ -z "${MQTT_LOADTEST:-}" ]; then
  ensure_cargo
  cargo build --release --locked -p mqtt-proxy -p mqtt-loadtest >&2
fi
PROXY=$(realpath "${MQTT_PROXY:-target/release/mqtt-proxy}")
LOADTEST=$(realpath "${MQTT_LOADTEST:-target/release/mqtt-loadtest}")
if [[ ",$LAYOUTS," == *",aedes"* ]] && [ ! -d scripts/cluster/node_modules/aedes ]; then
  (cd scripts/cluster && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

mkdir -p "$OUT"
OUT=$(realpath "$OUT")
RUN="$OUT/run"
rm -rf "$RUN"
mkdir -p "$RUN"
REPORT="$OUT/report.jsonl"
: >"$REPORT"

ID="mqc$$"
NET=10.213.0
HOSTS="lb p1 p2 p3 b1 b2 b3 db cl"
declare -A ADDR=([lb]=$NET.2 [p1]=$NET.11 [p2]=$NET.12 [p3]=$NET.13 [b1]=$NET.21 [b2]=$NET.22 [b3]=$NET.23 [db]=$NET.30 [cl]=$NET.100)
declare -A PID=()

log() { echo "cluster: $*" >&2; }
in_ns() { local h=$1; shift; ip netns exec "$ID-$h" "$@"; }
# For `spawn HOST cmd… &`: the job's $! is the command's own pid (exec all the way).
spawn() { local h=$1; shift; exec ip netns exec "$ID-$h" "$@"; }

cleanup() {
  local rc=$?
  for ns in $HOSTS sw; do
    ip netns pids "$ID-$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  done
  for ns in $HOSTS sw; do
    ip netns del "$ID-$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ID-$ns"
  done
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One bridge in a switch namespace; each host a namespace with one veth on it. No
# address or interface is added outside the namespaces.
topology() {
  ip netns add "$ID-sw"
  ip -n "$ID-sw" link add br0 type bridge
  ip -n "$ID-sw" link set br0 up
  ip -n "$ID-sw" link set lo up
  for h in $HOSTS; do
    ip netns add "$ID-$h"
    ip -n "$ID-sw" link add "$h" type veth peer name eth0 netns "$ID-$h"
    ip -n "$ID-sw" link set "$h" master br0 up
    ip -n "$ID-$h" link set lo up
    ip -n "$ID-$h" addr add "${ADDR[$h]}/24" dev eth0
    ip -n "$ID-$h" link set eth0 up
  done
}

# Waits until HOST:PORT accepts a TCP connection from the client namespace.
wait_port() {
  local addr=$1 port=$2 what=$3 secs=${4:-10} i
  for i in $(seq 1 $((secs * 20))); do
    if in_ns cl bash -c "exec 3<>/dev/tcp/$addr/$port" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  log "$what never listened on $addr:$port"; return 1
}

# Waits until FILE has a line matching PATTERN (a process's own signal), at most S seconds.
wait_line() {
  local file=$1 pattern=$2 secs=$3
  wait_more "$file" "$pattern" 0 "$secs" && return 0
  log "no '$pattern' in $file after ${secs}s"; tail -5 "$file" >&2 || true; return 1
}

# Waits until FILE has more than N lines matching PATTERN, at most S seconds.
wait_more() {
  local file=$1 pattern=$2 n=$3 secs=$4 i
  for i in $(seq 1 $((secs * 20))); do
    [ "$(grep -c -- "$pattern" "$file" 2>/dev/null)" -gt "$n" ] && return 0
    sleep 0.05
  done
  return 1
}

# Lines matching PATTERN in each proxy's log, in the order p1 p2 p3.
proxy_log_counts() {
  local p
  for p in p1 p2 p3; do grep -c -- "$1" "$RUN/$p.log" || true; done
}

# Starts broker B again and waits until every proxy's probes saw it come back.
restore_broker() {
  local b=$1 i before
  mapfile -t before < <(proxy_log_counts "upstream server up")
  start_broker "$b"
  for i in 0 1 2; do
    wait_more "$RUN/p$((i + 1)).log" "upstream server up" "${before[$i]}" 10 ||
      log "p$((i + 1)) never saw $b come back"
  done
}

start_broker() {
  local b=$1
  case "$LAYOUT" in
    mosquitto)
      printf 'listener 1883 0.0.0.0\nallow_anonymous true\nmax_queued_messages 100000\npersistence false\n' >"$RUN/$b.conf"
      spawn "$b" mosquitto -c "$RUN/$b.conf" >"$RUN/$b.log" 2>&1 &
      ;;
    aedes | aedes-stock)
      local ack=after-persist
      [ "$LAYOUT" = aedes ] || ack=stock
      spawn "$b" node scripts/cluster/aedes-node.mjs 0.0.0.0 1883 "${ADDR[db]}" 6379 "$b" "$ack" >"$RUN/$b.log" 2>&1 &
      ;;
    rabbitmq)
      rabbit_files
      mkdir -p "$RUN/rmq-$b"
      spawn "$b" env "${RABBIT_ENV[@]}" RABBITMQ_NODENAME="rabbit@$b" RABBITMQ_MNESIA_BASE="$RUN/rmq-$b/mnesia" \
        RABBITMQ_LOG_BASE="$RUN/rmq-$b/log" RABBITMQ_PID_FILE="$RUN/rmq-$b/pid" \
        /usr/lib/rabbitmq/bin/rabbitmq-server >"$RUN/$b.log" 2>&1 &
      ;;
  esac
  PID[$b]=$!
  if ! wait_port "${ADDR[$b]}" 1883 "broker $b" 60; then
    # Say why (a crash, a hang before listening) before the run is torn down.
    kill -0 "${PID[$b]}" 2>/dev/null && log "broker $b still running" || log "broker $b exited"
    tail -n 20 "$RUN/$b.log" >&2 || true
    [ ! -f "$RUN/redis.log" ] || tail -n 5 "$RUN/redis.log" >&2 || true
    return 1
  fi
}

# RabbitMQ: one Erlang cookie, one config (MQTT on 1883, anonymous allowed,
# persistent sessions in quorum queues replicated over the three nodes, the cluster
# formed from a fixed node list), and host names b1..b3 inside the broker
# namespaces (`ip netns exec` mounts /etc/netns/<ns>/hosts over /etc/hosts).
RABBIT_ENV=()
rabbit_files() {
  [ ${#RABBIT_ENV[@]} -eq 0 ] || return 0
  mkdir -p "$RUN/rmq-home"
  printf 'mqtt-proxy-cluster-test-cookie' >"$RUN/rmq-home/.erlang.cookie"
  chmod 400 "$RUN/rmq-home/.erlang.cookie"
  printf '%s\n' 'loopback_users = none' 'mqtt.listeners.tcp.default = 1883' 'mqtt.allow_anonymous = true' \
    'mqtt.durable_queue_type = quorum' 'cluster_formation.peer_discovery_backend = classic_config' \
    'cluster_formation.classic_config.nodes.1 = rabbit@b1' 'cluster_formation.classic_config.nodes.2 = rabbit@b2' \
    'cluster_formation.classic_config.nodes.3 = rabbit@b3' 'log.console = true' 'log.console.level = warning' \
    'log.file = false' >"$RUN/rabbitmq.conf"
  echo '[rabbitmq_mqtt].' >"$RUN/enabled_plugins"
  local n
  for n in b1 b2 b3; do
    mkdir -p "/etc/netns/$ID-$n"
    printf '127.0.0.1 localhost\n%s b1\n%s b2\n%s b3\n' "${ADDR[b1]}" "${ADDR[b2]}" "${ADDR[b3]}" >"/etc/netns/$ID-$n/hosts"
  done
  RABBIT_ENV=(HOME="$RUN/rmq-home" RABBITMQ_USE_LONGNAME=false RABBITMQ_CONFIG_FILE="$RUN/rabbitmq.conf"
    RABBITMQ_ENABLED_PLUGINS_FILE="$RUN/enabled_plugins" RABBITMQ_CONF_ENV_FILE=/dev/null)
}

# Waits until the RabbitMQ cluster has its three nodes running.
rabbit_cluster() {
  local i
  for i in $(seq 1 120); do
    if in_ns b1 env "${RABBIT_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl -n rabbit@b1 cluster_status --formatter json 2>/dev/null |
      python3 -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin)["running_nodes"]) == 3 else 1)' 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  log "the RabbitMQ cluster never had 3 running nodes"; return 1
}

proxy_config() {
  local interval=$1
  cat <<EOF
# Proxy host config of scripts/cluster-test.sh (generated).
listeners:
  - name: balanced
    bind: 0.0.0.0:1883
    proxy_protocol: v2          # HAProxy's send-proxy-v2: the device's own address
    upstream: cluster
upstreams:
  - name: cluster
    servers: ["${ADDR[b1]}:1883", "${ADDR[b2]}:1883", "${ADDR[b3]}:1883"]
    balance: hash               # rendezvous by client id: the same broker from every proxy
    connect_timeout: 1s
    health_check: {interval: $interval, timeout: 500ms, failures: 1}
metrics:
  bind: 0.0.0.0:9464
EOF
}

start_proxy() {
  local p=$1
  : >"$RUN/$p.log"
  spawn "$p" "$PROXY" --config "$RUN/proxy.yaml" --cores 1 --no-pin >>"$RUN/$p.log" 2>&1 &
  PID[$p]=$!
  wait_line "$RUN/$p.log" "ready listener=balanced" 20
}

# Connections open on proxy P now (its Prometheus endpoint).
proxy_connections() {
  in_ns cl curl -sf "http://${ADDR[$1]}:9464/metrics" | awk '$1 == "mqtt_proxy_connections_open" {print $2}' || echo 0
}

# Waits until HAProxy sees proxy P up (its own health checks).
wait_lb_up() {
  local p=$1 i
  for i in $(seq 1 100); do
    if python3 - "$RUN/haproxy.sock" "$p" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"show stat\n")
data = b""
while chunk := s.recv(65536): data += chunk
rows = [l.split(",") for l in data.decode().splitlines() if l.startswith("proxies,")]
sys.exit(0 if any(r[1] == sys.argv[2] and r[17].startswith("UP") for r in rows) else 1)
EOF
    then return 0; fi
    sleep 0.1
  done
  log "HAProxy never saw $p up"; return 1
}

start_balancer() {
  cat >"$RUN/haproxy.cfg" <<EOF
global
  maxconn 8000
  stats socket $RUN/haproxy.sock mode 600 level admin
defaults
  mode tcp
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  retries 3
  option redispatch
frontend mqtt
  bind ${ADDR[lb]}:1883
  default_backend proxies
backend proxies
  balance leastconn
  server p1 ${ADDR[p1]}:1883 send-proxy-v2 check check-send-proxy inter 300ms fall 1 rise 1
  server p2 ${ADDR[p2]}:1883 send-proxy-v2 check check-send-proxy inter 300ms fall 1 rise 1
  server p3 ${ADDR[p3]}:1883 send-proxy-v2 check check-send-proxy inter 300ms fall 1 rise 1
EOF
  spawn lb haproxy -db -f "$RUN/haproxy.cfg" >"$RUN/haproxy.log" 2>&1 &
  PID[lb]=$!
  wait_port "${ADDR[lb]}" 1883 haproxy
  for p in p1 p2 p3; do wait_lb_up "$p"; done
}

# SIGKILL for everything on host H (a broker may be several processes: RabbitMQ's
# beam and epmd).
kill_host() {
  local h=$1
  ip netns pids "$ID-$h" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  kill -9 "${PID[$h]}" 2>/dev/null || true
  wait "${PID[$h]}" 2>/dev/null || true
}

# Starts the fleet in the client namespace; sets FLEET_PID, FLEET_LOG, FLEET_JSON.
# With a second argument, the devices connect to those addresses themselves (no
# balancer, no proxy): the control run.
start_fleet() {
  local name=$1 addr=${2:-${ADDR[lb]}:1883}
  FLEET_LOG="$OUT/$LAYOUT-$name.log"
  FLEET_JSON="$OUT/$LAYOUT-$name.json"
  rm -f "$FLEET_JSON"
  spawn cl "$LOADTEST" fleet --addr "$addr" --devices "$DEVICES" --rate "$RATE" \
    --duration "$DURATION" --version "$VERSION" --ramp-ms $((DEVICES * 2)) --reconnect-delay-ms 500 \
    --json "$FLEET_JSON" >/dev/null 2>"$FLEET_LOG" &
  FLEET_PID=$!
  wait_line "$FLEET_LOG" "^ready:" $((DEVICES / 50 + 30))
}

# Waits until the fleet has run S seconds of load.
at_second() { wait_line "$FLEET_LOG" "^t=$(printf '%3d' "$1")s" $(($1 + 30)); }

FAILED=0
judge() {
  local scenario=$1; shift
  wait "$FLEET_PID" || true
  if [ ! -s "$FLEET_JSON" ]; then
    echo "FAIL $LAYOUT $scenario: mqtt-loadtest wrote no result (log: $FLEET_LOG)"; tail -5 "$FLEET_LOG" >&2
    FAILED=1; return
  fi
  # Aedes nodes print the acknowledgement order they run with ("(ack after-persist)").
  local broker=()
  [[ "$LAYOUT" != aedes* ]] || broker=("aedes_ack=$(sed -n 's/.*(ack \(.*\))$/\1/p' "$RUN/b1.log" | head -1)")
  python3 scripts/cluster/judge.py "$LAYOUT" "$scenario" "$FLEET_JSON" "$REPORT" "$@" "${broker[@]}" || FAILED=1
}

FAULT_AT=$((DURATION / 3))

# The stock clients through the balancer: a retained message published under one
# client id is read back under the same id, through whichever proxies HAProxy picks
# (the same broker by rendezvous placement, also with independent Mosquittos).
smoke() {
  local id="smoke-$ID-$LAYOUT" topic="cluster/smoke/$ID" got ok=false
  in_ns cl mosquitto_pub -h "${ADDR[lb]}" -p 1883 -V mqttv311 -i "$id" -t "$topic" -q 1 -r -m "hello $LAYOUT"
  got=$(in_ns cl mosquitto_sub -h "${ADDR[lb]}" -p 1883 -V mqttv311 -i "$id" -t "$topic" -q 1 -C 1 -W 10) || true
  in_ns cl mosquitto_pub -h "${ADDR[lb]}" -p 1883 -V mqttv311 -i "$id" -t "$topic" -q 1 -r -n || true
  if [ "$got" = "hello $LAYOUT" ]; then
    ok=true
    echo "PASS $LAYOUT smoke: mosquitto_pub and mosquitto_sub through the balancer, a retained message read back under the same client id"
  else
    echo "FAIL $LAYOUT smoke: mosquitto_sub read '${got}' instead of 'hello $LAYOUT'"
    FAILED=1
  fi
  printf '{"layout":"%s","scenario":"smoke","pass":%s,"checks":[{"check":"retained message read back under the same client id","pass":%s}]}\n' \
    "$LAYOUT" "$ok" "$ok" >>"$REPORT"
}

scenario_steady() {
  start_fleet steady
  at_second "$FAULT_AT"
  local facts=()
  for p in p1 p2 p3; do facts+=("${p}_connections=$(proxy_connections $p)"); done
  judge steady "${facts[@]}"
}

scenario_kill_proxy() {
  start_fleet kill-proxy
  at_second "$FAULT_AT"
  local n; n=$(proxy_connections p1)
  log "SIGKILL proxy p1 ($n connections)"
  kill_host p1
  judge kill-proxy "killed_connections=$n"
  start_proxy p1; wait_lb_up p1
}

scenario_kill_broker() {
  start_fleet kill-broker
  at_second "$FAULT_AT"
  local i marked=0 before
  mapfile -t before < <(proxy_log_counts "upstream server down")
  log "SIGKILL broker b1"
  kill_host b1
  for i in 0 1 2; do
    wait_more "$RUN/p$((i + 1)).log" "upstream server down" "${before[$i]}" 10 && marked=$((marked + 1))
  done
  judge kill-broker "probes_marked_down=$marked"
  restore_broker b1
}

# The same fault with the devices straight on the brokers (each starts on broker
# i mod 3 and moves to the next): what the broker cluster does without us.
scenario_kill_broker_direct() {
  start_fleet kill-broker-direct "${ADDR[b1]}:1883,${ADDR[b2]}:1883,${ADDR[b3]}:1883"
  at_second "$FAULT_AT"
  log "SIGKILL broker b1 (devices connected to the brokers directly)"
  kill_host b1
  judge kill-broker-direct
  restore_broker b1
}

scenario_restart() {
  start_fleet restart
  at_second "$FAULT_AT"
  local n; n=$(proxy_connections p1)
  log "SIGKILL proxy p1 ($n connections), start it again"
  kill_host p1
  start_proxy p1; wait_lb_up p1
  at_second $((FAULT_AT * 2))
  local m; m=$(( $(proxy_connections p2) + $(proxy_connections p3) ))
  log "SIGKILL proxies p2 and p3 ($m connections): everything goes through the restarted p1"
  kill_host p2; kill_host p3
  judge restart "killed_connections=$((n + m))"
  start_proxy p2; start_proxy p3; wait_lb_up p2; wait_lb_up p3
}

scenario_reload() {
  start_fleet reload
  at_second "$FAULT_AT"
  proxy_config 400ms >"$RUN/proxy.yaml"
  local reloads=0
  for p in p1 p2 p3; do
    log "SIGHUP proxy $p"
    kill -HUP "${PID[$p]}"
    wait_line "$RUN/$p.log" "config reloaded" 10 && reloads=$((reloads + 1))
  done
  judge reload "reloads=$reloads"
  proxy_config 500ms >"$RUN/proxy.yaml"
}

run_layout() {
  LAYOUT=$1
  case "$LAYOUT" in
    mosquitto) VERSION=5; local all="steady kill-proxy kill-broker restart reload" short="kill-proxy kill-broker reload" ;;
    aedes) VERSION=3; local all="steady kill-proxy kill-broker kill-broker-direct" short="kill-proxy kill-broker" ;;
    aedes-stock) VERSION=3; local all="kill-broker kill-broker-direct" short="" ;;
    rabbitmq) VERSION=3; local all="steady kill-proxy kill-broker kill-broker-direct" short="" ;;
    *) echo "unknown layout: $LAYOUT" >&2; exit 2 ;;
  esac
  local list=${SCENARIOS//,/ }
  [ -n "$list" ] || { if [ "$SHORT" = 1 ]; then list=$short; else list=$all; fi; }
  # Every RabbitMQ session is a quorum queue, a Raft group on all three nodes: 2,000
  # of them are more than two shared cores carry (acknowledgements stall), so this
  # layout runs at most RABBIT_DEVICES devices.
  local keep_devices=$DEVICES
  [ "$LAYOUT" != rabbitmq ] || DEVICES=$((DEVICES < ${RABBIT_DEVICES:-200} ? DEVICES : ${RABBIT_DEVICES:-200}))
  log "layout $LAYOUT: $list ($DEVICES devices, $RATE msg/s each, ${DURATION}s, MQTT $VERSION)"
  if [ "$LAYOUT" = aedes ] || [ "$LAYOUT" = aedes-stock ]; then
    spawn db redis-server --bind "${ADDR[db]}" --port 6379 --save '' --appendonly no --protected-mode no >"$RUN/redis.log" 2>&1 &
    PID[db]=$!
    wait_port "${ADDR[db]}" 6379 redis
  fi
  for b in b1 b2 b3; do start_broker "$b"; done
  [ "$LAYOUT" != rabbitmq ] || rabbit_cluster
  proxy_config 500ms >"$RUN/proxy.yaml"
  for p in p1 p2 p3; do start_proxy "$p"; done
  start_balancer
  smoke
  for s in $list; do
    case "$s" in
      steady) scenario_steady ;;
      kill-proxy) scenario_kill_proxy ;;
      kill-broker) scenario_kill_broker ;;
      kill-broker-direct) scenario_kill_broker_direct ;;
      restart) [ "$LAYOUT" = mosquitto ] && scenario_restart ;;
      reload) scenario_reload ;;
      *) echo "unknown scenario: $s" >&2; exit 2 ;;
    esac
  done
  for h in lb p1 p2 p3 b1 b2 b3 db; do [ -n "${PID[$h]:-}" ] && kill_host "$h"; PID[$h]=""; done
  DEVICES=$keep_devices
  mkdir -p "$OUT/logs-$LAYOUT"
  cp "$RUN"/*.log "$OUT/logs-$LAYOUT/" 2>/dev/null || true
}

topology
for layout in ${LAYOUTS//,/ }; do run_layout "$layout"; done
if [ "$FAILED" = 0 ]; then
  echo "cluster-test: all scenarios passed (report: $REPORT)"
else
  echo "cluster-test: FAILED (report: $REPORT, logs: $OUT)"
fi
exit "$FAILED"
