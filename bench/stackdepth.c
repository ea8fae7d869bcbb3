/*
** stackdepth.c — a tiny Lua module for bench/switch_deep.lua:
** stackdepth.sp() returns the address of a local of its own frame, i.e.
** (within a few bytes) the C stack pointer of whoever called it from Lua.
** The difference of two calls made at two depths of one green thread is
** the C stack that lies between them.  Built by bench/run.sh against the
** Lua 5.1 headers (LuaJIT's ABI); not part of lgreen.
*/
#include <stdint.h>
#include <lua.h>
#include <lauxlib.h>

static int sd_sp(lua_State *L)
{
  volatile char here = 0;
  lua_pushnumber(L, (lua_Number)(uintptr_t)&here);
  return 1;
}

int luaopen_stackdepth(lua_State *L)
{
  lua_newtable(L);					/* M */
  lua_pushcfunction(L, sd_sp);				/* M f */
  lua_setfield(L, -2, "sp");				/* M */
  return 1;
}
