#!/bin/sh
# check_aarch64.sh — the aarch64 context switch (c/switch_aarch64.S and the
# aarch64 lg_ctx_make in c/switch.c) on any Debian host: cross-build
# spec/c/switch_check.c statically and run it under qemu user-mode
# emulation; then spec/c/slice_check.c (slices of a shared stack) the same
# way.  Their TAP output passes through unchanged; exit 0 if both passed.
# Installs the cross compiler and qemu when missing, only as root; otherwise
# prints the apt-get command and exits 1.
#   CROSS_CC=...  another aarch64 compiler (default aarch64-linux-gnu-gcc)
set -u
cd "$(dirname "$0")/../.." || exit 1
CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
# libc6-dev-arm64-cross is only a Recommends of gcc-aarch64-linux-gnu:
# named so that -static links under --no-install-recommends too.
PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
INSTALL="apt-get update && apt-get install -y $PKGS"

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

if ! have_tools; then
  if [ "$(id -u)" != 0 ]; then
    echo "check_aarch64.sh: cross compiler or qemu missing; as root run:" >&2
    echo "  $INSTALL" >&2
    exit 1
  fi
  # apt's chatter goes to stderr: stdout stays pure TAP
  # shellcheck disable=SC2086 # $PKGS is a word list
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $PKGS; } >&2 \
    || { echo "Bail out! could not install $PKGS"; exit 1; }
  have_tools || { echo "Bail out! $CC or qemu-aarch64 still missing"; exit 1; }
fi
QEMU=$(find_qemu)

bin=$(mktemp "${TMPDIR:-/tmp}/switch_check_a64.XXXXXX") || exit 1
trap 'rm -f "$bin"' EXIT
if ! "$CC" -O2 -Wall -static -o "$bin" spec/c/switch_check.c c/switch.c \
     c/switch_x86_64.S c/switch_aarch64.S; then
  echo "Bail out! cross-build of spec/c/switch_check.c failed"
  exit 1
fi
"$QEMU" "$bin"
rc=$?
# and slices copied on and off a shared stack (its own TAP plan follows)
if ! "$CC" -O1 -Wall -static -o "$bin" spec/c/slice_check.c c/stack.c c/switch.c \
     c/switch_x86_64.S c/switch_aarch64.S -lpthread -ldl; then
  echo "Bail out! cross-build of spec/c/slice_check.c failed"
  exit 1
fi
"$QEMU" "$bin" || rc=1
exit $rc
