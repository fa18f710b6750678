#!/usr/bin/env bash
# The bus hub against mosquitto, each measured in the same run, in rounds
# that alternate them (hilt, mosquitto, hilt, ...). A run is three
# processes on TCP loopback: the broker (`hilt hub` over hilt's wire, or
# mosquitto 2), one state owner (hilt_bus.lua owner, or mqtt_pub.c) and
# the 100 observers' process (hilt_bus.lua observers, or mqtt_sub.c:
# libmosquitto clients in one thread). Reports are medians of the rounds
# and the median of the rounds' hilt/mosquitto ratios.
#
# 1. Deliveries per second. A delivery is one observer callback run (for
#    MQTT one message reaching a subscription). Two shapes:
#    - fanout, the target's shape: one state observed by 10 callbacks on
#      each of the 10 connections (100 observers over 10 connections),
#      against 100 MQTT subscribers of one topic, each its own connection
#      (MQTT sends a connection one message per publish however many of
#      its subscriptions match, so 100 subscribers the broker knows of are
#      100 connections). A change is 100 deliveries in both, but 10
#      messages for hilt and 100 for mosquitto: what 100 observers cost as
#      each system has them.
#    - paths: 10 states (topics), each observed once by each of the 10
#      connections (subscribed to each of the 10 topics). A change is 10
#      messages on the wire and 10 deliveries in both systems, so the two
#      brokers and the two client libraries do the same work per delivery:
#      the message-for-message comparison. Its ratio is held to the same
#      2x, as a goal.
#    The owner changes its states as fast as the system takes them for
#    BUS_BENCH_SECONDS: WINDOW tasks (or MQTT messages) in flight, hilt's
#    each a request that waits for the hub's answer, mosquitto's QoS 0
#    (until written) or QoS 1 (until the PUBACK, hilt's shape); all
#    retained. Neither broker's answer waits for the deliveries, so the
#    observers publish a credit (how many changes every connection has
#    taken, every 2 ms) and the owner stays at most LAG changes ahead of
#    it: without it an owner outruns slow observers and the backlog (in
#    hilt, one task per queued notification) grows without bound. The
#    rate is deliveries over the time from the first to the last.
# 2. Latency at a fixed rate: the paths shape at BUS_LATENCY_RATE changes/s
#    in all for BUS_LATENCY_SECONDS, no credit. Each value is the owner's
#    CLOCK_MONOTONIC time (hilt.now() is uv_hrtime, the same clock), so an
#    observer's delivery time less it is the latency: p50 and p99 in us.
# 3. Memory: a hub holding BUS_MEM_CONNS connections, each registering
#    BUS_MEM_STATES states with a value (1,000 x 100 = 100,000 paths, from
#    hilt_load.lua in one process): the hub's peak RSS (VmHWM), against
#    256 MiB; mosquitto holding the same as retained messages (mqtt_load.c)
#    for scale.
#
# Also shown: each broker's CPU time per delivery (from /proc, over its
# whole life: setup is a few ms of it), which says what the hub costs
# apart from the clients, and the losses or reorderings seen (none is
# expected from either). mosquitto runs with a config of ours:
# max_queued_messages 0 (its default of 1000 caps each client's queue of
# outgoing packets, QoS 0 included, and drops the rest), persistence false
# (the default), logging off, and TCP_NODELAY (set_tcp_nodelay, and on
# the libmosquitto clients) whichever way is stronger: off, mosquitto's
# default, for QoS 0 throughput (Nagle's algorithm coalesces its one
# write per packet: about twice the deliveries/s here); on for latency
# and for QoS 1 (with Nagle a message, or a PUBACK the publisher's window
# waits for, can wait for a delayed ACK: p99s of tens of ms, and QoS 1
# rates from 40k to 120k deliveries/s from one run to the next).
# BUS_MQTT_NODELAY=0 or 1 uses one setting for all. hilt sets TCP_NODELAY
# on every socket and coalesces writes itself.
#
# Usage: bench/bus/run.sh   (BUS_BENCH_ROUNDS, default 5;
#   BUS_BENCH_SECONDS per throughput run, default 3; BUS_LATENCY_RATE,
#   default 1000; BUS_LATENCY_SECONDS, default 5; BUS_WINDOW, default 10;
#   BUS_LAG, default 1000; BUS_MEM_CONNS, default 1000 (0: no memory
#   measurement); BUS_MEM_STATES, default 100; BUS_BENCH_SHAPES, default
#   "paths fanout latency"; BUS_MQTT_NODELAY, default auto; QUICK=1 for
#   one short round and a small memory load, to check that it runs;
#   HILT, the binary)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rpc=$(cd "$here/../rpc" && pwd)
if [ -n "${QUICK:-}" ]; then
  BUS_BENCH_ROUNDS=1 BUS_BENCH_SECONDS=0.5 BUS_LATENCY_SECONDS=1
  BUS_MEM_CONNS=100 BUS_MEM_STATES=100
