#!/bin/sh
# make bench: every benchmark, peers measured in the same run, ratios last.
set -u
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.1/?.so;;" \
  LUA_CPATH_5_4="build/5.4/?.so;;"

echo "== one-way switch, ns (best of 5; lower is better)"
for vm in luajit lua5.1 lua5.4; do
  $vm bench/switch.lua > "$out/$vm" || exit 1
  co=$(awk '$1 == "coroutine.resume/yield" { print $2 }' "$out/$vm")
  gs=$(awk '$1 == "g:switch()" { print $2 }' "$out/$vm")
  sed "s/^/  $vm  /" "$out/$vm"
  awk -v vm="$vm" -v co="$co" -v gs="$gs" \
    'BEGIN { printf "  %s  ratio g:switch / coroutine = %.2f\n", vm, gs / co }'
done

echo "== raw context switch, ns (C, no Lua)"
cc -O2 -o "$out/raw_asm" bench/switch_raw.c c/switch.c c/switch_x86_64.S c/switch_aarch64.S &&
cc -O2 -DLG_UCONTEXT=1 -o "$out/raw_uc" bench/switch_raw.c c/switch.c || exit 1
"$out/raw_asm" | sed 's/^/  /'
"$out/raw_uc" | head -1 | sed 's/^/  /'
