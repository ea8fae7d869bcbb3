#!/bin/sh
# Using every core: lg.serve(..., { workers = 2 }) against nginx with
# worker_processes 2 (HTTP hello, wrk -t1 -c100 keep-alive) and against
# one lgreen process and nginx with one worker, in the same run; TCP echo
# (bench/echo_load.c, 100 connections, 64-byte messages) with 2 lgreen
# workers against one lgreen process and bench/echo_epoll.c.  Nothing is
# pinned: on this 2-CPU machine the servers' processes and the load
# generator share both CPUs, for every server alike.  The CPU column sums
# the server's processes (master and workers).
# A report only: no figure is asserted.
#   bench/workers.sh         (env: WORKERS_CONNS=100 WORKERS_SECONDS=3
#                             WORKERS_ROUNDS=3 BUILD=build)
set -u
cd "$(dirname "$0")/.."
CONNS=${WORKERS_CONNS:-100} SECS=${WORKERS_SECONDS:-3}
ROUNDS=${WORKERS_ROUNDS:-3} LOADER=wrk
. bench/servers.sh
SRV="" LOAD=""
pin="not pinned: servers and load generator share the $(nproc) CPUs"

[ "$(id -u)" = 0 ] && sh tools/deps.sh wrk nginx >/dev/null 2>&1
echo
if ! have wrk || ! have luajit; then
  echo "== Using every core: skipped, needs wrk and luajit" \
    "(apt-get install -y --no-install-recommends wrk luajit)"
  exit 0
fi

# cpu PID: CPU ticks of PID and its children (a master and its workers).
cpu() {
  for p in "$1" $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
    sed 's/.*) //' "/proc/$p/stat" 2>/dev/null
  done | awk '{ t += $12 + $13 } END { print t + 0 }'
}

# -- HTTP ------------------------------------------------------------------
# (nginx N: N worker processes under its master, as servers.sh's launch.)
measure() { wrk_measure "$@"; }

if have nginx; then
  start "2 workers" nginx "worker_processes 2" nginx 2
  start "1 worker" nginx "worker_processes 1" nginx 1
fi
start "workers = 2" luajit "lg.serve, http_hello's handler" luajit bench/workers.lua http 2
start "1 process" luajit "lg.serve, http_hello's handler" luajit bench/workers.lua http 1
echo "== Using every core: HTTP hello, req/s (wrk -t1 -c$CONNS, keep-alive," \
  "best of $ROUNDS x ${SECS} s; $pin; ratio to nginx with 2 workers)"
rounds
table req nginx luajit "0.7x nginx with 2 workers"
# Scaling: lgreen 2 workers over 1 process, nginx 2 over 1.
ng2=$(best nginx "2 workers") ng1=$(best nginx "1 worker")
lg2=$(best luajit "workers = 2") lg1=$(best luajit "1 process")
printf '  scaling: %s; %s; %s\n' \
  "lgreen 2 workers / 1 process: $(ratio "$lg2" "$lg1")" \
  "nginx 2 workers / 1 worker: $(ratio "$ng2" "$ng1")" \
  "lgreen 2 workers / nginx 1 worker: $(ratio "$lg2" "$ng1")"

# -- TCP echo ----------------------------------------------------------------
stop
n=0
rm -f "$out/servers" "$out/res"
cc -O2 -o "$out/echo_epoll" bench/echo_epoll.c &&
  cc -O2 -o "$out/echo_load" bench/echo_load.c || exit 1
measure() {
  v=$("$out/echo_load" "$2" "$CONNS" "$SECS" 1 64) || return 1
  echo "$v" | awk '{ print $2, $4 }'
}
start "epoll echo" C "bench/echo_epoll.c, 1 process" "$out/echo_epoll"
start "workers = 2" luajit "lg.serve, receive(64)" luajit bench/workers.lua echo 2
start "1 process" luajit "lg.serve, receive(64)" luajit bench/workers.lua echo 1
echo
echo "== Using every core: TCP echo, msg/s ($CONNS connections, 64-byte" \
  "messages, best of $ROUNDS x ${SECS} s after 1 s warm-up; $pin; ratio to C epoll)"
rounds
table msg C luajit "-" | grep -v '^  target'		# no target for echo: a report
lg2=$(best luajit "workers = 2") lg1=$(best luajit "1 process")
echo "  scaling: lgreen 2 workers / 1 process: $(ratio "$lg2" "$lg1")"
exit 0
