#!/bin/sh
# make bench: lgreen's benchmarks and its peers', all measured in this run,
# printed as one table per section with ratios to a named baseline.
# A report only: no figure is asserted.  Peers are Debian packages; as root
# the missing ones are installed, otherwise that peer is skipped.
set -u
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export LUA_PATH="lua/?.lua;lua/?/init.lua;bench/?.lua;;" LUA_CPATH="build/5.1/?.so;;" \
  LUA_CPATH_5_4="build/5.4/?.so;;"
# Debian's interpreter: the python3-* packages install for it, not for
# whatever python3 comes first in PATH (pyenv and the like).
PY=${PYTHON3:-/usr/bin/python3}
P=bench/peers

# ---- peers: install the missing ones (root only), else skip them ----------
PEERS="greenlet gevent eventlet tarantool cqueues"
pkg() {
  case $1 in
    greenlet|gevent|eventlet) echo "python3-$1" ;;
    tarantool) echo tarantool ;;
    cqueues) echo lua-cqueues ;;
  esac
}
installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}
missing=""
for p in $PEERS; do installed "$(pkg $p)" || missing="$missing $(pkg $p)"; done
if [ -n "$missing" ] && [ "$(id -u)" = 0 ]; then
  echo "installing peers:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1
  # One package apt cannot give must not keep the others out.
  apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
    for m in $missing; do
      apt-get install -y -qq --no-install-recommends "$m" >/dev/null 2>&1
    done
fi
have=" "
for p in $PEERS; do
  if installed "$(pkg $p)"; then
    have="$have$p "
  else
    echo "peer $p: not installed (apt-get install -y --no-install-recommends $(pkg $p))"
  fi
