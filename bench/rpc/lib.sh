# shellcheck shell=bash
# Shared by bench/rpc/run.sh and stream.sh (sourced, after setting `here`):
# server and client process pairs, repeated in rounds, summarised by
# medians. Makes $tmp, and removes it and any server left on exit.
#
# An implementation is one program: `PROG server ADDR` serves until killed;
# `PROG client ADDR ARGS...` measures and prints "KEY VALUE" lines. ADDR is
# tcp:PORT (127.0.0.1) or unix:PATH.
#
# The machines here are shared and noisy (single runs vary by 30%), so each
# measurement runs in RPC_BENCH_ROUNDS rounds (default 3). A round runs every
# implementation once per transport and pinning, the implementations of one
# transport and pinning one after another, so that a slow spell hits them
# alike; the report is each measurement's median, and ratios are of medians.

rounds=${RPC_BENCH_ROUNDS:-3}
seconds=${RPC_BENCH_SECONDS:-2}
# Seconds after which a client counts as hung (a bug in what is measured).
client_timeout=$(awk -v s="$seconds" 'BEGIN { print int(s * 5 + 30) }')
transports=(tcp unix)
modes=(pinned unpinned) # pinned: both processes on core 0 (taskset -c 0)
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

# "LABEL TRANSPORT MODE KEY" -> the values of every round, space-separated.
declare -A samples
# The measurements of a round: "LABEL IMPL CLIENT_ARGS...", in order.
plan=()

