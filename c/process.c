/*
** process.c — core.process (being written).
*/
#include "lib.h"

static const luaL_Reg process_funcs[] = {
  { NULL, NULL }
};

/* Push the core.process table. */
void lg_open_process(lua_State *L)
{
  lg_lib_newtable(L, process_funcs);
}