done
has() { case $have in *" $1 "*) return 0 ;; esac; return 1; }
pyrt=python3
[ -x "$PY" ] && pyrt=$($PY -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
vers=""
for p in $PEERS; do
  has $p && vers="$vers $p $(dpkg-query -W -f='${Version}' "$(pkg $p)"),"
done
[ -n "$vers" ] && echo "peers:${vers%,} (python ones under $pyrt, cqueues under luajit)"

# ---- helpers ----------------------------------------------------------------
# run SECTION RUNTIME NOTE CMD...: run one benchmark; each line it prints,
# "<name> <value>...", becomes a row "runtime<TAB>name<TAB>note<TAB>value..."
# of $out/SECTION.  In the sleepers and idle sections the first value is N
# and goes to the note.  A failure is reported and returns non-zero.
run() {
  sec=$1 rt=$2 note=$3
  shift 3
  if ! "$@" > "$out/last" 2> "$out/err"; then
    echo "  $rt: '$*' failed: $(tail -n 1 "$out/err")"
    return 1
  fi
  awk -v rt="$rt" -v note="$note" -v sec="$sec" '
    { vals = ""; n = ""
      for (i = 2; i <= NF; i++) if ($i ~ /^[0-9.]+$/) {
        if ((sec == "sleepers" || sec == "idle") && n == "") n = $i
        else vals = vals "\t" $i
      }
      if (n != "") note2 = "N=" n (note != "" ? ", " note : "")
      else note2 = note
      print rt "\t" $1 "\t" note2 vals }' "$out/last" >> "$out/$sec"
}

# rename SECTION OLD NEW: give a row a clearer benchmark name.
rename() {
  awk -F '\t' -v OFS='\t' -v old="$2" -v new="$3" \
    '$2 == old { $2 = new } { print }' "$out/$1" > "$out/tmp" &&
    mv "$out/tmp" "$out/$1"
}

# val SECTION RUNTIME NAME [COLUMN]: a value of one row (first by default).
val() {
  awk -F '\t' -v rt="$2" -v nm="$3" -v c="${4:-1}" \
    '$1 == rt && $2 == nm { print $(3 + c); exit }' "$out/$1"
}

# ratio A B: "A/B" as "1.23x", or "-" when either is missing.
ratio() {
  awk -v a="$1" -v b="$2" \
    'BEGIN { if (a == "" || b + 0 <= 0) print "-"; else printf "%.2fx\n", a / b }'
}

# table SECTION "RUNTIME<TAB>NAME" "TITLE,...": the section's rows aligned,
# each value followed by its ratio to the baseline row's value (lower is
# better everywhere).
table() {
  [ -s "$out/$1" ] || { echo "  (no rows)"; return; }
  awk -F '\t' -v base="$2" -v cols="$3" '
    { n++; nf[n] = NF
      for (i = 1; i <= NF; i++) c[n, i] = $i
      if (!b && $1 "\t" $2 == base) b = n
      if (length($1) > w1) w1 = length($1)
      if (length($2) > w2) w2 = length($2) }
    END {
      if (w1 < 7) w1 = 7
      nc = split(cols, title, ",")
      f = "  %-" w1 "s  %-" w2 "s"
      line = sprintf(f, "runtime", "benchmark")
      for (j = 1; j <= nc; j++) line = line sprintf("  %12s  %7s", title[j], "ratio")
      print line "  note"
      for (r = 1; r <= n; r++) {
        line = sprintf(f, c[r, 1], c[r, 2])
        for (j = 1; j <= nc; j++) {
          v = c[r, 3 + j]; bv = b ? c[b, 3 + j] : ""
          x = (v != "" && bv + 0 > 0) ? sprintf("%.2fx", v / bv) : "-"
          line = line sprintf("  %12s  %7s", v, x)
        }
        print line "  " (r == b ? "baseline; " : "") c[r, 3]
      }
    }' "$out/$1"
}

# ---- one-way switch -----------------------------------------------------------
echo
echo "== one-way switch, ns (best of 5; ratio to luajit coroutine.resume/yield)"
run switch luajit "N=2000000" luajit bench/switch.lua 2000000 || exit 1
for vm in lua5.1 lua5.4; do	# slower VMs: half the iterations
  run switch $vm "N=1000000" $vm bench/switch.lua 1000000 || exit 1
done
has greenlet &&
  run switch "$pyrt" "N=200000 (slower peer)" $PY $P/py_greenlet.py switch 200000
table switch "luajit	coroutine.resume/yield" "ns"
same=""
for vm in luajit lua5.1 lua5.4; do
  same="$same $vm $(ratio "$(val switch $vm 'g:switch()')" \
    "$(val switch $vm coroutine.resume/yield)")"
done
echo "  target (issue): g:switch <= 1.2x coroutine;" \
  "this run, g:switch() / coroutine.resume/yield on the same VM:$same"

echo
echo "== raw context switch, ns (C, no Lua)"
cc -O2 -o "$out/raw_asm" bench/switch_raw.c c/switch.c c/switch_x86_64.S c/switch_aarch64.S &&
cc -O2 -DLG_UCONTEXT=1 -o "$out/raw_uc" bench/switch_raw.c c/switch.c || exit 1
"$out/raw_asm" | sed 's/^/  /'
"$out/raw_uc" | head -1 | sed 's/^/  /'

# ---- spawn + finish ---------------------------------------------------------------
echo
echo "== spawn+finish per green thread, ns (best of 5; ratio to luajit coroutine.wrap+resume)"
run spawn luajit "N=200000; lg.* in batches of 1000" luajit bench/spawn.lua 200000 || exit 1
has greenlet &&
  run spawn "$pyrt" "N=20000 (slow peer)" $PY $P/py_greenlet.py spawn 20000
has gevent &&
  run spawn "$pyrt" "N=10000 (slow peer), batches of 1000" $PY $P/py_gevent.py spawn 10000
has eventlet &&
  run spawn "$pyrt" "N=10000 (slow peer), batches of 1000" $PY $P/py_eventlet.py spawn 10000
has tarantool &&
  run spawn tarantool "N=100000; new+join per batch of 1000" \
    tarantool $P/tnt_fiber.lua spawn 100000
has cqueues &&
  run spawn luajit "N=100000, batches of 1000" luajit $P/lua_cqueues.lua spawn 100000
table spawn "luajit	coroutine.wrap+resume" "ns"
co=$(val spawn luajit coroutine.wrap+resume)
echo "  target (issue): lg.spawn <= 1.5x coroutine.wrap create+resume;" \
  "this run: lg.spawn+wait $(ratio "$(val spawn luajit lg.spawn+wait)" "$co")," \
  "lg.spawn_n+run $(ratio "$(val spawn luajit lg.spawn_n+run)" "$co")"

# ---- sleepers -------------------------------------------------------------------
# Each Tarantool fiber stack is an mmap plus a guard page: two of the
# vm.max_map_count mappings, so fewer fibers than 100k may fit.  Then
# lgreen is also run at Tarantool's N, for a like-for-like row.
maps=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 65530)
tn=$(( (maps - 4000) / 2 ))
[ "$tn" -gt 100000 ] && tn=100000
echo
echo "== 100k sleepers, each a random 0-100 ms (ratio to lgreen at N=100000)"
run sleepers luajit "" luajit bench/sleepers.lua 100000 || exit 1
rename sleepers sleepers "lg.spawn_n(lg.sleep)"
has gevent && run sleepers "$pyrt" "" $PY $P/py_gevent.py sleepers 100000
has eventlet && run sleepers "$pyrt" "" $PY $P/py_eventlet.py sleepers 100000
if has tarantool; then
  if [ "$tn" -lt 100000 ]; then
    run sleepers tarantool "vm.max_map_count=$maps caps fibers" \
      tarantool $P/tnt_fiber.lua sleepers "$tn"
    run sleepers luajit "same N as tarantool" luajit bench/sleepers.lua "$tn" &&
      rename sleepers sleepers "lg.spawn_n(lg.sleep)"
  else
    run sleepers tarantool "" tarantool $P/tnt_fiber.lua sleepers 100000
  fi
