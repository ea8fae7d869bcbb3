#!/bin/sh
# Fetch what the nginx integration needs and unpack it under build/nginx-debs
# without installing it: Debian's ngx_lua module (libnginx-mod-http-lua, which
# installed would replace Debian's LuaJIT with OpenResty's and remove
# libluajit-5.1-dev), its NDK, lua-resty-core, OpenResty's LuaJIT (library
# and interpreter) and nginx-dev's configured source tree.  nginx itself is a
# normal package (tools/deps.sh nginx).  Idempotent; prints the folder.
# Usage: tools/nginx-debs.sh [dest]   (exit 1 with one line if apt fails)
set -e
dest=${1:-build/nginx-debs}
PKGS="libnginx-mod-http-lua libnginx-mod-http-ndk lua-resty-core \
lua-resty-lrucache libluajit2-5.1-2 libluajit2-5.1-common luajit2 nginx-dev"
# $dest/luajit2: OpenResty's LuaJIT interpreter on its own library (the
# fourth VM of spec/run.sh).
wrapper() {
  cat >"$dest/luajit2" <<EOF
#!/bin/sh
LD_LIBRARY_PATH=$dest/root/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH} exec $dest/root/usr/bin/luajit "\$@"
EOF
  chmod +x "$dest/luajit2"
}
if [ -f "$dest/.done" ]; then
  dest=$(cd "$dest" && pwd)
  [ -x "$dest/luajit2" ] || wrapper
  echo "$dest"
  exit 0
fi
mkdir -p "$dest/debs"
dest=$(cd "$dest" && pwd)
# apt-get download writes to the current folder, as _apt when it can.
chmod 755 "$dest" "$dest/debs" 2>/dev/null || true
(cd "$dest/debs" && apt-get download $PKGS >/dev/null 2>&1) || {
  echo "nginx-debs: apt-get download $PKGS failed (run apt-get update?)" >&2
  exit 1
}
for f in "$dest"/debs/*.deb; do dpkg-deb -x "$f" "$dest/root"; done
wrapper
touch "$dest/.done"
echo "$dest"
