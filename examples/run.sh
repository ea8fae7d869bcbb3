#!/bin/sh
# Run an example from this checkout, with the arguments given:
#   examples/run.sh [NAME.lua [VM] [ARGS...]]
# NAME.lua is a file in examples/ (default: l3_agent.lua, what `make demo`
# runs).  VM, when the second word is one, picks the interpreter: luajit
# (default), lua5.1 or lua5.4 (or a path to one of them).  Every other word
# goes to the example as arg[1], arg[2]...  For example:
#   examples/run.sh echo_server.lua 9000             LuaJIT, port 9000
#   examples/run.sh echo_server.lua lua5.4 9000 64   Lua 5.4, 64-byte blocks
# LUA_PATH and LUA_CPATH (LUA_CPATH_5_4) find lgreen in lua/ and the build in
# build/ (`make build`; BUILD=dir as for make), ahead of what they held.
# Works from any directory: the arguments are not rewritten.
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
ex=${1:-l3_agent.lua}
[ $# -gt 0 ] && shift
ex=${ex#examples/}
if [ ! -f "$root/examples/$ex" ]; then
  echo "examples/run.sh: no example '$ex'; one of:" \
    $(cd "$root/examples" && ls *.lua) >&2
  exit 2
fi
vm=luajit
case ${1-} in
  luajit|lua5.[1234]|*/luajit*|*/lua5.[1234]) vm=$1; shift ;;
esac
case $vm in *5.[234]) so=$build/${vm##*lua}/lgreen/core.so ;; *) so=$build/5.1/lgreen/core.so ;; esac
if [ ! -f "$so" ]; then
  echo "examples/run.sh: no $so: run make build first" >&2
  exit 2
fi
export LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;${LUA_PATH-;}" \
  LUA_CPATH="$build/5.1/?.so;${LUA_CPATH-;}" \
  LUA_CPATH_5_2="$build/5.2/?.so;${LUA_CPATH_5_2-;}" \
  LUA_CPATH_5_3="$build/5.3/?.so;${LUA_CPATH_5_3-;}" \
  LUA_CPATH_5_4="$build/5.4/?.so;${LUA_CPATH_5_4-;}"
exec "$vm" "$root/examples/$ex" "$@"
