#!/bin/sh
# bench/driver's implementation in bench/rpc/lib.sh's contract: the server
# is `hilt serve lab.lua`, as a user runs it; the client makes calls
# through the client tree (driver_client.lua). Each execs, so the pid
# lib.sh holds (and taskset pins) is hilt itself.
#   driver.sh HILT server ADDR
#   driver.sh HILT client ADDR SECONDS
# ADDR is tcp:PORT (on 127.0.0.1) or unix:PATH.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
hilt=$1 mode=$2 addr=$3
case $addr in
tcp:*) listen=tcp://127.0.0.1:${addr#tcp:} ;;
unix:*) listen=unix://${addr#unix:} ;;
*) echo "driver.sh: ADDR must be tcp:PORT or unix:PATH" >&2; exit 2 ;;
esac
case $mode in
server) exec "$hilt" serve "$here/lab.lua" --listen "$listen" ;;
client) exec "$hilt" "$here/driver_client.lua" "$addr" "$4" ;;
*) echo "usage: driver.sh HILT server|client ADDR [SECONDS]" >&2; exit 2 ;;
esac
