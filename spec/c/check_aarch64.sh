#!/bin/sh
# check_aarch64.sh — lgreen on aarch64, on any Debian amd64 host, under qemu
# user-mode emulation:
#   1. the context switch (c/switch_aarch64.S and the aarch64 lg_ctx_make in
#      c/switch.c, and the ucontext build): spec/c/switch_check.c and
#      spec/c/slice_check.c, built statically;
#   2. the whole busted suite for LuaJIT and Lua 5.4 as arm64 binaries:
#      lgreen cross-built into build/aarch64, Debian's arm64 interpreters
#      and busted's C helpers run by qemu-aarch64 against Debian's arm64
#      libraries (multiarch).
#   spec/c/check_aarch64.sh [spec files...]   (default: the whole suite)
# Ends with one line "N passed, N failed"; exit 0 if all passed.
# Installs what is missing (the cross compiler, qemu, the arm64 architecture
# and its -dev packages) only as root; otherwise prints the apt-get command
# and exits 1.
#   CROSS_CC=...  another aarch64 compiler (default aarch64-linux-gnu-gcc)
#   AARCH64_VMS="luajit lua5.4"  the VMs whose suite runs ("" = switch only)
set -u
cd "$(dirname "$0")/../.." || exit 1
CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
VMS=${AARCH64_VMS-luajit lua5.4}
BUILD=build/aarch64
ROOT=$PWD/$BUILD/root	# the arm64 .debs that cannot coinstall, unpacked
LIBDIR=/usr/lib/aarch64-linux-gnu
# libc6-dev-arm64-cross is only a Recommends of gcc-aarch64-linux-gnu:
# named so that -static links under --no-install-recommends too.
PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
# Multi-Arch: same, so they coinstall with the amd64 ones: the libraries
# lgreen and the interpreters link, and the C modules busted and the specs
# load (lfs, system, socket, ssl, posix).
APKGS="libluajit-5.1-2:arm64 libluajit-5.1-dev:arm64 liblua5.4-0:arm64
liblua5.4-dev:arm64 libev4:arm64 libev-dev:arm64 libreadline8:arm64
lua-system:arm64 lua-filesystem:arm64 lua-socket:arm64 lua-sec:arm64
lua-posix:arm64"
# Multi-Arch: foreign or none: they would replace the amd64 ones (the same
# /usr/bin path), so they are downloaded and unpacked into $ROOT instead.
# (liblua5.1-0-dev:arm64 would pull in pkg-config:arm64 in place of the
# host's: only its lua5.1-deb-multiarch.h is needed, for the 5.1 headers.)
DPKGS="luajit:arm64 lua5.4:arm64 lua-term:arm64 liblua5.1-0-dev:arm64"
pass=0
fail=0

find_qemu() {
  for q in qemu-aarch64 qemu-aarch64-static; do
    if command -v "$q" >/dev/null 2>&1; then
      echo "$q"
      return 0
    fi
  done
  return 1
}

