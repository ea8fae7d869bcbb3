#!/bin/sh
# TCP echo throughput: lgreen's examples/echo_server.lua and its peers
# against a plain C epoll echo server (bench/echo_epoll.c), all loaded in
# this run by the same C load generator (bench/echo_load.c): CONNS
# connections, each a closed loop of one SIZE-byte message and its echo.
# Every server is single-threaded and pinned to CPU 0, the load generator
# to CPU 1; each server gets ROUNDS interleaved runs and keeps its best.
# Besides msg/s, the server's CPU time per message (user+system, from
# /proc, over the whole run) says how close it is to its own limit: the
# load generator may be the bottleneck of the fastest servers.
# A report only: no figure is asserted.
#   bench/echo.sh            (env: ECHO_CONNS=100 ECHO_SECONDS=3
#                             ECHO_WARMUP=1 ECHO_ROUNDS=3 BUILD=build)
set -u
cd "$(dirname "$0")/.."
CONNS=${ECHO_CONNS:-100} SECS=${ECHO_SECONDS:-3} WARM=${ECHO_WARMUP:-1}
ROUNDS=${ECHO_ROUNDS:-3} LOADER="load generator"
. bench/servers.sh

# Peers as root; a peer that cannot be installed is skipped below.
[ "$(id -u)" = 0 ] &&
  sh tools/deps.sh tarantool lua-cqueues python3-gevent python3-eventlet \
    >/dev/null 2>&1

cc -O2 -o "$out/echo_epoll" bench/echo_epoll.c &&
  cc -O2 -o "$out/echo_load" bench/echo_load.c || exit 1

# measure ID PORT: "<msg/s> <messages>" from one load run.
measure() {
  v=$($LOAD "$out/echo_load" "$2" "$CONNS" "$SECS" "$WARM" 64) || return 1
  echo "$v" | awk '{ print $2, $4 }'
}

start "epoll echo" C "bench/echo_epoll.c, level-triggered" "$out/echo_epoll"
for vm in luajit lua5.1 lua5.4; do
  have $vm || continue
  start "echo_server.lua *l" "$vm" "receive('*l'), lines" $vm examples/echo_server.lua
  [ $vm = luajit ] &&
    start "echo_server.lua 64" "$vm" "receive(64), fixed blocks" \
      sh -c 'exec luajit examples/echo_server.lua "$1" 64' -
done
have tarantool &&
  start "socket.tcp_server" tarantool "fiber per connection, sysread" \
    tarantool $P/echo_tarantool.lua
have luajit && luajit -e 'require "cqueues"' 2>/dev/null &&
  start "cqueues.socket" luajit "cqueues, read(-65536)" luajit $P/echo_cqueues.lua
pyhas gevent && start "gevent.StreamServer" python3 "recv/sendall" \
  "$PY" $P/echo_gevent.py
pyhas eventlet && start "eventlet.serve" python3 "recv/sendall" \
  "$PY" $P/echo_eventlet.py

echo
echo "== TCP echo, msg/s ($CONNS connections, 64-byte messages, best of" \
  "$ROUNDS x ${SECS} s after ${WARM} s warm-up; $pin; ratio to C epoll)"
rounds
table msg C luajit "0.9x C epoll"
exit 0
