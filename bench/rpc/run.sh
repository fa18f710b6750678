#!/usr/bin/env bash
# Sequential unary calls with a 32-byte argument, one client and one server
# process, over TCP loopback and a unix socket; each pair runs pinned to one
# core (taskset -c 0 on both) and unpinned. Rates are calls/s, and ratios are
# against raw-c, the raw libuv ping-pong that bounds every libuv RPC layer.
# Usage: bench/rpc/run.sh    (RPC_BENCH_SECONDS per measurement, default 2)
#
# Each implementation is one program: `PROG server ADDR` serves until killed;
# `PROG client ADDR SECONDS` calls for SECONDS and prints "calls_per_sec N".
# ADDR is tcp:PORT (127.0.0.1) or unix:PATH. Adding one is one run_pair line.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
seconds=${RPC_BENCH_SECONDS:-2}
# Debian's Python, which has python3-grpcio, whatever python3 is on PATH.
py=/usr/bin/python3

tmp=$(mktemp -d)
server_pid=
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

declare -A rate # "NAME TRANSPORT MODE" -> calls/s
names=()

# Asks the kernel for a free port; another process could take it before the
# server binds, which is unlikely enough for a benchmark.
free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls until ADDR accepts connections, for up to 10 s, giving up early if
# the server process PID died. Connecting rather than reading a "ready" line
# keeps the contract for a new implementation down to serve and call.
wait_listening() {
  "$py" - "$1" "$2" <<'EOF'
import os, socket, sys, time
addr, pid = sys.argv[1], int(sys.argv[2])
kind, _, where = addr.partition(":")
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    if kind == "tcp":
        s, target = socket.socket(), ("127.0.0.1", int(where))
    else:
        s, target = socket.socket(socket.AF_UNIX), where
    try:
        s.connect(target)
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
    finally:
        s.close()
sys.exit(1)
EOF
}

# measure NAME TRANSPORT MODE PROG...: one server, one client run.
measure() {
  local name=$1 transport=$2 mode=$3
  shift 3
  local pin=() addr out n
  [ "$mode" = pinned ] && pin=(taskset -c 0)
  if [ "$transport" = tcp ]; then
    addr=tcp:$(free_port)
  else
    addr=unix:$tmp/$name.sock
  fi
  local label="rpc $name $transport $mode"
  "${pin[@]}" "$@" server "$addr" >"$tmp/server.log" 2>&1 &
  server_pid=$!
  if ! wait_listening "$addr" "$server_pid"; then
    echo "$label: server did not start"
    sed 's/^/  /' "$tmp/server.log"
    stop_server
    return
  fi
  out=$("${pin[@]}" "$@" client "$addr" "$seconds" 2>&1) || true
  stop_server
  n=$(awk '$1 == "calls_per_sec" { print $2 }' <<<"$out")
  if [ -z "$n" ]; then
    echo "$label: client failed"
    printf '  %s\n' "$out"
    return
  fi
  rate["$name $transport $mode"]=$n
  echo "$label: $n calls/s"
}

# run_pair NAME PROG...: every transport, pinned and unpinned.
run_pair() {
  local name=$1
  shift
  names+=("$name")
  local transport mode
  for transport in tcp unix; do
    for mode in pinned unpinned; do
      measure "$name" "$transport" "$mode" "$@"
    done
  done
}

skip() {
  echo "rpc $1: skipped ($2)"
}

# raw-c: built per run into the temp dir, never into the source tree.
if command -v cc >/dev/null && pkg-config --exists libuv 2>/dev/null; then
  # shellcheck disable=SC2046 # pkg-config output is meant to be split
  cc -O2 -o "$tmp/raw_pingpong" "$here/raw_pingpong.c" \
    $(pkg-config --cflags --libs libuv)
  run_pair raw-c "$tmp/raw_pingpong"
else
  skip raw-c "needs cc and libuv1-dev: apt-get install build-essential libuv1-dev pkg-config"
fi

# hilt: the build's release binary (scripts/bench builds it), or HILT.
hilt=${HILT:-$here/../../build/hilt}
if [ -x "$hilt" ]; then
  run_pair hilt "$hilt" "$here/hilt_echo.lua"
else
  skip hilt "no hilt binary at $hilt: build it first (scripts/bench does)"
fi

if ! command -v lua5.4 >/dev/null; then
  skip luv "needs lua5.4: apt-get install lua5.4"
elif ! lua5.4 -e 'require("luv")' 2>/dev/null; then
  skip luv "needs lua-luv: apt-get install lua-luv"
elif ! lua5.4 -e 'package.path = "/usr/share/lua/5.3/?.lua;" .. package.path
                  require("MessagePack")' 2>/dev/null; then
  skip luv "needs lua-messagepack: apt-get install lua-messagepack"
else
  run_pair luv lua5.4 "$here/luv_echo.lua"
fi

if [ -x "$py" ] && "$py" -c 'import grpc' 2>/dev/null; then
  run_pair grpc-py "$py" "$here/grpc_echo.py"
else
  skip grpc-py "needs python3-grpcio: apt-get install python3-grpcio"
fi

# Ratios pair each rate with raw-c's from the same transport and pinning.
[ -n "${rate["raw-c tcp pinned"]:-}${rate["raw-c unix pinned"]:-}" ] ||
  echo "rpc ratios: skipped (no raw-c rates to compare against)"
for name in "${names[@]}"; do
  [ "$name" = raw-c ] && continue
  for transport in tcp unix; do
    for mode in pinned unpinned; do
      key="$transport $mode"
      base=${rate["raw-c $key"]:-}
      n=${rate["$name $key"]:-}
      if [ -z "$base" ] || [ -z "$n" ]; then continue; fi
      awk -v n="$n" -v b="$base" -v l="$name/raw-c $key" \
        'BEGIN { printf "%s %.2fx\n", l, n / b }'
    done
  done
done
