#!/bin/sh
# Install the Debian packages lgreen needs, if any is missing.  As root it
# runs apt-get; otherwise it prints the exact command and fails.
# Usage: tools/deps.sh [extra packages...]
# redis-server and redis-tools (redis-cli): the broker of make demo (examples/l3_agent.lua).
PKGS="gcc make libc6-dev pkg-config luajit libluajit-5.1-dev libev-dev \
lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev lua5.4 liblua5.4-dev \
lua-busted lua-socket lua-sec lua-filesystem lua-posix openssl luarocks \
strace redis-server redis-tools lua-luv $*"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
  echo "lgreen: missing Debian packages; run as root:" >&2
  echo "  apt-get update && $cmd" >&2
  exit 1
fi
echo "lgreen: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && $cmd >/dev/null || {
  echo "lgreen: apt-get failed: apt-get update && $cmd" >&2
  exit 1
}
