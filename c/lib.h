/*
** lib.h — helpers shared by the binding files (lib_*.c, socket.c,
** resolve.c, process.c): argument checks and the hub upvalue.
*/
#ifndef LG_LIB_H
#define LG_LIB_H

#include "hub.h"

/* The hub in upvalue 1 of the running C function, with its loop. */
static inline lg_hub *lg_lib_hub(lua_State *L)
{
  lg_hub *hub = (lg_hub *)lua_touserdata(L, lua_upvalueindex(1));
  lg_hub_ready(L, hub);
  return hub;
}

/* Optional seconds at idx: -1 when absent or nil. */
static inline double lg_lib_optseconds(lua_State *L, int idx)
{
  lua_Number s;
  if (lua_isnoneornil(L, idx)) return -1;
  s = lua_tonumber(L, idx);
  if (lua_type(L, idx) != LUA_TNUMBER || !(s >= 0) || s > 1e9)
    luaL_argerror(L, idx, "seconds must be a number from 0 to 1e9");
  return (double)s;
}

/* Return n results of a park/wait, or raise what it left (rule 2). */
#define lg_lib_ret(L, n)	((n) < 0 ? lg_greenlet_raise(L) : (n))

/* Push a table of funcs, each with the hub as upvalue 1. */
static inline void lg_lib_newtable(lua_State *L, const luaL_Reg *funcs)
{
  lua_newtable(L);					/* T */
  lua_getfield(L, LUA_REGISTRYINDEX, LG_HUB_KEY);	/* T hub */
  lg_setfuncs(L, funcs, 1);				/* T */
}

/* process.c: a Child userdata for a fork() of workers.c: pushed before
** the fork, set to the new pid after it. */
typedef struct lg_child lg_child;
lg_child *lg_process_newchild(lua_State *L);
void lg_process_setchild(lg_child *c, pid_t pid);

#endif