fi
has cqueues && run sleepers luajit "" luajit $P/lua_cqueues.lua sleepers 100000
table sleepers "luajit	lg.spawn_n(lg.sleep)" "wall ms,peak RSS KiB"
echo "  target (issue): none for sleepers; this is a report"

# ---- idle memory ------------------------------------------------------------------
in=20000
[ "$tn" -lt "$in" ] && in=$tn
echo
echo "== idle memory per parked green thread, bytes (RSS delta / N after gc; ratio to lgreen)"
run idle luajit "" luajit bench/idle.lua 20000 || exit 1
rename idle idle "lg.Event:wait"
has greenlet && run idle "$pyrt" "" $PY $P/py_greenlet.py idle 20000
has gevent && run idle "$pyrt" "" $PY $P/py_gevent.py idle 20000
has eventlet && run idle "$pyrt" "" $PY $P/py_eventlet.py idle 20000
has tarantool && run idle tarantool "" tarantool $P/tnt_fiber.lua idle "$in"
has cqueues && run idle luajit "" luajit $P/lua_cqueues.lua idle 20000
table idle "luajit	lg.Event:wait" "bytes"
echo "  target (issue): idle <= 5 KiB (5120 bytes) per parked greenthread;" \
  "this run: lgreen $(val idle luajit lg.Event:wait) bytes"

# ---- issue 9: many green threads -------------------------------------------
# Idle RSS at 100k and 1M, 100k sleepers, spawn one at a time and in a
# burst, switch with the suspended side parked deep; per lgreen stack kind
# when lgreen has both (greenlet.new takes opts.stack), else its only kind.
# The programs: bench/scale.lua, spawn_burst.lua, switch_deep.lua (with
# bench/stackdepth.c), kinds.lua; peers/go_scale.go, lua_luv.lua.
# Sizes, for quick runs: LG_BENCH_IDLE="100000 1000000" (one idle table
# per N), LG_BENCH_SLEEPERS=100000, LG_BENCH_SPAWN=200000,
# LG_BENCH_SWITCH_MS=50 (CPU ms of one timed run of a switch row).
# Peers added here: Go (golang-go) and luv (lua-luv), installed as above.
IDLE9=${LG_BENCH_IDLE:-100000 1000000}
SLEEP9=${LG_BENCH_SLEEPERS:-100000}
SPAWN9=${LG_BENCH_SPAWN:-200000}
SWMS9=${LG_BENCH_SWITCH_MS:-50}
pkg9() { case $1 in go) echo golang-go ;; luv) echo lua-luv ;; esac; }
miss9=""
for p in go luv; do installed "$(pkg9 $p)" || miss9="$miss9 $(pkg9 $p)"; done
if [ -n "$miss9" ] && [ "$(id -u)" = 0 ]; then
  echo "installing peers:$miss9"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1
  for m in $miss9; do
    apt-get install -y -qq --no-install-recommends "$m" >/dev/null 2>&1
  done
