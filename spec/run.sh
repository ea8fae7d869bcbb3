#!/bin/sh
# Every test lgreen has: busted under LuaJIT and Lua 5.1 to 5.4, the C
# tests, and the core specs again on the portable ucontext switch.
#   spec/run.sh             the whole suite (what `make test` and CI run)
#   spec/run.sh --quick     LuaJIT only, tests not tagged #slow (`make check`)
#   spec/run.sh --asan      greenlet and hub specs on an AddressSanitizer build
#   spec/run.sh --valgrind  the same under valgrind (stacks registered)
# Every spec/*_spec.lua runs (a new file needs no edit here; tag a test
# #slow to keep it out of --quick), each file in a busted process of its
# own under a watchdog: a file still running after LGREEN_SPEC_TIMEOUT
# seconds (default 120; 300 under ASan, 900 under valgrind) is killed and
# counts as a failure named with its file and VM, and the rest goes on.
# The C tests run under the same watchdog.
# Ends with one line "N passed, N failed"; exits non-zero unless all passed.
set -u
cd "$(dirname "$0")/.."
mode=${1:-}
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ALL=$(ls spec/*_spec.lua)
CORE="spec/01-greenlet_spec.lua spec/02-anywhere_spec.lua spec/03-jit_spec.lua spec/04-memory_spec.lua"
HUB="spec/10-hub_spec.lua spec/11-greenthread_spec.lua spec/12-sync_spec.lua spec/13-queue_spec.lua spec/14-pool_spec.lua spec/15-timeout_spec.lua spec/16-io_spec.lua spec/17-socket_spec.lua spec/19-process_spec.lua spec/20-signal_spec.lua spec/31-finalizer_spec.lua"
# (the resolver's LD_PRELOAD subprocesses do not mix with ASan's preload)
IO="spec/18-resolve_spec.lua"
IOTAGS="--exclude-tags=subprocess"
# stack slicing: ASan makes shared stacks nobody runs on PROT_NONE
HUB="$HUB spec/51-frames_spec.lua spec/52-slices_spec.lua"
# lgreen.debug: the watchdog thread and what the switch publishes for it
HUB="$HUB spec/60-debug_threads_spec.lua spec/61-debug_watch_spec.lua spec/62-debug_top_spec.lua spec/63-debug_signal_spec.lua"

limit=120
case "$mode" in --asan) limit=300 ;; --valgrind) limit=900 ;; esac
limit=${LGREEN_SPEC_TIMEOUT:-$limit}

# tally NAME CMD...: run a TAP producer under the watchdog, count its
# results.  One failure more if the watchdog killed it, if it did not run
# the number of tests its plan ("1..N", printed last) says (it died or
# exited early), or if it exited non-zero with no "not ok" (a crash).
# Prints the failures, named.
tally() {
  name=$1
  shift
  # (stdin: the watchdog's process group is not the terminal's; a read
  # from a terminal would stop it)
  timeout -k 10 "$limit" "$@" </dev/null >"$log" 2>&1
  rc=$?
  ok=$(grep -c '^ok ' "$log")
  nok=$(grep -c '^not ok ' "$log")
  plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$log" | tail -n 1)
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "not ok - $name: killed by the watchdog after $limit s" >>"$log"
    nok=$((nok + 1))
  elif [ "$plan" != $((ok + nok)) ]; then
    echo "not ok - $name: ran $((ok + nok)) tests, planned ${plan:-none}" >>"$log"
    nok=$((nok + 1))
  elif [ "$rc" != 0 ] && [ "$nok" = 0 ]; then
    nok=1
  fi
  if [ "$nok" != 0 ]; then
    grep -v '^ok ' "$log" | head -80
    echo "# FAILED $name: $ok passed, $nok failed (exit $rc)"
  fi
  pass=$((pass + ok))
  fail=$((fail + nok))
}

# bust LABEL VM BUILDDIR "FILES" [busted options...]: each file in its own
# busted run (with the variables in $XENV set, through $WRAP if set), then
# one line for the lot.
XENV=
WRAP=
bust() {
  label=$1
  vm=$2
  dir=$3
  files=$4
  shift 4
  abi=5.1
  case $vm in lua5.[234]) abi=${vm#lua} ;; esac
  p0=$pass
  f0=$fail
  for f in $files; do
    if [ -n "$WRAP" ]; then
      tally "$label $f" env $XENV LGREEN_LUA=$vm $WRAP $vm "$(command -v busted)" \
        --cpath="$dir/$abi/?.so" -o TAP "$@" "$f"
    else
      tally "$label $f" env $XENV LGREEN_LUA=$vm busted --lua="$vm" \
        --cpath="$dir/$abi/?.so" -o TAP "$@" "$f"
    fi
  done
  echo "# $label: $((pass - p0)) passed, $((fail - f0)) failed"
}

# cc_test NAME CC-ARGS...: a compile step; failing to build counts as a failure.
cc_test() {
  name=$1
  shift
  if ! cc "$@" >"$log" 2>&1; then
    cat "$log"
    echo "# FAILED C: cannot build $name"
    fail=$((fail + 1))
    return 1
  fi
}

ctests() {
  dir=$1
  t=$dir/test
  p0=$pass
  f0=$fail
  mkdir -p "$t"
  cc_test switch_check -O2 -Wall -o "$t/switch_check" spec/c/switch_check.c c/switch.c \
    c/switch_x86_64.S c/switch_aarch64.S &&
    tally "C: context switch (asm)" "$t/switch_check"
  cc_test switch_check_uc -O2 -Wall -DLG_UCONTEXT=1 -o "$t/switch_check_uc" \
    spec/c/switch_check.c c/switch.c &&
    tally "C: context switch (ucontext)" "$t/switch_check_uc"
  cc_test slice_check -O1 -g -Wall -o "$t/slice_check" spec/c/slice_check.c c/stack.c \
    c/switch.c c/switch_x86_64.S c/switch_aarch64.S -ldl -lpthread &&
    tally "C: slices copied on and off a shared stack" "$t/slice_check"
  cc_test host_luajit -O1 -g -I/usr/include/luajit-2.1 spec/c/host.c -o "$t/host_luajit" \
    -lluajit-5.1 -lev "$dir/5.1/lgreen/core.so" -Wl,-rpath,"$PWD/$dir/5.1/lgreen" &&
    tally "C: host drives the hub (LuaJIT)" "$t/host_luajit" "$dir/5.1/?.so"
  cc_test host_lua54 -O1 -g -I/usr/include/lua5.4 spec/c/host.c -o "$t/host_lua54" \
    -llua5.4 -lev "$dir/5.4/lgreen/core.so" -Wl,-rpath,"$PWD/$dir/5.4/lgreen" &&
    tally "C: host drives the hub (Lua 5.4)" "$t/host_lua54" "$dir/5.4/?.so"
  cc_test two_vms_luajit -O1 -g -I/usr/include/luajit-2.1 spec/c/two_vms.c \
    -o "$t/two_vms_luajit" -lluajit-5.1 -lpthread &&
    tally "C: two VMs, two threads (LuaJIT)" "$t/two_vms_luajit" "$dir/5.1/?.so"
  cc_test two_vms_lua54 -O1 -g -I/usr/include/lua5.4 spec/c/two_vms.c \
    -o "$t/two_vms_lua54" -llua5.4 -lpthread &&
    tally "C: two VMs, two threads (Lua 5.4)" "$t/two_vms_lua54" "$dir/5.4/?.so"
  # The embedding library as a host links it: make install into a DESTDIR,
  # then cc host.c $(pkg-config --cflags --libs lgreen), no core.so on cpath.
  rm -rf "$t/root"
  if make -s install DESTDIR="$PWD/$t/root" PREFIX=/usr BUILD="$dir" >"$log" 2>&1; then
    pcx() { PKG_CONFIG_PATH="$PWD/$t/root/usr/lib/pkgconfig" \
      PKG_CONFIG_SYSROOT_DIR="$PWD/$t/root" pkg-config "$@"; }
    cc_test host_loop_luajit -O1 -g -Wall -Ispec/c -I/usr/include/luajit-2.1 \
      spec/c/host_loop.c -o "$t/host_loop_luajit" $(pcx --cflags --libs lgreen) \
      -lluajit-5.1 -lev -Wl,-rpath,"$PWD/$t/root/usr/lib" &&
      tally "C: host on its own libev loop, linked by pkg-config (LuaJIT)" \
        "$t/host_loop_luajit" "/nonexistent/?.so"
    cc_test host_loop_lua54 -O1 -g -Wall -Ispec/c -I/usr/include/lua5.4 \
      spec/c/host_loop.c -o "$t/host_loop_lua54" $(pcx --cflags --libs lgreen-5.4) \
      -llua5.4 -lev -Wl,-rpath,"$PWD/$t/root/usr/lib" &&
      tally "C: host on its own libev loop, linked by pkg-config (Lua 5.4)" \
        "$t/host_loop_lua54" "/nonexistent/?.so"
    cc_test host_loop_lua51 -O1 -g -Wall -Ispec/c -I/usr/include/lua5.1 \
      spec/c/host_loop.c -o "$t/host_loop_lua51" $(pcx --cflags --libs lgreen) \
      -llua5.1 -lev -Wl,-rpath,"$PWD/$t/root/usr/lib" &&
      tally "C: host on its own libev loop, linked by pkg-config (Lua 5.1)" \
        "$t/host_loop_lua51" "/nonexistent/?.so"
    cc_test lgreen_h_cxx -x c++ -fsyntax-only -I"$t/root/usr/include" \
      -I/usr/include/luajit-2.1 -include lua.hpp "$t/root/usr/include/lgreen.h" &&
      tally "C: lgreen.h compiles as C++" printf "%s\\n" "ok 1 - lgreen.h with lua.hpp, as C++" "1..1"
  else
    cat "$log"
    echo "# FAILED C: make install DESTDIR"
    fail=$((fail + 1))
  fi
  echo "# C tests: $((pass - p0)) passed, $((fail - f0)) failed"
}

# build ARGS...: make the module; a failed build is a failure (and the end).
build() {
  if ! make -s build "$@"; then
    echo "# FAILED make build $*"
    echo "$pass passed, $((fail + 1)) failed"
    exit 1
  fi
}

case "$mode" in
"")
  build
  for vm in luajit lua5.1 lua5.2 lua5.3 lua5.4; do
    bust "busted $vm" $vm build "$ALL"
  done
  # the fourth VM: OpenResty's LuaJIT (ngx_lua's), unpacked, never installed
  if orvm=$(sh tools/nginx-debs.sh 2>/dev/null); then
    bust "busted openresty-luajit" "$orvm/luajit2" build "$ALL"
  else
    echo "# busted openresty-luajit: skipped (tools/nginx-debs.sh could not fetch its .debs)"
  fi
  ctests build
  build BUILD=build/ucontext UCONTEXT=1
  XENV="LGREEN_SWITCH=ucontext LGREEN_BUILD=build/ucontext"
  bust "busted luajit, ucontext switch" luajit build/ucontext "$CORE"
  # the core specs again with every greenlet on a private stack
  XENV="LGREEN_STACK=private"
  bust "busted luajit, private stacks" luajit build "$CORE"
  bust "busted lua5.4, private stacks" lua5.4 build "$CORE"
  ;;
--quick)
  build
  bust "busted luajit, quick" luajit build "$ALL" --exclude-tags=slow
  ;;
--asan)
  build BUILD=build/asan ASAN=1
  XENV="LD_PRELOAD=$(cc -print-file-name=libasan.so) LGREEN_SLOW=1
    LGREEN_BUILD=build/asan ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
  for vm in luajit lua5.1 lua5.2 lua5.3 lua5.4; do
    bust "ASan busted $vm" $vm build/asan "$CORE $HUB"
    bust "ASan busted $vm, resolver" $vm build/asan "$IO" $IOTAGS
  done
  ;;
--valgrind)
  command -v valgrind >/dev/null || sh tools/deps.sh valgrind || exit 1
  build BUILD=build/valgrind VALGRIND=1
  XENV="LGREEN_SLOW=1 LGREEN_VALGRIND=1 LGREEN_BUILD=build/valgrind"
  WRAP="valgrind -q --error-exitcode=99 --suppressions=spec/valgrind.supp"
  for vm in lua5.1 lua5.4 luajit; do
    bust "valgrind $vm" $vm build/valgrind "$CORE $HUB"
    bust "valgrind $vm, resolver" $vm build/valgrind "$IO" $IOTAGS
  done
  ;;
*)
  echo "usage: spec/run.sh [--quick|--asan|--valgrind]" >&2
  exit 2
  ;;
esac

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
