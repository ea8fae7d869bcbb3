/*
** socket.c — core.socket (being written).
*/
#include "lib.h"

static const luaL_Reg socket_funcs[] = {
  { NULL, NULL }
};

/* Push the core.socket table. */
void lg_open_socket(lua_State *L)
{
  lg_lib_newtable(L, socket_funcs);
}
