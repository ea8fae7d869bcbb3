/*
** lib.h — helpers shared by the binding files (lib_*.c, socket.c,
** resolve.c, process.c): argument checks, the hub upvalue, and the one
** failure return for OS errors.
*/
#ifndef LG_LIB_H
#define LG_LIB_H

#include <errno.h>
#include <string.h>

#include "hub.h"

/* The hub in upvalue 1 of the running C function, with its loop. */
static inline lg_hub *lg_lib_hub(lua_State *L)
{
  lg_hub *hub = (lg_hub *)lua_touserdata(L, lua_upvalueindex(1));
  lg_hub_ready(L, hub);
  return hub;
}

/* Optional seconds at idx: -1 when absent or nil.  The rule and the
** message are lgreen.args.check_seconds's: a number >= 0, not NaN ("seconds
** expected, got string", "... got -1").  Above 1e9 (math.huge) is 1e9:
** about 31 years, as good as never, and still a finite libev time. */
static inline double lg_lib_optseconds(lua_State *L, int idx)
{
  lua_Number s;
  if (lua_isnoneornil(L, idx)) return -1;
  s = lua_tonumber(L, idx);
  if (lua_type(L, idx) != LUA_TNUMBER || !(s >= 0)) {
    const char *got = luaL_typename(L, idx);
    if (lua_type(L, idx) == LUA_TNUMBER) {	/* its value, as tostring */
      lua_pushvalue(L, idx);				/* .. n */
      got = lua_tostring(L, -1);			/* .. "n" */
    }
    luaL_argerror(L, idx, lua_pushfstring(L, "seconds expected, got %s", got));
  }
  return s > 1e9 ? 1e9 : (double)s;
}

/* -- Failures ---------------------------------------------------------------
** One convention for OS errors, luv's: nil, message, errno name (nil,
** "Connection refused", "ECONNREFUSED").  Where LuaSocket defines the
** message ("connection refused", "closed"), the socket calls keep it and
** only add the name; the resolver's name is its EAI_x constant's. */

/* The name of errno value e ("ENOENT"), or NULL where libc cannot tell. */
static inline const char *lg_lib_errname(int e)
{
#if defined(_GNU_SOURCE) && defined(__GLIBC__) && __GLIBC_PREREQ(2, 32)
  return strerrorname_np(e);
#else
  (void)e;
  return NULL;
#endif
}

/* nil, msg, name: the fail return with a name given. */
static inline int lg_lib_failname(lua_State *L, const char *msg, const char *name)
{
  lua_pushnil(L);
  lua_pushstring(L, msg);
  lua_pushstring(L, name);
  return 3;
}

/* nil, msg, errno name of e (its number where libc has no name). */
static inline int lg_lib_failmsg(lua_State *L, const char *msg, int e)
{
  const char *name = lg_lib_errname(e);
  lua_pushnil(L);
  lua_pushstring(L, msg);
  if (name) lua_pushstring(L, name);
  else lua_pushinteger(L, e);
  return 3;
}

/* nil, strerror(e), errno name of e: the fail return for OS errors. */
static inline int lg_lib_fail(lua_State *L, int e)
{
  return lg_lib_failmsg(L, strerror(e), e);
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