fi
for p in go luv; do
  if installed "$(pkg9 $p)"; then
    have="$have$p "
  else
    echo "peer $p: not installed (apt-get install -y --no-install-recommends $(pkg9 $p))"
  fi
done
# The Go peer is built in this run; standard library only, no network.
if has go; then
  [ -n "${HOME:-}" ] || export GOCACHE="$out/gocache"
  if ! GOFLAGS= GOPROXY=off go build -o "$out/go_scale" $P/go_scale.go \
      2> "$out/err"; then
    echo "peer go: go build failed: $(tail -n 1 "$out/err")"
    have=$(echo "$have" | sed 's/ go / /')
  fi
fi
# bench/switch_deep.lua's stack pointer probe, a Lua module for LuaJIT.
cc -O2 -shared -fPIC -I"${LUA51_INC:-/usr/include/lua5.1}" \
  -o "$out/stackdepth.so" bench/stackdepth.c || exit 1
vers=""
has go && vers="$vers $(go version | awk '{ print $3 }'),"
has luv && vers="$vers luv $(dpkg-query -W -f='${Version}' lua-luv),"
[ -n "$vers" ] && echo
[ -n "$vers" ] && echo "peers (issue 9):${vers%,} (luv under luajit)"

# runf SECTION RUNTIME NOTE CMD...: as run, for the sections below.  In
# the idle and sleepers ones the first number of a line is N; what follows
# " # " in a line joins the note; so a line "<name> [N] # failed: <why>"
# is a row with no values that says why.
runf() {
  sec=$1 rt=$2 note=$3
  shift 3
  if ! "$@" > "$out/last" 2> "$out/err"; then
    echo "  $rt: '$*' failed: $(tail -n 1 "$out/err")"
    return 1
  fi
  awk -v rt="$rt" -v note="$note" \
    -v withn="$(case $sec in idle*|sleep*) echo 1 ;; esac)" '
    { extra = ""; i = index($0, " # ")
      if (i) { extra = substr($0, i + 3); $0 = substr($0, 1, i - 1) }
      vals = ""; n = ""
      for (k = 2; k <= NF; k++) if ($k ~ /^[0-9.]+$/) {
        if (withn && n == "") n = $k
        else vals = vals "\t" $k
      }
      nt = n != "" ? "N=" n : ""
      if (note != "") nt = nt (nt != "" ? ", " : "") note
      if (extra != "") nt = nt (nt != "" ? "; " : "") extra
      print rt "\t" $1 "\t" nt vals }' "$out/last" >> "$out/$sec"
}

# lgk: "both" when greenlet.new takes opts.stack, else "one"; lgdk: the
# kind lg.spawn_n gives.  Private rows on the hub use lg.spawn_with, or,
# without it, LGREEN_STACK=private (the stacks branch's default switch).
lgk=$(luajit bench/scale.lua kinds) || exit 1
lgdk=$(echo "$lgk" | cut -f 2) lgk=$(echo "$lgk" | cut -f 1)
if [ "$lgk" = both ]; then
  lgdef="lgreen $lgdk (default)"
  [ "$lgdk" = "?" ] && lgdef="lgreen default"
else
  lgdef="lgreen (only kind)"
  echo
  echo "lgreen has one stack kind (greenlet.new takes no opts.stack): its rows" \
    "say \"lgreen (only kind)\"; no private rows"
fi
priv() { env LGREEN_STACK=private "$@"; }

# idle9 N PREV RUNTIME NOTE CMD...: one row of the idle table at N.  When
# the same runtime's bytes per green thread at the smaller N (PREV) say
# that N of them would not fit in MemAvailable (with 20% to spare), the
# row says so instead of running.
idle9() {
  n=$1 prev=$2 rt=$3
  shift 3
  r=$(awk -F '\t' -v rt="$rt" '$1 == rt && $4 != "" { print $2 "\t" $4; exit }' \
    "$out/idle9_$prev" 2>/dev/null)
  if [ -n "$r" ]; then
    need=$(echo "$r" | awk -F '\t' -v n="$n" '{ printf "%.0f", $2 * n * 1.2 / 1048576 }')
    avail=$(awk '/^MemAvailable:/ { printf "%.0f", $2 / 1024 }' /proc/meminfo)
    if [ "$need" -gt "$avail" ]; then
      printf '%s\t%s\tN=%s; skipped: needs about %s MiB, MemAvailable is %s MiB\n' \
        "$rt" "$(echo "$r" | cut -f 1)" "$n" "$need" "$avail" >> "$out/idle9_$n"
      return 0
    fi
  fi
  runf "idle9_$n" "$rt" "$@"
}

