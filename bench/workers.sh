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

# nginx with NW worker processes under its master, no daemon, as this user.
conf() {
  d=$out/nginx$n
  mkdir -p "$d/tmp"
  cat >"$d/nginx.conf" <<EOC
worker_processes $1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $d/tmp;
  proxy_temp_path $d/tmp;
  fastcgi_temp_path $d/tmp;
  uwsgi_temp_path $d/tmp;
  scgi_temp_path $d/tmp;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type text/plain; return 200 "Hello, world!"; }
  }
}
EOC
}

launch() {
  if [ "$1" = nginx ]; then
    conf "$2"
    exec nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log"
  else
    exec "$@" "$port"
  fi
}

# -- HTTP ------------------------------------------------------------------
measure() {
  if ! wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$2/" >"$out/wrk" 2>&1; then
    echo "wrk: $(tail -n 1 "$out/wrk")" >&2
    return 1
  fi
  awk '
    / requests in / { total = $1 }
    /^Requests\/sec:/ { rate = $2 }
    /Non-2xx/ { bad += $NF }
    /Socket errors/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
    END {
      if (rate + 0 == 0) { printf "no request answered (%d errors)\n", bad > "/dev/stderr"; exit 1 }
      printf "%.0f %d %d\n", rate, total, bad
    }' "$out/wrk"
}

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
awk -v res="$out/res" '
  BEGIN { while ((getline l < res) > 0) { split(l, f, " ")
            if (f[2] != "fail" && f[2] + 0 > b[f[1]] + 0) b[f[1]] = f[2] } }
  { id[$2 " " $3] = $1 }
  END {
    ng2 = b[id["nginx 2 workers"]]; ng1 = b[id["nginx 1 worker"]]
    lg2 = b[id["luajit workers = 2"]]; lg1 = b[id["luajit 1 process"]]
    r = "  scaling: lgreen 2 workers / 1 process: " (lg1 > 0 ? sprintf("%.2fx", lg2 / lg1) : "-")
    r = r "; nginx 2 workers / 1 worker: " (ng1 > 0 ? sprintf("%.2fx", ng2 / ng1) : "-")
    r = r "; lgreen 2 workers / nginx 1 worker: " (ng1 > 0 ? sprintf("%.2fx", lg2 / ng1) : "-")
    print r
  }' FS='\t' "$out/servers"

# -- TCP echo ----------------------------------------------------------------
for p in $pids; do kill "$p" 2>/dev/null; done
for p in $pids; do wait "$p" 2>/dev/null; done
pids="" n=0
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
awk -v res="$out/res" '
  BEGIN { while ((getline l < res) > 0) { split(l, f, " ")
            if (f[2] != "fail" && f[2] + 0 > b[f[1]] + 0) b[f[1]] = f[2] } }
  { id[$2 " " $3] = $1 }
  END {
    lg2 = b[id["luajit workers = 2"]]; lg1 = b[id["luajit 1 process"]]
    print "  scaling: lgreen 2 workers / 1 process: " (lg1 > 0 ? sprintf("%.2fx", lg2 / lg1) : "-")
  }' FS='\t' "$out/servers"
exit 0
