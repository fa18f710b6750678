#!/usr/bin/env bash
# Serial port throughput over a pseudo-terminal: hilt (hilt_pty.lua:
# serial.open on the slave end through the termios fallback, the master
# end a stream of serial.openpty, a task writing 64 KiB at a time into one
# and the main task reading the other) against raw_pty.c, a single-threaded
# C poll() loop over the same kind of pty pair with the same writes, built
# per run into a temp dir, never into the source tree. Both ways: down
# (device -> port) and up (port -> device). Each round runs both
# implementations back to back per direction; the report gives each
# rate's median, the ratio of the medians and the median of the per-round
# ratios (bench/rpc/lib.sh). Target: hilt >= 0.8x raw-c.
#
# Usage: bench/serial/run.sh   (SERIAL_BENCH_MIB per run, default 64;
#   SERIAL_BENCH_ROUNDS, default 5; QUICK=1 for one short round, to check
#   that it runs; HILT, the binary)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rpc=$(cd "$here/../rpc" && pwd)
if [ -n "${QUICK:-}" ]; then
  SERIAL_BENCH_ROUNDS=1 SERIAL_BENCH_MIB=8
fi
RPC_BENCH_ROUNDS=${SERIAL_BENCH_ROUNDS:-5}
mib=${SERIAL_BENCH_MIB:-64}
# shellcheck source=SCRIPTDIR/../rpc/lib.sh
. "$rpc/lib.sh"
BENCH_NAME=serial
RATE_KEY=mb_per_sec
directions=(down up)

hilt=${HILT:-$here/../../build/hilt}
if [ ! -x "$hilt" ]; then
  skip "serial" "no hilt binary at $hilt: build it first (scripts/bench does)"
  exit 0
fi
if ! command -v cc >/dev/null; then
  skip "serial" "needs cc for its baseline: apt-get install build-essential"
  exit 0
fi
cc -O2 -o "$tmp/raw_pty" "$here/raw_pty.c"

# measure LABEL DIRECTION PROG...: one run, its rate recorded under LABEL.
measure() {
  local label=$1 dir=$2 out
  shift 2
  if ! out=$(timeout 120 "$@" "$mib" "$dir" 2>&1); then
    echo "serial $label pty $dir: failed"
    printf '%s\n' "$out" | sed 's/^/  /'
    return
  fi
  record "$label" pty "$dir" <<<"$out"
}

for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds" >&2
  for dir in "${directions[@]}"; do
    measure raw-c "$dir" "$tmp/raw_pty"
    measure hilt "$dir" "$hilt" "$here/hilt_pty.lua"
  done
done

for dir in "${directions[@]}"; do
  for label in raw-c hilt; do
    echo "serial $label pty $dir ($mib MiB): $(show \
      "$label pty $dir mb_per_sec" 1 %.1f MB/s)"
  done
done
for dir in "${directions[@]}"; do
  rate_ratio hilt raw-c pty "$dir" 0.8
done
