/* testvm.h — a Lua VM for the C tests, finding lgreen in the checkout. */
#ifndef LG_TESTVM_H
#define LG_TESTVM_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "tap.h"

/* A fresh VM whose require finds lgreen.core at cpath and lua/ modules. */
static lua_State *test_newvm(const char *cpath)
{
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_getglobal(L, "package");				/* package */
  lua_pushstring(L, cpath);
  lua_setfield(L, -2, "cpath");
  lua_pushstring(L, "lua/?.lua;lua/?/init.lua");
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  return L;
}

#endif
