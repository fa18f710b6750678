#!/usr/bin/env bash
# Start-up time and peak memory of `hilt -e ''` against `lua5.4 -e ''`,
# measured in the same run. Usage: bench/startup.sh [path/to/hilt]
set -euo pipefail
hilt=${1:-build/hilt}
runs=${RUNS:-300}

elapsed() {
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null; done
  end=$(date +%s%N)
  echo $(((end - start) / runs))
}

peak_kib() {
  /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n1
}

best_h=999999999 best_l=999999999
for _ in 1 2 3; do
  h=$(elapsed "$hilt" -e '')
  l=$(elapsed lua5.4 -e '')
  [ "$h" -lt "$best_h" ] && best_h=$h
  [ "$l" -lt "$best_l" ] && best_l=$l
done
rss_h=$(peak_kib "$hilt" -e '')
rss_l=$(peak_kib lua5.4 -e '')
awk -v h="$best_h" -v l="$best_l" -v rh="$rss_h" -v rl="$rss_l" 'BEGIN {
  printf "startup  hilt -e \x27\x27 %.0f us, lua5.4 -e \x27\x27 %.0f us, ratio %.2fx (target <= 2x)\n", h / 1000, l / 1000, h / l
  printf "peak RSS hilt %d KiB, lua5.4 %d KiB, ratio %.2fx (target <= 1.5x)\n", rh, rl, rh / rl
}'
