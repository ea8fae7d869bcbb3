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
if ! have wrk; then
  echo "== HTTP hello: skipped, wrk is not installed" \
    "(apt-get install -y --no-install-recommends wrk)"
  exit 0
fi

# nginx's config and prefix in $out/nginx: one process, no daemon, no logs
# but errors, as the current user.
conf() {
  d=$out/nginx
  mkdir -p "$d/tmp"
  cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
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
EOF
}

# nginx takes its port from its config, the others as their last argument.
launch() {
  if [ "$1" = nginx ]; then
    conf
    exec $SRV nginx -p "$out/nginx" -c "$out/nginx/nginx.conf" -e "$out/nginx/error.log"
  else
    exec $SRV "$@" "$port"
  fi
}

# measure ID PORT: "<req/s> <requests> <errors>" from one wrk run.
measure() {
  if ! $LOAD wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$2/" >"$out/wrk" 2>&1; then
    echo "wrk: $(tail -n 1 "$out/wrk")" >&2
    return 1
  fi
  awk '
    / requests in / { total = $1 }
    /^Requests\/sec:/ { rate = $2 }
    /Non-2xx/ { bad += $NF }
    /Socket errors/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
    END {
      if (rate + 0 == 0) {
        printf "no request answered (%d errors)\n", bad > "/dev/stderr"
        exit 1
      }
      printf "%.0f %d %d\n", rate, total, bad
    }' "$out/wrk"
}

if have nginx; then
  start "return 200" nginx "1 process, master_process off" nginx
else
  echo "peer nginx: not installed (apt-get install -y --no-install-recommends nginx)"
fi
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
