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
BUILD=${BUILD:-build}
PY=${PYTHON3:-/usr/bin/python3}
P=bench/peers
export LUA_PATH="lua/?.lua;lua/?/init.lua;bench/?.lua;;" \
  LUA_CPATH="$BUILD/5.1/?.so;;" LUA_CPATH_5_4="$BUILD/5.4/?.so;;"

out=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  for p in $pids; do wait "$p" 2>/dev/null; done
  rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wrk and nginx (and the peers) as root; without wrk there is no section.
# (nginx only: never libnginx-mod-http-lua.)
[ "$(id -u)" = 0 ] &&
  sh tools/deps.sh wrk nginx tarantool python3-gevent >/dev/null 2>&1
echo
if ! command -v wrk >/dev/null 2>&1; then
  echo "== HTTP hello: skipped, wrk is not installed" \
    "(apt-get install -y --no-install-recommends wrk)"
  exit 0
fi

if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
  SRV="taskset -c 0" LOAD="taskset -c 1"
  pin="server on CPU 0, wrk on CPU 1"
else
  SRV="" LOAD=""
  pin="not pinned (needs taskset and 2 CPUs): server and wrk share CPUs"
fi

freeport() {
  luajit -e 'local s = assert(require("socket").bind("127.0.0.1", 0))
    print((select(2, s:getsockname()))) s:close()'
}

# Wait until something listens on port (at most 5 s).
waitport() {
  PORT=$1 luajit -e 'local socket = require "socket"
    for _ = 1, 250 do
      local c = socket.connect("127.0.0.1", tonumber(os.getenv("PORT")))
      if c then c:close() os.exit(0) end
      socket.sleep(0.02)
    end
    os.exit(1)'
}

cpu() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# start NAME RUNTIME NOTE CMD...: start a server with a free port as its
# last argument (or in place of @PORT@ in an nginx.conf).
n=0
start() {
  name=$1 rt=$2 note=$3
  shift 3
  port=$(freeport) || return 1
  n=$((n + 1))
  if [ "$1" = nginx ]; then
    conf
    $SRV nginx -p "$out/nginx" -c "$out/nginx/nginx.conf" -e "$out/nginx/error.log" \
      >"$out/srv$n.out" 2>"$out/srv$n.err" &
  else
    $SRV "$@" "$port" >"$out/srv$n.out" 2>"$out/srv$n.err" &
  fi
  pids="$pids $!"
  printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$rt" "$name" "$note" "$port" >>"$out/servers"
  eval "pid$n=$!"
}

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

have() { command -v "$1" >/dev/null 2>&1; }
pyhas() { [ -x "$PY" ] && "$PY" -c "import $1" 2>/dev/null; }

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
r=0
while [ $r -lt "$ROUNDS" ]; do
  r=$((r + 1))
  while IFS='	' read -r i rt name note port; do
    eval "pid=\$pid$i"
    if ! kill -0 "$pid" 2>/dev/null || ! waitport "$port"; then
      echo "$i fail not serving: $(tail -n 1 "$out/srv$i.err")" >>"$out/res"
      continue
    fi
    c0=$(cpu "$pid")
    if ! $LOAD wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$port/" \
         >"$out/wrk" 2>&1 </dev/null; then
      echo "$i fail wrk: $(tail -n 1 "$out/wrk")" >>"$out/res"
      continue
    fi
    # "<id> <req/s> <CPU us per request> <errors>"
    awk -v i="$i" -v c="$(( $(cpu "$pid") - c0 ))" -v hz="$HZ" '
      / requests in / { total = $1 }
      /^Requests\/sec:/ { rate = $2 }
      /Non-2xx/ { bad += $NF }
      /Socket errors/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
      END {
        if (rate + 0 == 0) {
          printf "%s fail no request answered (%d errors)\n", i, bad
          exit
        }
        printf "%s %.0f %.2f %d\n", i, rate, (total > 0 ? c / hz * 1e6 / total : 0), bad
      }' "$out/wrk" >>"$out/res"
  done <"$out/servers"
done

awk -F '\t' -v res="$out/res" '
  BEGIN {
    while ((getline l < res) > 0) {
      split(l, f, " ")
      if (f[2] == "fail") { sub(/^[0-9]+ fail /, "", l); err[f[1]] = l }
      else if (f[2] + 0 > best[f[1]] + 0) { best[f[1]] = f[2]; us[f[1]] = f[3]; bad[f[1]] = f[4] }
    }
  }
  { n++; rt[n] = $2; nm[n] = $3; note[n] = $4; id[n] = $1
    if ($2 == "nginx") b = $1
    if ($2 == "luajit") lj = $1
    if (length($2) > w1) w1 = length($2)
    if (length($3) > w2) w2 = length($3) }
  END {
    base = best[b]
    fmt = "  %-" w1 "s  %-" w2 "s  %10s  %7s  %12s  %s\n"
    printf fmt, "runtime", "server", "req/s", "ratio", "CPU us/req", "note"
    for (r = 1; r <= n; r++) {
      v = best[id[r]]
      if (v == "") {
        printf fmt, rt[r], nm[r], "-", "-", "-", "failed: " err[id[r]]
        continue
      }
      x = base + 0 > 0 ? sprintf("%.2fx", v / base) : "-"
      e = bad[id[r]] > 0 ? "; " bad[id[r]] " errors or non-2xx" : ""
      printf fmt, rt[r], nm[r], v, x, us[id[r]], (id[r] == b ? "baseline; " : "") note[r] e
    }
    v = best[lj]
    printf "  target (issue): lgreen >= 0.7x nginx; this run, luajit http_hello.lua: %s\n",
      (v != "" && base + 0 > 0) ? sprintf("%.2fx", v / base) : "-"
  }' "$out/servers"
exit 0
