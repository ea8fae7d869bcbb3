/*
** compat.h — the few Lua C API differences between the 5.1 ABI (PUC 5.1 and
** LuaJIT, detected at run time), 5.2, 5.3 and 5.4.  Nothing here holds state.
*/
#ifndef LG_COMPAT_H
#define LG_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

/* Internals are hidden even when built without -fvisibility=hidden (as
** LuaRocks does): ffi.C must not reach them (DESIGN rule 1). */
#pragma GCC visibility push(hidden)

/* LG_LUA52: 5.2 or later (finalizers registered at setmetatable, tail
** calls hooked as calls, uservalues); LG_LUA54: 5.4 (n uservalues). */
#if LUA_VERSION_NUM >= 504
#define LG_LUA54 1
#define LG_LUA52 1
#elif LUA_VERSION_NUM == 502 || LUA_VERSION_NUM == 503
#define LG_LUA54 0
#define LG_LUA52 1
#elif LUA_VERSION_NUM == 501
#define LG_LUA54 0
#define LG_LUA52 0
#else
#error "lgreen supports the Lua 5.1 ABI (PUC 5.1, LuaJIT), 5.2, 5.3 and 5.4"
#endif

/* The VM's name as greenlet.stats().vm says it (LuaJIT is told at run time). */
#define LG_VMNAME (LUA_VERSION_NUM == 504 ? "5.4" : LUA_VERSION_NUM == 503 ? \
		   "5.3" : LUA_VERSION_NUM == 502 ? "5.2" : "5.1")

/* The table of slots: the environment on 5.1, the uservalue on 5.2 and 5.3
** (5.2 takes only a table or nil there; 5.3 any value, a table will do). */
#if LG_LUA52
#define lg_getenvt(L, i) ((void)lua_getuservalue(L, (i)))
#define lg_setenvt(L, i) lua_setuservalue(L, (i))
#else
#define lg_getenvt(L, i) lua_getfenv(L, (i))
#define lg_setenvt(L, i) lua_setfenv(L, (i))
#endif

#define LG_UNLIKELY(x)	__builtin_expect(!!(x), 0)
#define LG_LIKELY(x)	__builtin_expect(!!(x), 1)
#define LG_NOINLINE	__attribute__((noinline))

#ifndef LUA_GCISRUNNING
#define LUA_GCISRUNNING 9	/* LuaJIT and 5.4 answer it; PUC 5.1 says -1 */
#endif

/* Per-object references of a greenlet userdata: uservalues on 5.4, slots of
** its environment table on the 5.1 ABI, of its uservalue table on 5.2 and
** 5.3.  Slot numbers start at 1. */
#define LG_NSLOTS 3

static inline void *lg_newudata(lua_State *L, size_t sz)
{
#if LG_LUA54
  return lua_newuserdatauv(L, sz, LG_NSLOTS);		/* ud */
#else
  void *p = lua_newuserdata(L, sz);			/* ud */
  lua_createtable(L, LG_NSLOTS, 0);			/* ud env */
  lg_setenvt(L, -2);					/* ud */
  return p;
#endif
}

/* Filling the slots of a new userdata in one go: begin pushes what
** lg_slotput needs (the environment table on 5.1), end pops it. */
static inline void lg_slotsbegin(lua_State *L, int ud)
{
#if LG_LUA54
  (void)L; (void)ud;
#else
  lg_getenvt(L, ud);					/* env */
#endif
}

/* Pop a value into slot k of userdata ud, between begin and end. */
static inline void lg_slotput(lua_State *L, int ud, int k)
{
#if LG_LUA54
  lua_setiuservalue(L, ud, k);
#else
  (void)ud;
  lua_rawseti(L, -2, k);				/* env */
#endif
}

static inline void lg_slotsend(lua_State *L)
{
#if LG_LUA54
  (void)L;
#else
  lua_pop(L, 1);
#endif
}

/* Pop a value and store it in slot k of the userdata at index ud (> 0). */
static inline void lg_setslot(lua_State *L, int ud, int k)
{
#if LG_LUA54
  lua_setiuservalue(L, ud, k);
#else
  lg_getenvt(L, ud);					/* v env */
  lua_insert(L, -2);					/* env v */
  lua_rawseti(L, -2, k);				/* env */
  lua_pop(L, 1);
#endif
}

/* Push slot k of the userdata at index ud (> 0). */
static inline void lg_getslot(lua_State *L, int ud, int k)
{
#if LG_LUA54
  lua_getiuservalue(L, ud, k);
#else
  lg_getenvt(L, ud);					/* env */
  lua_rawgeti(L, -1, k);				/* env v */
  lua_remove(L, -2);					/* v */
#endif
}

/* Negative stack indices made absolute; 0 ("none") and pseudo-indices kept. */
#define lg_absindex(L, i) \
  ((i) < 0 && (i) > LUA_REGISTRYINDEX ? lua_gettop(L) + (i) + 1 : (i))

#if !LG_LUA52
#define lua_rawlen(L, i) lua_objlen(L, (i))
/* luaL_setfuncs for the 5.1 headers (LuaJIT has it, PUC 5.1 does not). */
static inline void lg_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
  for (; l->name; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);	/* t up.. up.. */
    lua_pushcclosure(L, l->func, nup);			/* t up.. f */
    lua_setfield(L, -(nup + 2), l->name);		/* t up.. */
  }
  lua_pop(L, nup);
}
#else
#define lg_setfuncs luaL_setfuncs
#endif

#endif
