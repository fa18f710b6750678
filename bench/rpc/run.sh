#!/usr/bin/env bash
# Sequential unary calls with a 32-byte argument, one client and one server
# process, over TCP loopback and a unix socket; each pair runs pinned to one
# core (taskset -c 0 on both) and unpinned. Rates are calls/s, the median
# of RPC_BENCH_ROUNDS rounds (lib.sh); ratios are of medians, against raw-c,
# the raw libuv ping-pong that bounds every libuv RPC layer, and hilt's
# against luv, what a Lua user would write without hilt. Then stream.sh
# measures streams between hilt processes.
# Usage: bench/rpc/run.sh    (RPC_BENCH_SECONDS per run, default 2;
#                             RPC_BENCH_ROUNDS, default 3; HILT, the binary)
#
# Each implementation's client is `PROG client ADDR SECONDS` and prints
# "calls_per_sec N". Adding one is an impl and a measurement line.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

# raw-c: built per run into the temp dir, never into the source tree.
if command -v cc >/dev/null && pkg-config --exists libuv 2>/dev/null; then
  # shellcheck disable=SC2046 # pkg-config output is meant to be split
  cc -O2 -o "$tmp/raw_pingpong" "$here/raw_pingpong.c" \
    $(pkg-config --cflags --libs libuv)
  add raw-c "$tmp/raw_pingpong"
else
  skip "rpc raw-c" "needs cc and libuv1-dev: apt-get install build-essential libuv1-dev pkg-config"
fi

# hilt: the build's release binary (scripts/bench builds it), or HILT.
hilt=${HILT:-$here/../../build/hilt}
if [ -x "$hilt" ]; then
  add hilt "$hilt" "$here/hilt_echo.lua"
else
  skip "rpc hilt" "no hilt binary at $hilt: build it first (scripts/bench does)"
fi

if ! command -v lua5.4 >/dev/null; then
  skip "rpc luv" "needs lua5.4: apt-get install lua5.4"
elif ! lua5.4 -e 'require("luv")' 2>/dev/null; then
  skip "rpc luv" "needs lua-luv: apt-get install lua-luv"
elif ! lua5.4 -e 'package.path = "/usr/share/lua/5.3/?.lua;" .. package.path
                  require("MessagePack")' 2>/dev/null; then
  skip "rpc luv" "needs lua-messagepack: apt-get install lua-messagepack"
else
  add luv lua5.4 "$here/luv_echo.lua"
fi

if [ -x "$py" ] && "$py" -c 'import grpc' 2>/dev/null; then
  add grpc-py "$py" "$here/grpc_echo.py"
else
  skip "rpc grpc-py" "needs python3-grpcio: apt-get install python3-grpcio"
fi

run_rounds :

show_rates

for transport in "${transports[@]}"; do
  for mode in "${modes[@]}"; do
    for name in "${names[@]}"; do
      [ "$name" = raw-c ] && continue
      target=
      [ "$name" = hilt ] && [ "$mode" = pinned ] && target=0.6
      rate_ratio "$name" raw-c "$transport" "$mode" ${target:+"$target"}
    done
    # The targets are on pinned runs, which measure the CPU cost of a round
    # trip. Unpinned, every implementation waits on wake-ups across cores,
    # which raw-c pays too, so the ratios crowd together; they are shown.
    if [ "$mode" = pinned ]; then
      rate_ratio hilt luv "$transport" "$mode" 1.8
    else
      rate_ratio hilt luv "$transport" "$mode"
    fi
  done
done

"$here/stream.sh"
