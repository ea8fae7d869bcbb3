#!/bin/sh
# Build lgreen.nginx (nginx/ngx_lgreen.c) as $BUILD/nginx/lgreen/nginx.so.
# It needs nginx-dev's source tree, configured like Debian's nginx (its
# conf_flags, --with-compat) so that struct layouts match the binary: from
# /usr/share/nginx/src when nginx-dev is installed, else from the .debs that
# tools/nginx-debs.sh unpacks.  Without either (no nginx-dev, no apt), it
# says so on one line and exits 2: the module is optional.
# Usage: nginx/build.sh [build-dir]
set -e
BUILD=${1:-build}
CC=${CC:-cc}
LUAJIT_INC=${LUAJIT_INC:-/usr/include/luajit-2.1}
out=$BUILD/nginx/lgreen/nginx.so
src=/usr/share/nginx/src
if [ ! -f "$src/conf_flags" ]; then
  debs=$(sh tools/nginx-debs.sh "$BUILD/nginx-debs" 2>/dev/null) || debs=
  src=$debs/root/usr/share/nginx/src
  if [ -z "$debs" ] || [ ! -f "$src/conf_flags" ]; then
    echo "nginx-module: skipped: no nginx-dev source tree (install nginx-dev, or let tools/nginx-debs.sh fetch it)" >&2
    exit 2
  fi
fi
if [ ! -f "$LUAJIT_INC/lua.h" ]; then
  echo "nginx-module: skipped: no LuaJIT headers in $LUAJIT_INC (libluajit-5.1-dev)" >&2
  exit 2
fi
tree=$BUILD/nginx-src
if [ ! -f "$tree/objs/ngx_auto_config.h" ]; then
  # configure checks the libraries Debian's nginx was built with
  sh tools/deps.sh libpcre2-dev libssl-dev zlib1g-dev >/dev/null 2>&1 || {
    echo "nginx-module: skipped: needs libpcre2-dev libssl-dev zlib1g-dev (tools/deps.sh, as root)" >&2
    exit 2
  }
  rm -rf "$tree" && mkdir -p "$tree" && cp -R "$src/." "$tree/"
  # configure writes objs/ and a Makefile in the folder it runs in.
  (cd "$tree" && bash -c '. ./conf_flags && ./configure "${NGX_CONF_FLAGS[@]}"' \
    >configure.log 2>&1) || {
    echo "nginx-module: nginx's configure failed: see $tree/configure.log (libpcre2-dev, libssl-dev, zlib1g-dev?)" >&2
    exit 1
  }
fi
mkdir -p "$(dirname "$out")"
if [ "$out" -nt nginx/ngx_lgreen.c ] && [ "$out" -nt c/hub.h ] && [ "$out" -nt c/greenlet.h ] &&
  [ "$out" -nt "$tree/objs/ngx_auto_config.h" ]; then exit 0; fi
$CC ${CFLAGS:--O2 -g} -std=gnu11 -fPIC -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter \
  -shared -I"$LUAJIT_INC" -I"$tree/src/core" -I"$tree/src/event" \
  -I"$tree/src/event/modules" -I"$tree/src/os/unix" -I"$tree/objs" -Ic \
  -o "$out" nginx/ngx_lgreen.c -lev -lm
echo "nginx-module: built $out" >&2
