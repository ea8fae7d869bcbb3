/*
** lib_core.c — luaopen_lgreen_core: one VM state per Lua VM, then the
** binding tables on top of it.
*/
#include "lgreen.h"
#include "greenlet.h"

#define LG_REGKEY "lgreen.core"

void lg_open_greenlet(lua_State *L, int vmi);

LGREEN_API int luaopen_lgreen_core(lua_State *L)
{
  int vmi;
  lua_getfield(L, LUA_REGISTRYINDEX, LG_REGKEY);	/* M? */
  if (lua_istable(L, -1)) return 1;	/* a second load shares the VM state */
  lua_pop(L, 1);
  lg_vm_open(L);					/* vm */
  vmi = lua_gettop(L);
  lua_newtable(L);					/* vm M */
  lg_open_greenlet(L, vmi);				/* vm M G */
  lua_setfield(L, -2, "greenlet");			/* vm M */
  lua_pushliteral(L, LGREEN_VERSION);
  lua_setfield(L, -2, "_VERSION");
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, LG_REGKEY);	/* vm M */
  return 1;
}
