#!/bin/sh
# make demo: run an example from the checkout (default: the main demo).
#   examples/run.sh [example.lua] [luajit|lua5.1|lua5.4]
cd "$(dirname "$0")/.."
ex=${1:-l3_agent.lua}
vm=${2:-luajit}
export LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.1/?.so;;" \
  LUA_CPATH_5_4="build/5.4/?.so;;"
exec "$vm" "examples/$ex"