fi
RPC_BENCH_ROUNDS=${BUS_BENCH_ROUNDS:-5}
RPC_BENCH_SECONDS=${BUS_BENCH_SECONDS:-3}
lat_rate=${BUS_LATENCY_RATE:-1000}
lat_seconds=${BUS_LATENCY_SECONDS:-5}
window=${BUS_WINDOW:-10}
lag=${BUS_LAG:-1000}
mqtt_nodelay=${BUS_MQTT_NODELAY:-auto}
mem_conns=${BUS_MEM_CONNS:-1000}
mem_states=${BUS_MEM_STATES:-100}
# shellcheck source=SCRIPTDIR/../rpc/lib.sh
. "$rpc/lib.sh"
BENCH_NAME=bus
# The observers' own limit on a run; a run that reaches it is reported
# incomplete.
sub_timeout=$(awk -v s="$seconds" -v l="$lat_seconds" \
  'BEGIN { print int((s > l ? s : l) * 5 + 30) }')
hz=$(getconf CLK_TCK)

hilt=${HILT:-$here/../../build/hilt}
if [ ! -x "$hilt" ]; then
  skip "bus" "no hilt binary at $hilt: build it first (scripts/bench does)"
  exit 0
fi
if ! command -v mosquitto >/dev/null && [ -x /usr/sbin/mosquitto ]; then
  PATH=$PATH:/usr/sbin
fi
if ! command -v mosquitto >/dev/null; then
  skip "bus" "needs mosquitto for its baseline: apt-get install mosquitto"
  exit 0
fi
# Built per run into the temp dir, never into the source tree.
for prog in mqtt_sub mqtt_pub mqtt_load; do
  if ! cc -O2 -o "$tmp/$prog" "$here/$prog.c" -lmosquitto 2>"$tmp/cc.log"; then
    sed 's/^/  /' "$tmp/cc.log"
    skip "bus" "needs cc and libmosquitto-dev: apt-get install build-essential libmosquitto-dev"
    exit 0
  fi
done

# The observers' process, besides lib.sh's server (the broker).
sub_pid=
stop_subs() {
  if [ -n "$sub_pid" ]; then
    kill "$sub_pid" 2>/dev/null || true
    wait "$sub_pid" 2>/dev/null || true
    sub_pid=
  fi
}
trap 'stop_subs; stop_server; rm -rf "$tmp"' EXIT

# --- brokers ---------------------------------------------------------------------

# start_hub: `hilt hub` on a port it picks; sets server_pid and port.
start_hub() {
  "$hilt" hub --listen tcp://127.0.0.1:0 >"$tmp/broker.log" 2>&1 &
  server_pid=$!
  port=
  local i
  for ((i = 0; i < 500; i++)); do
    port=$(sed -n 's/^wire listening on tcp:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' \
      "$tmp/broker.log")
    [ -n "$port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.02
  done
  return 1
}

# start_mosquitto: mosquitto with the config above on a free port, with
# TCP_NODELAY if $BUS_MQTT_NODELAY is 1; sets server_pid and port.
start_mosquitto() {
  port=$(free_port)
  local nodelay=false
  [ "$BUS_MQTT_NODELAY" = 1 ] && nodelay=true
  cat >"$tmp/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
set_tcp_nodelay $nodelay
log_dest none
EOF
  mosquitto -c "$tmp/mosquitto.conf" >"$tmp/broker.log" 2>&1 &
  server_pid=$!
  wait_listening "tcp:$port" "$server_pid"
}

# start_broker LABEL
start_broker() {
  case $1 in
    hilt) start_hub ;;
    *) start_mosquitto ;;
  esac
}

# nodelay_for LABEL SHAPE: sets BUS_MQTT_NODELAY, which start_mosquitto
# and mqtt_common.h read, for a run of LABEL in SHAPE (or "memory").
nodelay_for() {
  export BUS_MQTT_NODELAY=$mqtt_nodelay
  if [ "$mqtt_nodelay" = auto ]; then
    BUS_MQTT_NODELAY=0
    if [ "$1" = mosquitto-q1 ] || [ "$2" = latency ]; then
      BUS_MQTT_NODELAY=1
    fi
  fi
}

broker_cpu_s() {
  awk -v hz="$hz" '{ printf "%.3f\n", ($14 + $15) / hz }' "/proc/$1/stat"
}

