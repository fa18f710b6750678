#!/usr/bin/env bash
# Streams between a hilt server process and a hilt client process, over TCP
# loopback and a unix socket, pinned to one core (taskset -c 0 on both) and
# unpinned; medians of RPC_BENCH_ROUNDS rounds as in run.sh (lib.sh), each
# next to a baseline measured in the same rounds:
#   items     streamed small integers (`for v in conn:stream("items", n)`),
#             items/s, against the same stream written with luv and
#             lua-messagepack (luv_stream.lua);
#   bytes     1 MiB writes read with stream:read() until nil, with the
#             default window and a 4 MiB one, GB/s, against raw_bulk.c
#             moving the same bytes with plain libuv;
#   inflight  10,000 calls in flight on one connection, each handler
#             sleeping 0.5 s: the peak RSS (VmHWM) of client and server
#             against an idle `hilt -e 'require("hilt").sleep(1)'`, and the
#             time for all of them to return.
# Usage: bench/rpc/stream.sh (run.sh runs it last; same environment)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

# The targets the benchmarks answer to.
items_target=500000        # items/s between two hilt processes
bytes_target=1             # GB/s over loopback
inflight=10000             # calls in flight on one connection...
inflight_target_mib=64     # ...within this peak RSS
mib4=$((4 << 20))

hilt=${HILT:-$here/../../build/hilt}
if [ ! -x "$hilt" ]; then
  skip "stream" "no hilt binary at $hilt: build it first (scripts/bench does)"
  exit 0
fi
impl hilt "$hilt" "$here/hilt_stream.lua"

measurement items-hilt hilt items "$seconds"
if lua5.4 -e 'require("luv")
              package.path = "/usr/share/lua/5.3/?.lua;" .. package.path
              require("MessagePack")' 2>/dev/null; then
  impl luv lua5.4 "$here/luv_stream.lua"
  measurement items-luv luv items "$seconds"
else
  skip "stream items luv" "needs lua5.4, lua-luv and lua-messagepack"
fi

# raw-c: built per run into the temp dir, never into the source tree.
if command -v cc >/dev/null && pkg-config --exists libuv 2>/dev/null; then
  # shellcheck disable=SC2046 # pkg-config output is meant to be split
  cc -O2 -o "$tmp/raw_bulk" "$here/raw_bulk.c" \
    $(pkg-config --cflags --libs libuv)
  impl raw-c "$tmp/raw_bulk"
  measurement bytes-raw-c raw-c "$seconds"
else
  skip "stream bytes raw-c" "needs cc and libuv1-dev: apt-get install build-essential libuv1-dev pkg-config"
fi
measurement bytes-hilt hilt bytes "$seconds"
measurement bytes-hilt-4m hilt bytes "$seconds" "$mib4"
measurement inflight-hilt hilt inflight "$inflight"

# The baseline for the in-flight RSS, once a round.
idle_hwm() {
  "$hilt" -e 'require("hilt").sleep(1)' &
  local pid=$!
  sleep 0.5
  samples["idle - - hwm_kb"]+=" $(hwm_kb "$pid")"
  wait "$pid"
}

run_rounds idle_hwm

# medians "LABEL..." KEY SCALE FORMAT UNIT: for every transport and
# pinning, one line per label with its median of KEY (show's format); a
# label WHAT-IMPL prints as "stream WHAT IMPL".
medians() {
  local labels=$1 transport mode label
  for transport in "${transports[@]}"; do
    for mode in "${modes[@]}"; do
      for label in $labels; do
        planned "$label" || continue
        echo "stream ${label%%-*} ${label#*-} $transport $mode: $(show \
          "$label $transport $mode $2" "$3" "$4" "$5")"
      done
    done
  done
}

# against A B KEY SCALE FORMAT TARGET UNIT: for every transport and
# pinning, "A/B: R" from the medians of KEY and A's median, divided by
# SCALE, against TARGET.
against() {
  local transport mode a b v line
  for transport in "${transports[@]}"; do
    for mode in "${modes[@]}"; do
      a=$(median "$1 $transport $mode $3")
      b=$(median "$2 $transport $mode $3")
      if [ -z "$a" ]; then continue; fi
      line="stream ${1%%-*} ${1#*-}/${2#*-} $transport $mode:"
      if [ -n "$b" ]; then
        line+=" $(ratio "$a" "$b"),"
      else
        line+=" (no ${2#*-} to compare with),"
      fi
      v=$(awk -v m="$a" -v s="$4" 'BEGIN { print m / s }')
      # shellcheck disable=SC2059 # the format is the caller's
      line+=" ${1#*-} $(printf "$5" "$v") $7 (target >= $6 $7:"
      echo "$line $(verdict "$v" ">=" "$6"))"
    done
  done
}

medians "items-hilt items-luv" items_per_sec 1 %.0f items/s
against items-hilt items-luv items_per_sec 1 %.0f "$items_target" items/s

medians "bytes-raw-c bytes-hilt bytes-hilt-4m" bytes_per_sec 1e9 %.2f GB/s
against bytes-hilt bytes-raw-c bytes_per_sec 1e9 %.2f "$bytes_target" GB/s
against bytes-hilt-4m bytes-raw-c bytes_per_sec 1e9 %.2f "$bytes_target" GB/s

echo "stream inflight idle hilt: peak RSS $(show "idle - - hwm_kb" 1024 %.1f MiB)"
idle=$(median "idle - - hwm_kb")
for transport in "${transports[@]}"; do
  for mode in "${modes[@]}"; do
    key="inflight-hilt $transport $mode"
    calls=$(median "$key calls")
    if [ -z "$calls" ]; then
      echo "stream inflight hilt $transport $mode: failed in every round"
      continue
    fi
    echo "stream inflight hilt $transport $mode: $calls of $inflight calls" \
      "returned in $(show "$key seconds" 1 %.2f s); each handler sleeps 0.5 s"
    for side in client server; do
      hwm=$(median "$key ${side}_hwm_kb")
      echo "stream inflight hilt $transport $mode: $side peak RSS" \
        "$(show "$key ${side}_hwm_kb" 1024 %.1f MiB)," \
        "${idle:+$(ratio "$hwm" "$idle") idle hilt}" \
        "(target <= $inflight_target_mib MiB:" \
        "$(verdict "$hwm" "<=" $((inflight_target_mib * 1024))))"
    done
  done
done
