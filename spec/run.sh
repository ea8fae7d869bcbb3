#!/bin/sh
# Every test lgreen has: busted under LuaJIT and Lua 5.1 to 5.4, the C
# tests, and the core specs again on the portable ucontext switch.
#   spec/run.sh             the whole suite (what `make test` and CI run)
#   spec/run.sh --asan      greenlet and hub specs on an AddressSanitizer build
#   spec/run.sh --valgrind  the same under valgrind (stacks registered)
# Ends with one line "N passed, N failed"; exits non-zero unless all passed.
set -u
cd "$(dirname "$0")/.."
mode=${1:-}
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
CORE="spec/01-greenlet_spec.lua spec/02-anywhere_spec.lua spec/03-jit_spec.lua spec/04-memory_spec.lua"
HUB="spec/10-hub_spec.lua spec/11-greenthread_spec.lua spec/12-sync_spec.lua spec/13-queue_spec.lua spec/14-pool_spec.lua spec/15-timeout_spec.lua spec/16-io_spec.lua spec/17-socket_spec.lua spec/19-process_spec.lua spec/20-signal_spec.lua spec/31-finalizer_spec.lua"
# (the resolver's LD_PRELOAD subprocesses do not mix with ASan's preload)
IO="spec/18-resolve_spec.lua --exclude-tags=subprocess"
# stack slicing: ASan makes shared stacks nobody runs on PROT_NONE
HUB="$HUB spec/51-frames_spec.lua spec/52-slices_spec.lua"

# tally NAME CMD...: run a TAP producer, count its results.  A non-zero exit
# with no "not ok" (a crash), or no result at all, counts as one failure.
tally() {
  name=$1
  shift
  "$@" >"$log" 2>&1
  rc=$?
  ok=$(grep -c '^ok ' "$log")
  nok=$(grep -c '^not ok ' "$log")
  if [ "$rc" != 0 ] && [ "$nok" = 0 ]; then nok=1; fi
  if [ "$ok" = 0 ] && [ "$nok" = 0 ]; then nok=1; fi
  if [ "$nok" != 0 ]; then
    grep -v '^ok ' "$log" | head -80
  fi
  echo "# $name: $ok passed, $nok failed (exit $rc)"
  pass=$((pass + ok))
  fail=$((fail + nok))
}

# busted VM BUILDDIR [specs...], with the variables in $XENV set
XENV=
bust() {
  vm=$1
  dir=$2
  shift 2
  abi=5.1
  case $vm in lua5.[234]) abi=${vm#lua} ;; esac
  env $XENV LGREEN_LUA=$vm busted --lua="$vm" --cpath="$dir/$abi/?.so" -o TAP "$@"
}

ctests() {
  dir=$1
  mkdir -p "$dir/test"
  cc -O2 -Wall -o "$dir/test/switch_check" spec/c/switch_check.c c/switch.c \
    c/switch_x86_64.S c/switch_aarch64.S &&
  cc -O2 -Wall -DLG_UCONTEXT=1 -o "$dir/test/switch_check_uc" \
    spec/c/switch_check.c c/switch.c || return 1
  cc -O1 -g -Wall -o "$dir/test/slice_check" spec/c/slice_check.c c/stack.c \
    c/switch.c c/switch_x86_64.S c/switch_aarch64.S -ldl -lpthread || return 1
  tally "C: slices copied on and off a shared stack" "$dir/test/slice_check"
  tally "C: context switch (asm)" "$dir/test/switch_check"
  tally "C: context switch (ucontext)" "$dir/test/switch_check_uc"
  cc -O1 -g -I/usr/include/luajit-2.1 spec/c/two_vms.c -o "$dir/test/two_vms_luajit" \
    -lluajit-5.1 -lpthread &&
  cc -O1 -g -I/usr/include/lua5.4 spec/c/two_vms.c -o "$dir/test/two_vms_lua54" \
    -llua5.4 -lpthread || return 1
  cc -O1 -g -I/usr/include/luajit-2.1 spec/c/host.c -o "$dir/test/host_luajit" \
    -lluajit-5.1 -lev "$dir/5.1/lgreen/core.so" -Wl,-rpath,"$PWD/$dir/5.1/lgreen" &&
  cc -O1 -g -I/usr/include/lua5.4 spec/c/host.c -o "$dir/test/host_lua54" \
    -llua5.4 -lev "$dir/5.4/lgreen/core.so" -Wl,-rpath,"$PWD/$dir/5.4/lgreen" || return 1
  tally "C: host drives the hub (LuaJIT)" "$dir/test/host_luajit" "$dir/5.1/?.so"
  tally "C: host drives the hub (Lua 5.4)" "$dir/test/host_lua54" "$dir/5.4/?.so"
  tally "C: two VMs, two threads (LuaJIT)" "$dir/test/two_vms_luajit" "$dir/5.1/?.so"
  tally "C: two VMs, two threads (Lua 5.4)" "$dir/test/two_vms_lua54" "$dir/5.4/?.so"
}

case "$mode" in
"")
  make -s build || exit 1
  for vm in luajit lua5.1 lua5.2 lua5.3 lua5.4; do
    tally "busted $vm" bust $vm build
  done
  ctests build
  make -s build BUILD=build/ucontext UCONTEXT=1 || exit 1
  XENV="LGREEN_SWITCH=ucontext LGREEN_BUILD=build/ucontext"
  tally "busted luajit, ucontext switch" bust luajit build/ucontext $CORE
  # the core specs again with every greenlet on a private stack
  XENV="LGREEN_STACK=private"
  tally "busted luajit, private stacks" bust luajit build $CORE
  tally "busted lua5.4, private stacks" bust lua5.4 build $CORE
  ;;
--asan)
  make -s build BUILD=build/asan ASAN=1 || exit 1
  XENV="LD_PRELOAD=$(cc -print-file-name=libasan.so) LGREEN_SLOW=1
    LGREEN_BUILD=build/asan ASAN_OPTIONS=detect_leaks=0:abort_on_error=1"
  for vm in luajit lua5.1 lua5.2 lua5.3 lua5.4; do
    tally "ASan busted $vm" bust $vm build/asan $CORE $HUB $IO
  done
  ;;
--valgrind)
  command -v valgrind >/dev/null || sh tools/deps.sh valgrind || exit 1
  make -s build BUILD=build/valgrind VALGRIND=1 || exit 1
  for vm in lua5.1 lua5.4 luajit; do
    abi=5.1
    [ "$vm" = lua5.4 ] && abi=5.4
    tally "valgrind $vm" env LGREEN_SLOW=1 LGREEN_VALGRIND=1 LGREEN_LUA=$vm LGREEN_BUILD=build/valgrind \
      valgrind -q --error-exitcode=99 --suppressions=spec/valgrind.supp \
      $vm /usr/bin/busted --cpath="build/valgrind/$abi/?.so" -o TAP $CORE $HUB $IO
  done
  ;;
*)
  echo "usage: spec/run.sh [--asan|--valgrind]" >&2
  exit 2
  ;;
esac

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