# --- one run ----------------------------------------------------------------------

# start_subs CMD...: the observers' process; waits for its "ready".
start_subs() {
  "$@" >"$tmp/subs.out" 2>&1 &
  sub_pid=$!
  local i
  for ((i = 0; i < 3000; i++)); do
    grep -q '^ready$' "$tmp/subs.out" && return 0
    kill -0 "$sub_pid" 2>/dev/null || break
    sleep 0.01
  done
  return 1
}

# failed LABEL SHAPE WHAT FILE...: reports a failed run with its output.
failed() {
  echo "$1 $2: $3"
  shift 3
  local f
  for f in "$@"; do
    [ -s "$f" ] && sed 's/^/  /' "$f"
  done
  stop_subs
  stop_server
}

# run_bus LABEL SHAPE: one run of LABEL (hilt, mosquitto-q0, mosquitto-q1)
# in SHAPE (paths, fanout, latency), recorded under "LABEL tcp SHAPE".
run_bus() {
  local label=$1 shape=$2 tag="r$RANDOM$RANDOM"
  # stride: every how many deliveries an observer keeps a latency.
  local paths=10 conns=10 per=1 rate=0 credit=$lag secs=$seconds stride=64
  case $shape in
    fanout) paths=1 per=10 ;;
    latency) rate=$lat_rate credit=0 secs=$lat_seconds stride=1 ;;
  esac
  nodelay_for "$label" "$shape"
  if ! start_broker "$label"; then
    failed "$label" "$shape" "broker did not start" "$tmp/broker.log"
    return
  fi
  local subs pub
  if [ "$label" = hilt ]; then
    local addr=tcp://127.0.0.1:$port
    subs=("$hilt" "$here/hilt_bus.lua" observers "$addr" "$tag" "$paths"
      "$conns" "$per" "$sub_timeout" "$stride")
    pub=("$hilt" "$here/hilt_bus.lua" owner "$addr" "$tag" "$paths"
      "$window" "$secs" "$rate" "$credit")
  else
    local qos=${label#mosquitto-q}
    # 100 subscribers one topic: 100 connections (see the top).
    subs=("$tmp/mqtt_sub" "$port" "$tag" "$paths" $((conns * per))
      "$sub_timeout" "$stride")
    pub=("$tmp/mqtt_pub" "$port" "$tag" "$paths" "$qos" "$window" "$secs"
      "$rate" "$credit")
  fi
  if ! start_subs "${subs[@]}"; then
    failed "$label" "$shape" "observers did not start" "$tmp/subs.out" \
      "$tmp/broker.log"
    return
  fi
  if ! timeout "$client_timeout" "${pub[@]}" >"$tmp/pub.out" 2>&1; then
    failed "$label" "$shape" "owner failed" "$tmp/pub.out" "$tmp/subs.out"
    return
  fi
  wait "$sub_pid" || true
  sub_pid=
  local cpu hwm
  cpu=$(broker_cpu_s "$server_pid")
  hwm=$(hwm_kb "$server_pid")
  stop_server
  if ! grep -q '^deliveries ' "$tmp/subs.out"; then
    failed "$label" "$shape" "observers failed" "$tmp/subs.out"
    return
  fi
  declare -A v=()
  local key value
  while read -r key value; do v[sub_$key]=$value; done <"$tmp/subs.out"
  while read -r key value; do v[pub_$key]=$value; done <"$tmp/pub.out"
  local changes=${v[pub_changes]}
  local want=$((changes * conns * per))
  if [ "${v[sub_complete]:-0}" != 1 ] || [ "${v[sub_deliveries]}" != "$want" ]; then
    echo "$label $shape: incomplete: ${v[sub_deliveries]} of $want deliveries"
  fi
  if [ "${v[sub_disorder]:-0}" != 0 ]; then
    echo "$label $shape: ${v[sub_disorder]} values came out of order"
  fi
  record "$label" tcp "$shape" <<EOF
$(grep -E '^(deliveries|notifications|deliveries_per_sec|lat_p50_us|lat_p99_us) ' "$tmp/subs.out")
changes_per_sec $(awk -v c="${v[pub_changes]}" -v s="${v[pub_owner_seconds]}" 'BEGIN { printf "%.0f", c / s }')
broker_cpu_s $cpu
broker_us_per_delivery $(awk -v c="$cpu" -v d="${v[sub_deliveries]}" 'BEGIN { if (d > 0) printf "%.3f", c * 1e6 / d }')
observers_us_per_delivery $(awk -v c="${v[sub_cpu_s]}" -v d="${v[sub_deliveries]}" 'BEGIN { if (d > 0) printf "%.3f", c * 1e6 / d }')
owner_us_per_change $(awk -v c="${v[pub_cpu_s]}" -v d="${v[pub_changes]}" 'BEGIN { if (d > 0) printf "%.3f", c * 1e6 / d }')
broker_hwm_kb $hwm
EOF
}

