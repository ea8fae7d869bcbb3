#!/bin/sh
# HTTP server throughput: lgreen.httpd (bench/httpd_hello.lua, a handler
# returning 13 bytes) against nginx `return 200 "Hello, world!"`, loaded
# in this run by wrk -t1 -c100: with keep-alive, then with every request
# sent `Connection: close` (a new TCP connection each).  Servers are
# single-threaded and pinned to CPU 0, wrk to CPU 1; each server gets
# ROUNDS interleaved runs and keeps its best.  A report only: no figure is
# asserted.
#   bench/httpd.sh           (env: HTTP_CONNS=100 HTTP_SECONDS=3
#                             HTTP_ROUNDS=3 BUILD=build)
set -u
cd "$(dirname "$0")/.."
CONNS=${HTTP_CONNS:-100} SECS=${HTTP_SECONDS:-3} ROUNDS=${HTTP_ROUNDS:-3}
LOADER=wrk
. bench/servers.sh

[ "$(id -u)" = 0 ] && sh tools/deps.sh wrk nginx >/dev/null 2>&1
echo
need_wrk "HTTP server"

# measure ID PORT: "<req/s> <requests> <errors>" from one wrk run; $HDR
# (if set) is sent as a header of every request.
measure() { wrk_measure "$@"; }

start_nginx
for vm in luajit lua5.1 lua5.4; do
  have $vm && start "lgreen.httpd" "$vm" "handler returns 13 bytes" \
    $vm bench/httpd_hello.lua
done

echo "== HTTP server, req/s (wrk -t1 -c$CONNS, keep-alive, best of" \
  "$ROUNDS x ${SECS} s; $pin; ratio to nginx)"
rounds
table req nginx luajit "0.7x nginx"

echo
echo "== HTTP server, req/s (wrk -t1 -c$CONNS, Connection: close: a TCP" \
  "connection per request, best of $ROUNDS x ${SECS} s; ratio to nginx)"
rm -f "$out/res"
HDR="Connection: close"
rounds
table req nginx luajit "0.7x nginx (no target in the issue for close; a report)"
exit 0
