-- Built with LuaRocks' builtin backend: `luarocks make rockspec/lgreen-scm-1.rockspec`
-- from a checkout.  The C source list here is the only one: the Makefile
-- reads it from this file.
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
  type = "builtin",
  modules = {
    ["lgreen.core"] = {
      sources = {
        "c/switch_x86_64.S", "c/switch_aarch64.S", "c/switch.c", "c/stack.c",
        "c/greenlet.c", "c/hub.c", "c/lib_greenlet.c", "c/lib_hub.c",
        "c/socket.c", "c/resolve.c", "c/process.c", "c/workers.c", "c/lib_core.c",
      },
      incdirs = { "$(LIBEV_INCDIR)" },
      libdirs = { "$(LIBEV_LIBDIR)" },
      libraries = { "ev", "pthread", "dl" },
    },
    ["lgreen.greenlet"] = "lua/lgreen/greenlet.lua",
  },
}
