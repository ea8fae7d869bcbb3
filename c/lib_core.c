/*
** lib_core.c — luaopen_lgreen_core: one VM state per Lua VM, then the
** binding tables on top of it.
*/
#include "lgreen.h"
#include "greenlet.h"

#define LG_REGKEY "lgreen.core"

void lg_open_greenlet(lua_State *L, int vmi);
void lg_open_hub(lua_State *L, lg_vm *vm);
void lg_open_socket(lua_State *L);
void lg_open_resolve(lua_State *L);
void lg_open_process(lua_State *L);
void lg_open_workers(lua_State *L);
void lg_open_debug(lua_State *L);

LGREEN_API int luaopen_lgreen_core(lua_State *L)
{
  int vmi;
  lg_vm *vm;
  lua_getfield(L, LUA_REGISTRYINDEX, LG_REGKEY);	/* M? */
  if (lua_istable(L, -1)) return 1;	/* a second load shares the VM state */
  lua_pop(L, 1);
  vm = lg_vm_open(L);					/* vm */
  vmi = lua_gettop(L);
  lua_newtable(L);					/* vm M */
  lg_open_greenlet(L, vmi);				/* vm M G */
  lua_setfield(L, -2, "greenlet");			/* vm M */
  lg_open_hub(L, vm);					/* vm M H */
  lua_setfield(L, -2, "hub");				/* vm M */
  lg_open_socket(L);					/* vm M S */
  lua_setfield(L, -2, "socket");
  lg_open_resolve(L);					/* vm M R */
  lua_setfield(L, -2, "resolve");
  lg_open_process(L);					/* vm M P */
  lua_setfield(L, -2, "process");			/* vm M */
  lg_open_workers(L);					/* vm M W */
  lua_setfield(L, -2, "workers");			/* vm M */
  lg_open_debug(L);					/* vm M D */
  lua_setfield(L, -2, "debug");				/* vm M */
  lua_pushliteral(L, LGREEN_VERSION);
  lua_setfield(L, -2, "_VERSION");
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, LG_REGKEY);	/* vm M */
  return 1;
}
