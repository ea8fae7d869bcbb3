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
ROUNDS=${ECHO_ROUNDS:-3} BUILD=${BUILD:-build}
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

# Peers as root; a peer that cannot be installed is skipped below.
[ "$(id -u)" = 0 ] &&
  sh tools/deps.sh tarantool lua-cqueues python3-gevent python3-eventlet \
    >/dev/null 2>&1

cc -O2 -o "$out/echo_epoll" bench/echo_epoll.c &&
  cc -O2 -o "$out/echo_load" bench/echo_load.c || exit 1

# CPU 0 serves, CPU 1 loads, when there are two and taskset.
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
  SRV="taskset -c 0" LOAD="taskset -c 1"
  pin="server on CPU 0, load generator on CPU 1"
else
  SRV="" LOAD=""
  pin="not pinned (needs taskset and 2 CPUs): server and load share CPUs"
fi

# A free TCP port on 127.0.0.1 (LuaSocket is one of lgreen's deps).
freeport() {
  luajit -e 'local s = assert(require("socket").bind("127.0.0.1", 0))
    print((select(2, s:getsockname()))) s:close()'
}

# start NAME RUNTIME NOTE CMD...: start a server with a free port as its
# last argument; rows of the table are in start order.
n=0
start() {
  name=$1 rt=$2 note=$3
  shift 3
  port=$(freeport) || return 1
  n=$((n + 1))
  $SRV "$@" "$port" >"$out/srv$n.out" 2>"$out/srv$n.err" &
  pids="$pids $!"
  printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$rt" "$name" "$note" "$port" >>"$out/servers"
  eval "pid$n=$!"
}

# cpu PID: user+system CPU time of PID so far, in clock ticks.
cpu() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

have() { command -v "$1" >/dev/null 2>&1; }
pyhas() { [ -x "$PY" ] && "$PY" -c "import $1" 2>/dev/null; }

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
# Rounds interleave the servers, so a noisy moment hurts one run of each
# rather than every run of one.
r=0
while [ $r -lt "$ROUNDS" ]; do
  r=$((r + 1))
  while IFS='	' read -r i rt name note port; do
    eval "pid=\$pid$i"
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$i fail exited: $(tail -n 1 "$out/srv$i.err")" >>"$out/res"
      continue
    fi
    c0=$(cpu "$pid")
    if v=$($LOAD "$out/echo_load" "$port" "$CONNS" "$SECS" "$WARM" 64 \
         2>"$out/load.err" </dev/null); then
      # "<id> <msg/s> <server CPU us per message>"
      echo "$v" | awk -v i="$i" -v c="$(( $(cpu "$pid") - c0 ))" -v hz="$HZ" \
        '{ printf "%s %s %.2f\n", i, $2, ($4 > 0 ? c / hz * 1e6 / $4 : 0) }' \
        >>"$out/res"
    else
      echo "$i fail $(tail -n 1 "$out/load.err")" >>"$out/res"
    fi
  done <"$out/servers"
done

# One row per server: its best run, or why it has none.
awk -F '\t' -v res="$out/res" '
  BEGIN {
    while ((getline l < res) > 0) {
      split(l, f, " ")
      if (f[2] == "fail") { sub(/^[0-9]+ fail /, "", l); err[f[1]] = l }
      else if (f[2] + 0 > best[f[1]] + 0) { best[f[1]] = f[2]; us[f[1]] = f[3] }
    }
  }
  { n++; rt[n] = $2; nm[n] = $3; note[n] = $4; id[n] = $1
    if (length($2) > w1) w1 = length($2)
    if (length($3) > w2) w2 = length($3) }
  END {
    base = best[id[1]]
    fmt = "  %-" w1 "s  %-" w2 "s  %10s  %7s  %12s  %s\n"
    printf fmt, "runtime", "server", "msg/s", "ratio", "CPU us/msg", "note"
    for (r = 1; r <= n; r++) {
      v = best[id[r]]
      if (v == "") {
        printf fmt, rt[r], nm[r], "-", "-", "-", "failed: " err[id[r]]
        continue
      }
      x = base + 0 > 0 ? sprintf("%.2fx", v / base) : "-"
      printf fmt, rt[r], nm[r], v, x, us[id[r]], (r == 1 ? "baseline; " : "") note[r]
    }
    lg = best[2]
    printf "  target (issue): lgreen >= 0.9x C epoll; this run, luajit echo_server.lua: %s\n",
      (lg != "" && base + 0 > 0) ? sprintf("%.2fx", lg / base) : "-"
  }' "$out/servers"
exit 0
