#!/usr/bin/env bash
# Console benchmarks: console:expect scanning 1 MiB of boot log for a
# pattern against string.find over the same bytes in one buffer
# (expect.lua), for a pattern with a capture that backtracks and for a
# plain one. HILT: the binary (default build/hilt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
HILT=${HILT:-$here/../../build/hilt}
mib=${CONSOLE_BENCH_MIB:-1}
rounds=${CONSOLE_BENCH_ROUNDS:-5}
for pattern in '(%w+) login: $' 'login: $'; do
  echo "pattern '$pattern'"
  "$HILT" "$here/expect.lua" "$mib" "$rounds" "$pattern"
done