prev=none
for n in $IDLE9; do
  echo
  echo "== idle RSS per parked green thread at N=$n, bytes" \
    "(RSS delta / N after gc; ratio to $lgdef)"
  idle9 "$n" "$prev" "$lgdef" "" luajit bench/scale.lua idle "$n" default
  [ "$lgk" = both ] &&
    idle9 "$n" "$prev" "lgreen private" "" priv luajit bench/scale.lua idle "$n" private
  has cqueues && idle9 "$n" "$prev" cqueues "coroutines on a condition, luajit" \
    luajit $P/lua_cqueues.lua idle "$n"
  has go && idle9 "$n" "$prev" go "goroutines on a channel" "$out/go_scale" idle "$n"
  has tarantool && idle9 "$n" "$prev" tarantool "fiber.create + fiber.cond" \
    tarantool $P/tnt_fiber.lua idle "$n"
  table "idle9_$n" "$lgdef	lg.spawn_n(Event:wait)" "bytes"
  b=$(val "idle9_$n" "$lgdef" "lg.spawn_n(Event:wait)")
  echo "  target (issue): <= 2.5 KiB (2560 B) per parked green thread, below Go;" \
    "1M parked in <= 3 GiB RSS; this run: $lgdef ${b:-?} B," \
    "$(awk -v b="$b" -v n="$n" 'BEGIN { if (b == "") print "?"; else printf "%.2f GiB", b * n / 2^30 }') for N=$n"
  prev=$n
done

echo
echo "== $SLEEP9 sleepers, each a random 0-100 ms (ratio to $lgdef)"
runf sleepers9 "$lgdef" "" luajit bench/scale.lua sleepers "$SLEEP9" default
[ "$lgk" = both ] &&
  runf sleepers9 "lgreen private" "" priv luajit bench/scale.lua sleepers "$SLEEP9" private
has cqueues && runf sleepers9 cqueues "luajit" luajit $P/lua_cqueues.lua sleepers "$SLEEP9"
has luv && runf sleepers9 luv "luajit; whole ms" luajit $P/lua_luv.lua sleepers "$SLEEP9" timer
has luv && runf sleepers9 luv "luajit; whole ms" \
  luajit $P/lua_luv.lua sleepers "$SLEEP9" coroutine
has go && runf sleepers9 go "" "$out/go_scale" sleepers "$SLEEP9"
table sleepers9 "$lgdef	lg.spawn_n(lg.sleep)" "wall ms,peak RSS KiB"
echo "  target (issue): wall <= cqueues' in the same run, peak RSS <= 300 MiB;" \
  "this run: wall $(ratio "$(val sleepers9 "$lgdef" 'lg.spawn_n(lg.sleep)')" \
    "$(val sleepers9 cqueues 'cq:wrap(cqueues.sleep)')") of cqueues'," \
  "peak $(awk -v k="$(val sleepers9 "$lgdef" 'lg.spawn_n(lg.sleep)' 2)" \
    'BEGIN { if (k == "") print "?"; else printf "%.0f", k / 1024 }') MiB"

echo
echo "== spawn+finish per green thread, ns: one at a time, and a burst of" \
  "$SPAWN9 created before any runs (best of 5; ratio to coroutine.wrap)"
runf spawn9 luajit "" luajit bench/spawn_burst.lua coroutine "$SPAWN9"
runf spawn9 "$lgdef" "" luajit bench/spawn_burst.lua lgreen "$SPAWN9" default
[ "$lgk" = both ] && runf spawn9 "lgreen private" "" \
  priv luajit bench/spawn_burst.lua lgreen "$SPAWN9" private
