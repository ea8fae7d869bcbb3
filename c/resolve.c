/*
** resolve.c — core.resolve (being written).
*/
#include "lib.h"

static const luaL_Reg resolve_funcs[] = {
  { NULL, NULL }
};

/* Push the core.resolve table. */
void lg_open_resolve(lua_State *L)
{
  lg_lib_newtable(L, resolve_funcs);
}
