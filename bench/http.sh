#!/bin/sh
# HTTP hello throughput: lgreen's examples/http_hello.lua and its peers
# against nginx answering `return 200 "Hello, world!"`, all loaded in this
# run by wrk -t1 -c100 (keep-alive).  Every server is single-threaded
# (nginx: one process, master_process off) and pinned to CPU 0, wrk to
# CPU 1; each server gets ROUNDS interleaved runs and keeps its best.  The
# CPU column is the server's user+system time per request.
# A report only: no figure is asserted.
#   bench/http.sh            (env: HTTP_CONNS=100 HTTP_SECONDS=3
#                             HTTP_ROUNDS=3 BUILD=build)
set -u
cd "$(dirname "$0")/.."
CONNS=${HTTP_CONNS:-100} SECS=${HTTP_SECONDS:-3} ROUNDS=${HTTP_ROUNDS:-3}
LOADER=wrk
. bench/servers.sh

# wrk and nginx (and the peers) as root; without wrk there is no section.
# (nginx only: never libnginx-mod-http-lua.)
[ "$(id -u)" = 0 ] &&
  sh tools/deps.sh wrk nginx tarantool python3-gevent >/dev/null 2>&1
echo
need_wrk "HTTP hello"

# measure ID PORT: "<req/s> <requests> <errors>" from one wrk run.
measure() { wrk_measure "$@"; }

start_nginx
for vm in luajit lua5.1 lua5.4; do
  have $vm && start "http_hello.lua" "$vm" "receive('*l') per line" \
    $vm examples/http_hello.lua
done
have tarantool &&
  start "socket.tcp_server" tarantool "fiber per connection, read('\\n')" \
    tarantool $P/http_tarantool.lua
pyhas gevent && start "gevent.StreamServer" python3 "makefile().readline" \
  "$PY" $P/http_gevent.py

echo "== HTTP hello, req/s (wrk -t1 -c$CONNS, keep-alive, best of" \
  "$ROUNDS x ${SECS} s; $pin; ratio to nginx)"
rounds
table req nginx luajit "0.7x nginx"
exit 0
