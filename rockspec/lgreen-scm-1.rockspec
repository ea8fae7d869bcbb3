-- Built with LuaRocks' make backend: `luarocks make rockspec/lgreen-scm-1.rockspec`
-- from a checkout runs the Makefile's rock and rock-install targets.  The C
-- source list here is the only one: the Makefile reads it from this file.
package = "lgreen"
version = "scm-1"
source = {
  url = "git+file:///dev/null",	-- built from a checkout with `luarocks make`
}
description = {
  summary = "Green threads for Lua on real C stacks, with a libev hub",
  detailed = [[
Greenlets that can switch anywhere (inside pcall on Lua 5.1, metamethods,
table.sort comparators, gsub callbacks, require, C callbacks), and eventlet's
vocabulary on top of a libev hub.  LuaJIT 2.1 first; PUC Lua 5.1 and 5.4.]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1, < 5.5",
}
external_dependencies = {
  LIBEV = { header = "ev.h", library = "ev" },
}
build = {
  -- The Makefile compiles the rock, with the flags of every tested build
  -- (XCFLAGS: -fstack-clash-protection, -fvisibility=hidden, ...); the
  -- builtin backend would compile with luarocks' CFLAGS alone.
  type = "make",
  build_target = "rock",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LIBEV_INCDIR = "$(LIBEV_INCDIR)",
    LIBEV_LIBDIR = "$(LIBEV_LIBDIR)",
  },
  install_target = "rock-install",	-- lgreen.core and every lua/lgreen/*.lua
  install_variables = {
    LIBDIR = "$(LIBDIR)",
    LUADIR = "$(LUADIR)",
  },
  -- lgreen.core's C sources, in link order (the Makefile reads them here).
  lgreen_core = {
      sources = {
        "c/exdata.c",
        "c/switch_x86_64.S", "c/switch_aarch64.S", "c/switch.c", "c/stack.c",
        "c/greenlet.c", "c/hub.c", "c/lib_greenlet.c", "c/lib_hub.c",
        "c/socket.c", "c/resolve.c", "c/process.c", "c/workers.c", "c/lib_core.c",
        "c/debug.c", "c/lib_debug.c",
        "c/host.c",
      },
  },
}
