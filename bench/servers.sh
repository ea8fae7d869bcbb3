# Sourced by bench/echo.sh, http.sh, httpd.sh and workers.sh: start servers
# on free ports, load each in interleaved rounds, print one table of their
# best runs.
# The caller sets ROUNDS and LOADER (what CPU 1 runs: "load generator",
# "wrk"), and defines measure ID PORT (prints "<rate> <work units>
# [<errors>]" or fails with a message on stderr).
BUILD=${BUILD:-build}
PY=${PYTHON3:-/usr/bin/python3}
P=bench/peers
export LUA_PATH="lua/?.lua;lua/?/init.lua;bench/?.lua;;" \
  LUA_CPATH="$BUILD/5.1/?.so;;" LUA_CPATH_5_4="$BUILD/5.4/?.so;;"

out=$(mktemp -d)
pids=""
# stop: end every server started so far.
stop() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  for p in $pids; do wait "$p" 2>/dev/null; done
  pids=""
}
cleanup() {
  stop
  rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# CPU 0 serves, CPU 1 loads, when there are two and taskset.
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
  SRV="taskset -c 0" LOAD="taskset -c 1"
  pin="server on CPU 0, $LOADER on CPU 1"
else
  SRV="" LOAD=""
  pin="not pinned (needs taskset and 2 CPUs): server and $LOADER share CPUs"
fi

have() { command -v "$1" >/dev/null 2>&1; }
pyhas() { [ -x "$PY" ] && "$PY" -c "import $1" 2>/dev/null; }

# A free TCP port on 127.0.0.1 (LuaSocket is one of lgreen's deps).
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

# cpu PID: user+system CPU time of PID so far, in clock ticks.
cpu() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# nginx_conf DIR [N]: nginx's config and prefix in DIR, serving
# `return 200 "Hello, world!"` on $port: no daemon, no logs but errors, as
# the current user; one process (master_process off) or, given N, N worker
# processes under their master.
nginx_conf() {
  mkdir -p "$1/tmp"
  {
    if [ -n "${2:-}" ]; then
      echo "worker_processes $2;"
    else
      printf 'worker_processes 1;\nmaster_process off;\n'
    fi
    cat <<EOC
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/tmp;
  proxy_temp_path $1/tmp;
  fastcgi_temp_path $1/tmp;
  uwsgi_temp_path $1/tmp;
  scgi_temp_path $1/tmp;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type text/plain; return 200 "Hello, world!"; }
  }
}
EOC
  } >"$1/nginx.conf"
}

# launch CMD...: become the server on $port: "nginx [N]" is nginx as
# nginx_conf makes it, in $out/nginx$n; any other CMD takes the port as
# its last argument (a caller may redefine launch).  It runs in start's
# background subshell and must exec, so that $! is the server's own pid.
launch() {
  if [ "$1" = nginx ]; then
    nginx_conf "$out/nginx$n" "${2:-}"
    exec $SRV nginx -p "$out/nginx$n" -c "$out/nginx$n/nginx.conf" \
      -e "$out/nginx$n/error.log"
  fi
  exec $SRV "$@" "$port"
}

# need_wrk TITLE: without wrk, say section TITLE is skipped and exit.
need_wrk() {
  have wrk && return 0
  echo "== $1: skipped, wrk is not installed" \
    "(apt-get install -y --no-install-recommends wrk)"
  exit 0
}

# start_nginx: nginx in one process as the row "return 200", if installed.
start_nginx() {
  if have nginx; then
    start "return 200" nginx "1 process, master_process off" nginx
  else
    echo "peer nginx: not installed (apt-get install -y --no-install-recommends nginx)"
  fi
}