# impl NAME PROG...: registers implementation NAME, run as PROG.
impl() {
  local var=prog_${1//-/_}
  shift
  declare -ga "$var"
  local -n prog=$var
  # shellcheck disable=SC2034 # prog is a nameref: this sets $var
  prog=("$@")
}

# measurement LABEL IMPL CLIENT_ARGS...: adds to every round a run of IMPL
# whose client gets CLIENT_ARGS, recorded under LABEL.
measurement() {
  plan+=("$*")
}

# planned LABEL: whether a measurement is recorded under LABEL.
planned() {
  local m
  for m in "${plan[@]}"; do
    [ "${m%% *}" = "$1" ] && return 0
  done
  return 1
}

skip() {
  echo "$1: skipped ($2)"
}

# Asks the kernel for a free port; another process could take it before the
# server binds, which is unlikely enough for a benchmark.
free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls until ADDR accepts connections, for up to 10 s, giving up early if
# the server process PID died. Connecting rather than reading a "ready" line
# keeps the contract for a new implementation down to serve and measure.
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

# hwm_kb PID: the peak resident set of a live process, in KiB.
hwm_kb() {
  awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"
}

# record LABEL TRANSPORT MODE: adds every "KEY VALUE" line of stdin to the
# samples.
record() {
  local key value
  while read -r key value; do
    [ -n "$value" ] && samples["$1 $2 $3 $key"]+=" $value"
  done
}

# run_pair LABEL IMPL TRANSPORT MODE CLIENT_ARGS...: one server and one
# client. Records the client's lines and the server's peak RSS after the
# client ended (server_hwm_kb); reports a failure with the process's output.
run_pair() {
  local label=$1 transport=$3 mode=$4
  local -n cmd=prog_${2//-/_}
  shift 4
  local pin=() addr out
  [ "$mode" = pinned ] && pin=(taskset -c 0)
  if [ "$transport" = tcp ]; then
    addr=tcp:$(free_port)
  else
    addr=unix:$tmp/server.sock
    rm -f "$tmp/server.sock" # some servers fail on a stale socket
  fi
  # taskset execs the program, so $! is the server itself.
  "${pin[@]}" "${cmd[@]}" server "$addr" >"$tmp/server.log" 2>&1 &
  server_pid=$!
  if ! wait_listening "$addr" "$server_pid"; then
    echo "$label $transport $mode: server did not start"
    sed 's/^/  /' "$tmp/server.log"
    stop_server
    return
  fi
  if ! out=$(timeout "$client_timeout" "${pin[@]}" "${cmd[@]}" client \
    "$addr" "$@" 2>&1); then
    echo "$label $transport $mode: client failed"
    printf '%s\n' "$out" | sed 's/^/  /'
    stop_server
    return
  fi
  record "$label" "$transport" "$mode" <<<"$out
server_hwm_kb $(hwm_kb "$server_pid")"
  stop_server
}

# run_round: every measurement of the plan once, for each transport and
# pinning.
run_round() {
  local transport mode m w
  for transport in "${transports[@]}"; do
    for mode in "${modes[@]}"; do
      for m in "${plan[@]}"; do
        read -ra w <<<"$m"
        run_pair "${w[0]}" "${w[1]}" "$transport" "$mode" "${w[@]:2}"
      done
    done
  done
}

# run_rounds HOOK: run_round, RPC_BENCH_ROUNDS times, with progress on
# stderr; HOOK (a command, `:` for none) runs after each round.
run_rounds() {
  local r
  for ((r = 1; r <= rounds; r++)); do
    echo "round $r/$rounds" >&2
    run_round
    "$@"
  done
}

# samples_of LABEL TRANSPORT MODE KEY: the recorded values, sorted.
samples_of() {
  local v
  for v in ${samples["$*"]:-}; do echo "$v"; done | sort -g
}

# median LABEL TRANSPORT MODE KEY: the median of the recorded values, or
# nothing if there are none.
median() {
  samples_of "$@" | awk '{ v[NR] = $1 }
    END { if (NR) printf "%.17g\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# show KEY SCALE FORMAT UNIT: the median of KEY ("LABEL TRANSPORT MODE
# KEY") divided by SCALE, printed with FORMAT, then UNIT and every round's
# value; or that every round failed.
show() {
  samples_of "$1" | awk -v s="$2" -v f="$3" -v u="$4" '
    { v[NR] = $1; all = all " " sprintf(f, $1 / s) }
    END {
      if (NR == 0) { print "failed in every round"; exit }
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf f " %s (median of %d:%s)\n", m / s, u, NR, all
    }'
}

# ratio A B: A/B with two decimals.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'
}

# verdict A OP B: "met" if A OP B holds (OP is >= or <=), else "missed".
verdict() {
  awk -v a="$1" -v op="$2" -v b="$3" \
    'BEGIN { print (op == ">=" ? a >= b : a <= b) ? "met" : "missed" }'
}

# rate_ratio A B TRANSPORT MODE [TARGET]: "$BENCH_NAME A/B ...: R" from the medians,
# and whether R meets TARGET if one is given. The rates are the key
# $RATE_KEY (default calls_per_sec).
rate_ratio() {
  local a b r line key=${RATE_KEY:-calls_per_sec}
  a=$(median "$1 $3 $4 $key")
  b=$(median "$2 $3 $4 $key")
  if [ -z "$a" ] || [ -z "$b" ]; then return; fi
  line="${BENCH_NAME:-rpc} $1/$2 $3 $4: $(ratio "$a" "$b")"
  if [ -n "${5:-}" ]; then
    r=$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')
    line+=" (target >= ${5}x: $(verdict "$r" ">=" "$5"))"
  fi
  # The two ran back to back in each round, so a ratio per round cancels
  # the machine's slow spells better than the ratio of medians.
  local per
  per=$(awk -v a="${samples["$1 $3 $4 $key"]:-}" \
            -v b="${samples["$2 $3 $4 $key"]:-}" 'BEGIN {
    n = split(a, x, " "); m = split(b, y, " ")
    if (n == 0 || n != m) exit
    for (i = 1; i <= n; i++) { r[i] = x[i] / y[i]; all = all sprintf(" %.2f", r[i]) }
    for (i = 2; i <= n; i++) for (j = i; j > 1 && r[j - 1] > r[j]; j--) { t = r[j]; r[j] = r[j - 1]; r[j - 1] = t }
    printf "%.2fx (rounds:%s)", n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2, all
  }')
  [ -n "$per" ] && line+="; median of per-round ratios $per"
  echo "$line"
}

# add NAME CMD...: an implementation measured in each round for
# $seconds (impl and measurement above), listed in `names` in order.
names=()
add() {
  names+=("$1")
  impl "$@"
  measurement "$1" "$1" "$seconds"
}

# show_rates: "$BENCH_NAME NAME TRANSPORT MODE: calls/s" for every
# implementation, transport and pinning measured.
show_rates() {
  local transport mode name
  for transport in "${transports[@]}"; do
    for mode in "${modes[@]}"; do
      for name in "${names[@]}"; do
        echo "${BENCH_NAME:-rpc} $name $transport $mode: $(show \
          "$name $transport $mode calls_per_sec" 1 %.0f calls/s)"
      done
    done
  done
}