table spawn9 "luajit	coroutine.wrap+call" "1-at-a-time,burst"
co1=$(val spawn9 luajit coroutine.wrap+call) co2=$(val spawn9 luajit coroutine.wrap+call 2)
echo "  target (issue): lg.spawn_n + finish <= 1.5x coroutine.wrap create+finish," \
  "one at a time and in a burst; this run: $lgdef" \
  "$(ratio "$(val spawn9 "$lgdef" 'lg.spawn_n(noop)')" "$co1")," \
  "$(ratio "$(val spawn9 "$lgdef" 'lg.spawn_n(noop)' 2)" "$co2")"

echo
echo "== switch ping-pong, suspended side parked deep, ns per round trip" \
  "(best of 5; ratio to luajit coroutine.resume/yield)"
sw9() { runf switch9 "$1" "" env LUA_CPATH="$out/?.so;$LUA_CPATH" \
  luajit bench/switch_deep.lua "$2" "$SWMS9"; }
sw9 luajit coroutine
if [ "$lgk" = both ]; then
  sw9 "lgreen shared" shared
  sw9 "lgreen private" private
else
  sw9 "lgreen (only kind)" only
fi
table switch9 "luajit	coroutine.resume/yield" "ns/round trip"
co9=$(val switch9 luajit coroutine.resume/yield)
if [ "$lgk" = both ]; then
  echo "  target (issue): private <= 2x the coroutine pair, shared at 0.5 KiB <= 3x;" \
    "this run: private $(ratio "$(val switch9 'lgreen private' 'g:switch(private)@0.5KiB')" "$co9")," \
    "shared $(ratio "$(val switch9 'lgreen shared' 'g:switch(shared)@0.5KiB')" "$co9") at 0.5 KiB"
else
  echo "  target (issue): private <= 2x the coroutine pair, shared at 0.5 KiB <= 3x;" \
    "this run: only kind $(ratio "$(val switch9 'lgreen (only kind)' 'g:switch@0.5KiB')" "$co9") at 0.5 KiB"
fi

# ---- one big receive ----------------------------------------------------------
echo
echo "== receive of 50 MB and process.run of 50 MB of output, MB per CPU second"
echo "   (best of 3; higher is better; ratio to LuaSocket's receive(n) under luajit)"
for vm in luajit lua5.1 lua5.4; do
  run recv $vm "" $vm bench/recv.lua 50 || exit 1
done
table recv "luajit	luasocket:receive(n)" "MB/s"

# ---- network I/O: echo vs C epoll, HTTP hello vs nginx ---------------------
sh bench/echo.sh
sh bench/http.sh
sh bench/httpd.sh

# ---- HTTP client: keep-alive vs a connection per request ----------------------
echo
echo "== lgreen.http client: 1000 sequential GETs against examples/http_hello.lua,"
echo "   requests/s (best of 3; luajit, client and server on this machine)"
luajit bench/http_client.lua 1000 3 | while read -r name value; do
  case $name in
    ratio) echo "  target (issue): keep-alive >= 3x no keep-alive; this run: ${value#* }x" ;;
    *) printf '  %-20s %s\n' "$name" "$value" ;;
  esac
done
sh bench/workers.sh

# ---- lgreen.debug overhead ----------------------------------------------------
echo
echo "== lgreen.debug overhead, ns (modes alternate in one process, best of 5;" \
  "ratio to accounting off)"
for what in switch spawn; do
  run "debug$what" luajit "N=1000000" luajit bench/debug.lua $what 1000000 || exit 1
  run "debug$what" lua5.4 "N=500000" lua5.4 bench/debug.lua $what 500000 || exit 1
done
table debugswitch "luajit	g:switch(),debug_off" "ns"
table debugspawn "luajit	lg.spawn_n+run,debug_off" "ns"
for vm in luajit lua5.4; do
  echo "  target (issue): accounting on <= 1.25x off; this run, $vm:" \
    "switch $(ratio "$(val debugswitch $vm 'g:switch(),debug_on')" \
      "$(val debugswitch $vm 'g:switch(),debug_off')")," \
    "spawn $(ratio "$(val debugspawn $vm 'lg.spawn_n+run,debug_on')" \
      "$(val debugspawn $vm 'lg.spawn_n+run,debug_off')")"
done
exit 0