# wrk_measure ID PORT: "<req/s> <requests> <errors>" from one run of
# wrk -t1 -c$CONNS for $SECS s; $HDR (if set) is sent as a header of
# every request.  A caller's measure may be just this.
HDR=""
wrk_measure() {
  if [ -n "$HDR" ]; then
    $LOAD wrk -t1 -c"$CONNS" -d"${SECS}s" -H "$HDR" "http://127.0.0.1:$2/" >"$out/wrk" 2>&1
  else
    $LOAD wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$2/" >"$out/wrk" 2>&1
  fi || { echo "wrk: $(tail -n 1 "$out/wrk")" >&2; return 1; }
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

# start NAME RUNTIME NOTE CMD...: start a server on a free port; rows of
# the table are in start order.
n=0
start() {
  name=$1 rt=$2 note=$3
  shift 3
  port=$(freeport) || return 1
  n=$((n + 1))
  launch "$@" >"$out/srv$n.out" 2>"$out/srv$n.err" &
  pids="$pids $!"
  printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$rt" "$name" "$note" "$port" >>"$out/servers"
  eval "pid$n=$!"
}

# Rounds interleave the servers, so a noisy moment hurts one run of each
# rather than every run of one.  Results: "<id> <rate> <CPU us per unit>
# [<errors>]" or "<id> fail <why>".
rounds() {
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
      if v=$(measure "$i" "$port" 2>"$out/load.err" </dev/null); then
        echo "$v" | awk -v i="$i" -v c="$(( $(cpu "$pid") - c0 ))" -v hz="$HZ" \
          '{ printf "%s %s %.2f %d\n", i, $1, ($2 > 0 ? c / hz * 1e6 / $2 : 0), $3 }' \
          >>"$out/res"
      else
        echo "$i fail $(tail -n 1 "$out/load.err")" >>"$out/res"
      fi
    done <"$out/servers"
  done
}

# best RUNTIME NAME: the best rate so far of the server started as NAME
# on RUNTIME, or nothing if it has none.
best() {
  awk -F '\t' -v res="$out/res" -v rt="$1" -v nm="$2" '
    BEGIN {
      while ((getline l < res) > 0) {
        split(l, f, " ")
        if (f[2] != "fail" && f[2] + 0 > b[f[1]] + 0) b[f[1]] = f[2]
      }
    }
    $2 == rt && $3 == nm { print b[$1]; exit }' "$out/servers"
}

# ratio A B: A / B as "1.23x", or "-" if B is empty or 0.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { print (b + 0 > 0 ? sprintf("%.2fx", a / b) : "-") }'
}

# table UNIT BASE LGREEN TARGET: one row per server, its best run or why
# it has none, with the ratio to the row of runtime BASE and a target line
# for the first row of runtime LGREEN ("0.9x C epoll").
table() {
  awk -F '\t' -v res="$out/res" -v unit="$1" -v b_rt="$2" -v lg_rt="$3" \
    -v target="$4" '
    BEGIN {
      while ((getline l < res) > 0) {
        split(l, f, " ")
        if (f[2] == "fail") { sub(/^[0-9]+ fail /, "", l); err[f[1]] = l }
        else if (f[2] + 0 > best[f[1]] + 0) {
          best[f[1]] = f[2]; us[f[1]] = f[3]; bad[f[1]] = f[4]
        }
      }
    }
    { n++; rt[n] = $2; nm[n] = $3; note[n] = $4; id[n] = $1
      if ($2 == b_rt && b == "") b = $1
      if ($2 == lg_rt && lg == "") { lg = $1; lgname = $3 }
      if (length($2) > w1) w1 = length($2)
      if (length($3) > w2) w2 = length($3) }
    END {
      base = best[b]
      fmt = "  %-" w1 "s  %-" w2 "s  %10s  %7s  %12s  %s\n"
      printf fmt, "runtime", "server", unit "/s", "ratio", "CPU us/" unit, "note"
      for (r = 1; r <= n; r++) {
        v = best[id[r]]
        if (v == "") {
          printf fmt, rt[r], nm[r], "-", "-", "-", "failed: " err[id[r]]
          continue
        }
        x = base + 0 > 0 ? sprintf("%.2fx", v / base) : "-"
        e = bad[id[r]] > 0 ? "; " bad[id[r]] " errors or non-2xx" : ""
        printf fmt, rt[r], nm[r], v, x, us[id[r]],
          (id[r] == b ? "baseline; " : "") note[r] e
      }
      v = best[lg]
      printf "  target (issue): lgreen >= %s; this run, %s %s: %s\n", target,
        lg_rt, lgname, (v != "" && base + 0 > 0) ? sprintf("%.2fx", v / base) : "-"
    }' "$out/servers"
}
