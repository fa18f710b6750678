#!/usr/bin/env bash
# Unary calls through a driver tree, as a lab script makes them: `hilt
# serve lab.lua` (a composite `dut` holding bench.echo, echo_driver.lua) and
# a client tree from hilt.connect calling lab.dut.echo:echo(x) in a loop
# with bench/rpc's 32-byte argument. In the same rounds run bench/rpc's
# baselines: raw-c (the raw libuv ping-pong), luv (luv + lua-messagepack,
# what a Lua user would write without hilt) and hilt-rpc (hilt.rpc's bare
# echo, so hilt-tree/hilt-rpc is what the driver layer costs). The exporter
# logs every call at info on stderr: `hilt-tree` runs it as a user would
# (the default level, stderr to a file), `hilt-tree-warn` with
# HILT_LOG=warn. Each pair runs pinned to one core (taskset -c 0 on both)
# and unpinned; rates are the median of RPC_BENCH_ROUNDS rounds
# (bench/rpc/lib.sh), ratios are of medians, and of each round's pair run
# back to back.
#
# Then startup.py: the time from spawning `hilt serve examples/lab.lua` to
# its "listening on" line and to its first answered call, against `hilt -e
# ''` and `lua5.4 -e ''` run in between.
#
# Usage: bench/driver/run.sh   (RPC_BENCH_SECONDS per run, default 1;
#   RPC_BENCH_ROUNDS, default 5; DRIVER_BENCH_TRANSPORTS, default "tcp",
#   or "tcp unix"; DRIVER_STARTUP_RUNS, default 30; QUICK=1 for one
#   short round, to check that it runs; HILT, the binary)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rpc=$(cd "$here/../rpc" && pwd)
# More, shorter rounds than bench/rpc's: the per-round ratios are what
# cancel this machine's slow spells, and five of them in about a minute
# say more than three.
if [ -n "${QUICK:-}" ]; then
  RPC_BENCH_ROUNDS=1 RPC_BENCH_SECONDS=0.5 DRIVER_STARTUP_RUNS=10
fi
RPC_BENCH_ROUNDS=${RPC_BENCH_ROUNDS:-5}
RPC_BENCH_SECONDS=${RPC_BENCH_SECONDS:-1}
startup_runs=${DRIVER_STARTUP_RUNS:-30}
# shellcheck source=SCRIPTDIR/../rpc/lib.sh
. "$rpc/lib.sh"
BENCH_NAME=driver
# What the driver layer adds is per call, whatever the transport; tcp alone
# keeps a run near a minute.
read -ra transports <<<"${DRIVER_BENCH_TRANSPORTS:-tcp}"

hilt=${HILT:-$here/../../build/hilt}
if [ ! -x "$hilt" ]; then
  skip "driver" "no hilt binary at $hilt: build it first (scripts/bench does)"
  exit 0
fi

# raw-c: built per run into the temp dir, never into the source tree.
if command -v cc >/dev/null && pkg-config --exists libuv 2>/dev/null; then
  # shellcheck disable=SC2046 # pkg-config output is meant to be split
  cc -O2 -o "$tmp/raw_pingpong" "$rpc/raw_pingpong.c" \
    $(pkg-config --cflags --libs libuv)
  add raw-c "$tmp/raw_pingpong"
else
  skip "driver raw-c" "needs cc and libuv1-dev: apt-get install build-essential libuv1-dev pkg-config"
fi

# A round runs them in the order added, each next to what it is compared
# with: raw-c, hilt-rpc, luv, hilt-tree, hilt-tree-warn.
add hilt-rpc "$hilt" "$rpc/hilt_echo.lua"

if ! command -v lua5.4 >/dev/null; then
  skip "driver luv" "needs lua5.4: apt-get install lua5.4"
elif ! lua5.4 -e 'require("luv")' 2>/dev/null; then
  skip "driver luv" "needs lua-luv: apt-get install lua-luv"
elif ! lua5.4 -e 'package.path = "/usr/share/lua/5.3/?.lua;" .. package.path
                  require("MessagePack")' 2>/dev/null; then
  skip "driver luv" "needs lua-messagepack: apt-get install lua-messagepack"
else
  add luv lua5.4 "$rpc/luv_echo.lua"
fi

# env and driver.sh exec, so the server's pid is still hilt's.
add hilt-tree "$here/driver.sh" "$hilt"
add hilt-tree-warn env HILT_LOG=warn "$here/driver.sh" "$hilt"

run_rounds :

show_rates

for transport in "${transports[@]}"; do
  for mode in "${modes[@]}"; do
    # The target is on pinned runs, which measure the CPU cost of a round
    # trip; unpinned, wake-ups across cores crowd the ratios together.
    target=
    [ "$mode" = pinned ] && target=1.5
    rate_ratio hilt-tree luv "$transport" "$mode" ${target:+"$target"}
    rate_ratio hilt-tree-warn luv "$transport" "$mode"
    rate_ratio hilt-tree raw-c "$transport" "$mode"
    # What the driver layer costs over hilt.rpc's bare echo, and what
    # logging every call at info costs over HILT_LOG=warn.
    rate_ratio hilt-tree hilt-rpc "$transport" "$mode"
    rate_ratio hilt-tree-warn hilt-rpc "$transport" "$mode"
    rate_ratio hilt-tree hilt-tree-warn "$transport" "$mode"
    rate_ratio hilt-rpc luv "$transport" "$mode"
  done
done

# --- startup --------------------------------------------------------------------

if ! command -v lua5.4 >/dev/null; then
  skip "driver startup" "needs lua5.4 for its baseline: apt-get install lua5.4"
  exit 0
fi
if ! "$py" -c 'import msgpack' 2>/dev/null; then
  skip "driver startup first call" "needs python3-msgpack: apt-get install python3-msgpack"
fi
declare -A st
while read -r key value; do
  st[$key]=$value
done < <("$py" "$here/startup.py" "$hilt" "$here/../../examples/lab.lua" \
  dut/power/state "$startup_runs")
if [ -z "${st[hilt_e_ms_median]:-}" ]; then
  echo "driver startup: failed (startup.py's error is above)"
  exit 1
fi

# startup_line KEY WHAT: the median and worst run of KEY, in ms, its ratio
# to `hilt -e ''` and `lua5.4 -e ''`, and whether it meets 50 ms.
startup_line() {
  local m=${st[${1}_median]:-}
  [ -n "$m" ] || return 0
  echo "driver startup $2: $(printf %.1f "$m") ms (median of" \
    "$startup_runs, worst $(printf %.1f "${st[${1}_max]}") ms);" \
    "$(ratio "$m" "${st[hilt_e_ms_median]}") of hilt -e '', $(ratio "$m" \
    "${st[lua_e_ms_median]}") of lua5.4 -e '' (target <= 50 ms:" \
    "$(verdict "$m" "<=" 50))"
}
echo "driver startup baselines: hilt -e '' $(printf %.1f \
  "${st[hilt_e_ms_median]}") ms, lua5.4 -e '' $(printf %.1f \
  "${st[lua_e_ms_median]}") ms (medians, start to exit)"
startup_line serve_listening_ms "hilt serve examples/lab.lua to 'listening on'"
startup_line serve_first_call_ms "hilt serve examples/lab.lua to the first answered call (dut/power/state)"
