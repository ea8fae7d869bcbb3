#!/bin/sh
# lgreen inside nginx (issue 11): a location whose handler spawns 10 green
# threads that each wait on a 1 ms lgreen timer (lgreen.ngx.spawn/wait),
# against the same with ngx_lua's own ngx.thread.spawn + ngx.sleep(0.001),
# under wrk on one nginx worker (pinned to CPU 0, wrk to CPU 1); ROUNDS
# interleaved runs, best kept.  Then the worker's idle CPU over IDLE seconds
# with lgreen attached: /proc/<worker>/stat utime+stime (10 ms ticks) and
# /proc/<worker>/schedstat (ns on CPU), and the hub steps nginx ran meanwhile.
# Targets (issue): requests/s ratio >= 0.8; idle CPU <= 1 ms/s.  A report
# only: no figure is asserted.
#   bench/nginx.sh   (env: NGX_CONNS=50 NGX_SECONDS=3 NGX_ROUNDS=3
#                     NGX_IDLE=10 BUILD=build)
set -u
cd "$(dirname "$0")/.."
CONNS=${NGX_CONNS:-50} SECS=${NGX_SECONDS:-3} ROUNDS=${NGX_ROUNDS:-3}
IDLE=${NGX_IDLE:-10} BUILD=${BUILD:-build}
# wrk and nginx as root (nginx only: never libnginx-mod-http-lua, whose
# .debs nginx/build.sh unpacks through tools/nginx-debs.sh)
[ "$(id -u)" = 0 ] && sh tools/deps.sh wrk nginx >/dev/null 2>&1
echo
echo "== lgreen inside nginx: 10 green threads x 1 ms timer per request vs ngx.thread + ngx.sleep"
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  echo "   skipped: needs nginx and wrk (apt-get install nginx wrk)"
  exit 0
fi
if ! sh nginx/build.sh "$BUILD" 2>/tmp/lgreen-nginx-build.$$; then
  echo "   skipped: $(cat /tmp/lgreen-nginx-build.$$)"
  rm -f /tmp/lgreen-nginx-build.$$
  exit 0
fi
rm -f /tmp/lgreen-nginx-build.$$
root=$(cd "$BUILD" && pwd)/nginx-debs/root
out=$(mktemp -d)
port=$(( 20000 + $$ % 20000 ))
trap 'kill -QUIT $(cat "$out/nginx.pid" 2>/dev/null) 2>/dev/null; sleep 0.5; rm -rf "$out"' EXIT
# as root, workers stay root: nobody may not read a checkout made with mktemp -d
user=
[ "$(id -u)" = 0 ] && user="user root;"
cat >"$out/nginx.conf" <<EOF
$user
load_module $root/usr/lib/nginx/modules/ndk_http_module.so;
load_module $root/usr/lib/nginx/modules/ngx_http_lua_module.so;
worker_processes 1;
worker_cpu_affinity 01;
pid $out/nginx.pid;
error_log $out/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  lua_package_path "$PWD/lua/?.lua;$PWD/lua/?/init.lua;$root/usr/share/lua/5.1/?.lua;;";
  lua_package_cpath "$PWD/$BUILD/nginx/?.so;$PWD/$BUILD/5.1/?.so;;";
  init_by_lua_block { require "lgreen" }
  init_worker_by_lua_block { require("lgreen.ngx").attach() }
  server {
    listen 127.0.0.1:$port;
    location = /lgreen { content_by_lua_block {
      local lg, lgx = require "lgreen", require "lgreen.ngx"
      local gts = {}
      for i = 1, 10 do gts[i] = lgx.spawn(lg.sleep, 0.001) end
      for i = 1, 10 do lgx.wait(gts[i]) end
      ngx.say("ok")
    } }
    location = /ngxthread { content_by_lua_block {
      local ts = {}
      for i = 1, 10 do ts[i] = ngx.thread.spawn(ngx.sleep, 0.001) end
      for i = 1, 10 do ngx.thread.wait(ts[i]) end
      ngx.say("ok")
    } }
    location = /steps { content_by_lua_block {
      ngx.say(require("lgreen.ngx").stats().steps)
    } }
  }
}
EOF
LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu nginx -p "$out" -c "$out/nginx.conf" -e "$out/error.log" || {
  echo "   skipped: nginx did not start: $(tail -3 "$out/error.log")"; exit 0; }
sleep 0.5
master=$(cat "$out/nginx.pid")
worker=$(ps -o pid= --ppid "$master" | tr -d ' ' | head -1)
rps() {	# path -> requests/s of one wrk run
  taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$port$1" 2>/dev/null |
    awk '/^Requests\/sec/ { print $2 }'
}
best_lg=0 best_ngx=0
r=0
while [ $r -lt "$ROUNDS" ]; do
  a=$(rps /lgreen); b=$(rps /ngxthread)
  best_lg=$(awk -v x="$a" -v y="$best_lg" 'BEGIN { print (x > y) ? x : y }')
  best_ngx=$(awk -v x="$b" -v y="$best_ngx" 'BEGIN { print (x > y) ? x : y }')
  r=$((r + 1))
done
printf '   %-44s %10s req/s\n' "lgreen.ngx.spawn + lg.sleep(0.001) x10" "$best_lg"
printf '   %-44s %10s req/s\n' "ngx.thread.spawn + ngx.sleep(0.001) x10" "$best_ngx"
echo "   target (issue): ratio >= 0.8; this run: $(awk -v a="$best_lg" -v b="$best_ngx" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')"
# Idle: no request for IDLE seconds (the load is over; nothing is parked).
cpu() { awk '{ print $14 + $15 }' "/proc/$worker/stat"; }
ns() { awk '{ print $1 }' "/proc/$worker/schedstat"; }
s0=$(curl -s "http://127.0.0.1:$port/steps")
sleep 1
t0=$(cpu) n0=$(ns)
sleep "$IDLE"
t1=$(cpu) n1=$(ns)
s1=$(curl -s "http://127.0.0.1:$port/steps")
hz=$(getconf CLK_TCK)
echo "   idle worker over ${IDLE} s: $(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$IDLE" 'BEGIN { printf "%.2f", (b - a) * 1000 / hz / s }') ms/s (stat utime+stime)," \
  "$(awk -v a="$n0" -v b="$n1" -v s="$IDLE" 'BEGIN { printf "%.3f", (b - a) / 1e6 / s }') ms/s (schedstat)," \
  "hub steps run: $((s1 - s0)); target (issue) <= 1 ms/s"
if grep -q "exited on signal" "$out/error.log"; then
  echo "   WORKER CRASHED: $(grep 'exited on signal' "$out/error.log" | head -1)"
fi
exit 0