have_tools() {
  command -v "$CC" >/dev/null 2>&1 || return 1
  find_qemu >/dev/null || return 1
  case $("$CC" -print-file-name=libc.a) in
    /*) return 0 ;;		# found: an absolute path
  esac
  return 1
}

have_arm64() {
  for p in $APKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || return 1
  done
}

# as root: install $*, apt's chatter on stderr (stdout stays TAP)
install() {
  if [ "$(id -u)" != 0 ]; then
    echo "check_aarch64.sh: packages missing; as root run:" >&2
    echo "  $*" >&2
    exit 1
  fi
  sh -c "$*" >&2 || { echo "Bail out! could not run: $*"; exit 1; }
}

# tally NAME CMD...: as spec/run.sh's (a crash or no result is one failure)
log=$(mktemp "${TMPDIR:-/tmp}/check_aarch64.XXXXXX") || exit 1
bin=$(mktemp "${TMPDIR:-/tmp}/switch_check_a64.XXXXXX") || exit 1
trap 'rm -f "$bin" "$log"' EXIT
tally() {
  name=$1
  shift
  "$@" >"$log" 2>&1
  rc=$?
  ok=$(grep -c '^ok ' "$log")
  nok=$(grep -c '^not ok ' "$log")
  if [ "$rc" != 0 ] && [ "$nok" = 0 ]; then nok=1; fi
  if [ "$ok" = 0 ] && [ "$nok" = 0 ]; then nok=1; fi
  if [ "$nok" != 0 ]; then	# every failure's name, then the first details
    grep '^not ok ' "$log"
    grep -v '^ok ' "$log" | head -80
  fi
  echo "# $name: $ok passed, $nok failed (exit $rc)"
  pass=$((pass + ok))
  fail=$((fail + nok))
}

if ! have_tools; then
  install "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $PKGS"
  have_tools || { echo "Bail out! $CC or qemu-aarch64 still missing"; exit 1; }
fi
QEMU=$(find_qemu)

# -- 1. the switch itself -----------------------------------------------------
if "$CC" -O2 -Wall -static -o "$bin" spec/c/switch_check.c c/switch.c \
     c/switch_x86_64.S c/switch_aarch64.S; then
  tally "aarch64 C: context switch (asm)" "$QEMU" "$bin"
else
  echo "# cross-build of spec/c/switch_check.c failed"
  fail=$((fail + 1))
fi
if "$CC" -O2 -Wall -static -DLG_UCONTEXT=1 -o "$bin" spec/c/switch_check.c c/switch.c; then
  tally "aarch64 C: context switch (ucontext)" "$QEMU" "$bin"
else
  echo "# cross-build of spec/c/switch_check.c (ucontext) failed"
  fail=$((fail + 1))
fi
# and slices copied on and off a shared stack
if "$CC" -O1 -Wall -static -o "$bin" spec/c/slice_check.c c/stack.c c/switch.c \
     c/switch_x86_64.S c/switch_aarch64.S -lpthread -ldl; then
  tally "aarch64 C: slices copied on and off a shared stack" "$QEMU" "$bin"
else
  echo "# cross-build of spec/c/slice_check.c failed"
  fail=$((fail + 1))
fi

# -- 2. the busted suite on arm64 interpreters --------------------------------
if [ -n "$VMS" ]; then
  if ! have_arm64; then
    # shellcheck disable=SC2086 # word lists
    install "dpkg --add-architecture arm64 && apt-get update &&" \
      "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends" $APKGS
  fi
  if [ ! -x "$ROOT/usr/bin/luajit" ] || [ ! -x "$ROOT/usr/bin/lua5.4" ] ||
     [ ! -f "$ROOT/usr/include/aarch64-linux-gnu/lua5.1-deb-multiarch.h" ]; then
    rm -rf "$BUILD/debs" "$ROOT"
    mkdir -p "$BUILD/debs" "$ROOT"
    # shellcheck disable=SC2086 # a word list
    (cd "$BUILD/debs" && apt-get download $DPKGS) >&2 ||
      { echo "Bail out! apt-get download $DPKGS failed (dpkg --add-architecture arm64 and apt-get update as root?)"; exit 1; }
    for d in "$BUILD"/debs/*.deb; do dpkg-deb -x "$d" "$ROOT"; done
  fi
  # lgreen for arm64: the host's Lua headers (luaconf.h's multiarch part
  # from the arm64 packages), libev from the arm64 libdir.
  make -s BUILD=$BUILD CC="$CC" CFLAGS="-O2 -g -idirafter /usr/include/aarch64-linux-gnu \
    -idirafter $ROOT/usr/include/aarch64-linux-gnu -idirafter /usr/include" \
    LDFLAGS="-L$LIBDIR" $BUILD/5.1/lgreen/core.so $BUILD/5.4/lgreen/core.so ||
    { echo "Bail out! cross-build of lgreen failed"; exit 1; }
  # busted's terminal helper next to lgreen (busted loads it before it
  # reads --cpath: LUA_CPATH says where), and one
  # wrapper per interpreter: the specs start child VMs through LGREEN_LUA.
  mkdir -p "$BUILD/bin"
  for abi in 5.1 5.4; do
    mkdir -p "$BUILD/$abi/term"
    cp "$ROOT$LIBDIR/lua/$abi/term/core.so" "$BUILD/$abi/term/core.so"
  done
  for vm in luajit lua5.4; do
    cc -O1 -Wall -static -o "$BUILD/bin/$vm" -DQEMU="\"$(command -v "$QEMU")\"" \
      -DLIBS="\"$ROOT$LIBDIR\"" -DINTERP="\"$ROOT/usr/bin/$vm\"" spec/c/qemu_run.c ||
      { echo "Bail out! build of spec/c/qemu_run.c failed"; exit 1; }
  done
  for vm in $VMS; do
    abi=5.1
    [ "$vm" = lua5.4 ] && abi=5.4
    tally "aarch64 busted $vm" env LGREEN_LUA="$PWD/$BUILD/bin/$vm" LGREEN_BUILD=$BUILD LGREEN_CC="$CC" \
      LUA_CPATH="$BUILD/5.1/?.so;;" LUA_CPATH_5_4="$BUILD/5.4/?.so;;" \
      LGREEN_QEMU=1 "$BUILD/bin/$vm" /usr/bin/busted --cpath="$BUILD/$abi/?.so" -o TAP "$@"
  done
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