# --- the rounds ------------------------------------------------------------------

plan=()
for shape in ${BUS_BENCH_SHAPES:-paths fanout latency}; do
  case $shape in
    paths) plan+=("hilt paths" "mosquitto-q0 paths" "mosquitto-q1 paths") ;;
    fanout | latency) plan+=("hilt $shape" "mosquitto-q0 $shape") ;;
    *) echo "BUS_BENCH_SHAPES: unknown shape '$shape'" >&2; exit 2 ;;
  esac
done
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds" >&2
  for m in "${plan[@]}"; do
    # shellcheck disable=SC2086 # "LABEL SHAPE"
    run_bus $m
  done
done

# --- memory -----------------------------------------------------------------------

# Both sides hold mem_conns sockets, and the shell's limit is theirs.
need_fds=$((mem_conns + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fds" ]; then
  ulimit -n "$need_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
declare -A mem
# run_mem LABEL: the broker with the load in; mem[LABEL_*] its figures.
run_mem() {
  local label=$1 loader
  nodelay_for "$label" memory
  if ! start_broker "$label"; then
    failed "$label" memory "broker did not start" "$tmp/broker.log"
    return
  fi
  if [ "$label" = hilt ]; then
    loader=("$hilt" "$here/hilt_load.lua" "tcp://127.0.0.1:$port")
  else
    loader=("$tmp/mqtt_load" "$port")
  fi
  "${loader[@]}" "$mem_conns" "$mem_states" >"$tmp/load.out" 2>&1 &
  sub_pid=$!
  local i
  for ((i = 0; i < 12000; i++)); do
    grep -q '^load_seconds ' "$tmp/load.out" && break
    kill -0 "$sub_pid" 2>/dev/null || break
    sleep 0.01
  done
  if ! grep -q '^load_seconds ' "$tmp/load.out"; then
    failed "$label" memory "the load did not finish" "$tmp/load.out" \
      "$tmp/broker.log"
    return
  fi
  mem[${label}_load_s]=$(awk '$1 == "load_seconds" { print $2 }' "$tmp/load.out")
  mem[${label}_hwm_kb]=$(hwm_kb "$server_pid")
  mem[${label}_rss_kb]=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$server_pid/status")
  stop_subs
  stop_server
}
if [ "$mem_conns" -gt 0 ]; then
  echo "memory: $mem_conns connections x $mem_states states" >&2
  run_mem hilt
  run_mem mosquitto
fi

# --- the report ------------------------------------------------------------------

med() {
  median "$1 tcp $2 $3"
}

# per_round A B SHAPE KEY: the median of the rounds' A/B ratios.
per_round() {
  awk -v a="${samples["$1 tcp $3 $4"]:-}" -v b="${samples["$2 tcp $3 $4"]:-}" 'BEGIN {
    n = split(a, x, " "); m = split(b, y, " ")
    if (n == 0 || n != m) exit
    for (i = 1; i <= n; i++) r[i] = x[i] / y[i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && r[j - 1] > r[j]; j--) { t = r[j]; r[j] = r[j - 1]; r[j - 1] = t }
    printf "%.2f\n", n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
  }'
}

echo
echo "bus: $rounds round(s); throughput runs ${seconds}s (window $window, credit $lag changes), latency runs ${lat_seconds}s at $lat_rate changes/s"
for m in "${plan[@]}"; do
  read -r label shape <<<"$m"
  if [ "$shape" = latency ]; then
    echo "bus $label $shape p50: $(show "$label tcp $shape lat_p50_us" 1 %.0f us)"
    echo "bus $label $shape p99: $(show "$label tcp $shape lat_p99_us" 1 %.0f us)"
  else
    echo "bus $label $shape: $(show "$label tcp $shape deliveries_per_sec" 1 %.0f deliveries/s)"
    echo "bus $label $shape owner: $(show "$label tcp $shape changes_per_sec" 1 %.0f changes/s)"
  fi
  echo "bus $label $shape broker CPU: $(show "$label tcp $shape broker_us_per_delivery" 1 %.2f us/delivery)"
  echo "bus $label $shape observers' CPU: $(show "$label tcp $shape observers_us_per_delivery" 1 %.2f us/delivery)"
done
# "bus WHAT A/B tcp SHAPE: ratio ..." (rate_ratio, lib.sh).
ratio_of() {
  BENCH_NAME="bus $1" RATE_KEY=$2 rate_ratio "${@:3}"
}
ratio_of deliveries/s deliveries_per_sec hilt mosquitto-q0 tcp paths 2.0
ratio_of deliveries/s deliveries_per_sec hilt mosquitto-q1 tcp paths
ratio_of deliveries/s deliveries_per_sec hilt mosquitto-q0 tcp fanout
ratio_of "broker CPU/delivery" broker_us_per_delivery hilt mosquitto-q0 tcp paths
ratio_of "latency p50" lat_p50_us hilt mosquitto-q0 tcp latency
ratio_of "latency p99" lat_p99_us hilt mosquitto-q0 tcp latency
mib() {
  if [ -n "$1" ]; then
    awk -v k="$1" 'BEGIN { printf "%.1f\n", k / 1024 }'
  fi
}
for label in hilt mosquitto; do
  [ -n "${mem[${label}_hwm_kb]:-}" ] || continue
  echo "bus memory $label: peak RSS $(mib "${mem[${label}_hwm_kb]}") MiB," \
    "RSS $(mib "${mem[${label}_rss_kb]}") MiB after the load ($mem_conns" \
    "connections x $mem_states states, loaded in ${mem[${label}_load_s]} s)"
done

# The table: medians; ratios are hilt/mosquitto, the median of the rounds'.
row() {
  printf '%-34s %12s %12s %14s  %s\n' "$@"
}
# fmt FORMAT VALUE: VALUE in FORMAT, or "-" if there is none.
fmt() {
  if [ -n "$2" ]; then
    # shellcheck disable=SC2059 # the format is the caller's
    printf "$1" "$2"
  else
    echo "-"
  fi
}
echo
row "bus summary (medians)" hilt mosquitto hilt/mosquitto target
for shape in paths fanout; do
  a=$(med hilt "$shape" deliveries_per_sec)
  b=$(med mosquitto-q0 "$shape" deliveries_per_sec)
  pr=$(per_round hilt mosquitto-q0 "$shape" deliveries_per_sec)
  t=
  if [ "$shape" = fanout ] && [ -n "$pr" ]; then
    t="target >= 2.0x: $(verdict "$pr" ">=" 2.0)"
  elif [ -n "$pr" ]; then
    t="goal >= 2.0x: $(verdict "$pr" ">=" 2.0)"
  fi
  row "deliveries/s, $shape (q0)" "$(fmt %.0f "$a")" "$(fmt %.0f "$b")" \
    "$(fmt %.2fx "$pr")" "$t"
done
a=$(med hilt paths deliveries_per_sec)
b=$(med mosquitto-q1 paths deliveries_per_sec)
row "deliveries/s, paths (q1)" "$(fmt %.0f "$a")" "$(fmt %.0f "$b")" \
  "$(fmt %.2fx "$(per_round hilt mosquitto-q1 paths deliveries_per_sec)")"
a=$(med hilt paths broker_us_per_delivery)
b=$(med mosquitto-q0 paths broker_us_per_delivery)
row "broker CPU us/delivery, paths" "$(fmt %.2f "$a")" "$(fmt %.2f "$b")" \
  "$(fmt %.2fx "$(per_round hilt mosquitto-q0 paths broker_us_per_delivery)")" \
  "lower is better"
a=$(med hilt paths observers_us_per_delivery)
b=$(med mosquitto-q0 paths observers_us_per_delivery)
row "observers' CPU us/delivery, paths" "$(fmt %.2f "$a")" "$(fmt %.2f "$b")" \
  "$(fmt %.2fx "$(per_round hilt mosquitto-q0 paths observers_us_per_delivery)")" \
  "lower is better"
for p in p50 p99; do
  a=$(med hilt latency "lat_${p}_us")
  b=$(med mosquitto-q0 latency "lat_${p}_us")
  row "latency $p at $lat_rate/s (us)" "$(fmt %.0f "$a")" "$(fmt %.0f "$b")" \
    "$(fmt %.2fx "$(per_round hilt mosquitto-q0 latency "lat_${p}_us")")" \
    "lower is better"
done
if [ "$mem_conns" -gt 0 ]; then
  a=$(mib "${mem[hilt_hwm_kb]:-}")
  b=$(mib "${mem[mosquitto_hwm_kb]:-}")
  t=
  [ -n "$a" ] && t="target <= 256 MiB: $(verdict "$a" "<=" 256)"
  r=-
  [ -n "$a" ] && [ -n "$b" ] && r=$(ratio "$a" "$b")
  row "peak RSS MiB, $mem_conns conns x $mem_states" "${a:--}" "${b:--}" "$r" "$t"
fi
