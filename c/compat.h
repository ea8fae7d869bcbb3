/*
** compat.h — the few Lua C API differences between the 5.1 ABI (PUC 5.1 and
** LuaJIT, detected at run time) and 5.4.  Nothing here holds state.
*/
#ifndef LG_COMPAT_H
#define LG_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

/* Internals are hidden even when built without -fvisibility=hidden (as
** LuaRocks does): ffi.C must not reach them (DESIGN rule 1). */
#pragma GCC visibility push(hidden)

#if LUA_VERSION_NUM >= 504
#define LG_LUA54 1
#elif LUA_VERSION_NUM == 501
#define LG_LUA54 0
#else
#error "lgreen supports the Lua 5.1 ABI (PUC 5.1, LuaJIT) and Lua 5.4"
#endif

#define LG_UNLIKELY(x)	__builtin_expect(!!(x), 0)
#define LG_LIKELY(x)	__builtin_expect(!!(x), 1)
#define LG_NOINLINE	__attribute__((noinline))

#ifndef LUA_GCISRUNNING
#define LUA_GCISRUNNING 9	/* LuaJIT and 5.4 answer it; PUC 5.1 says -1 */
#endif

/* Per-object references of a greenlet userdata: uservalues on 5.4, slots of
** its environment table on the 5.1 ABI.  Slot numbers start at 1. */
#define LG_NSLOTS 3

static inline void *lg_newudata(lua_State *L, size_t sz)
{
#if LG_LUA54
  return lua_newuserdatauv(L, sz, LG_NSLOTS);		/* ud */
#else
  void *p = lua_newuserdata(L, sz);			/* ud */
  lua_createtable(L, LG_NSLOTS, 0);			/* ud env */
  lua_setfenv(L, -2);					/* ud */
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
  lua_getfenv(L, ud);					/* env */
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
  lua_getfenv(L, ud);					/* v env */
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
  lua_getfenv(L, ud);					/* env */
  lua_rawgeti(L, -1, k);				/* env v */
  lua_remove(L, -2);					/* v */
#endif
}

/* Negative stack indices made absolute; 0 ("none") and pseudo-indices kept. */
#define lg_absindex(L, i) \
  ((i) < 0 && (i) > LUA_REGISTRYINDEX ? lua_gettop(L) + (i) + 1 : (i))

#if !LG_LUA54
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
