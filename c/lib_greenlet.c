/*
** lib_greenlet.c — the lgreen.greenlet API: argument checks, no policy.
**
** Every function has two upvalues: the lg_vm userdata and the metatable of
** greenlets.
*/
#include <string.h>

#include "greenlet.h"
#include "switch.h"

#define vmof(L)	((lg_vm *)lua_touserdata((L), lua_upvalueindex(1)))

#define togreenlet lg_greenlet_test
#define checkgreenlet lg_greenlet_check
#define isgreenlet(L, idx)	(lg_greenlet_test((L), (idx)) != NULL)

/* opts.stack_size in bytes, 0 when absent. */
static size_t optstacksize(lua_State *L, int oidx)
{
  lua_Number n;
  lua_getfield(L, oidx, "stack_size");			/* v */
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  n = lua_tonumber(L, -1);
  if (lua_type(L, -1) != LUA_TNUMBER || n != (lua_Number)(size_t)n ||
      n < LG_STACK_MIN || n > (lua_Number)LG_STACK_MAX)
    luaL_argerror(L, oidx, lua_pushfstring(L,
      "opts.stack_size must be a whole number of bytes from %d to %d",
      LG_STACK_MIN, (int)LG_STACK_MAX));
  lua_pop(L, 1);
  return (size_t)n;
}

/* Refuse unknown option keys: a typo must not become a silent default. */
static void checkoptkeys(lua_State *L, int oidx)
{
  lua_pushnil(L);
  while (lua_next(L, oidx)) {				/* k v */
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    if (strcmp(k, "stack_size") != 0 && strcmp(k, "name") != 0 &&
	strcmp(k, "stack") != 0)
      luaL_argerror(L, oidx, lua_pushfstring(L, "unknown option '%s'",
	lua_type(L, -2) == LUA_TSTRING ? k : luaL_typename(L, -2)));
    lua_pop(L, 1);					/* k */
  }
}

/* opts.stack: 1 "shared", 0 "private", -1 absent (stack_size given means
** private; else the VM's default). */
static int optstack(lua_State *L, int oidx, size_t ss)
{
  const char *v;
  int r;
  lua_getfield(L, oidx, "stack");			/* v */
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return ss ? 0 : -1;
  }
  v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  if (strcmp(v, "shared") == 0) r = 1;
  else if (strcmp(v, "private") == 0) r = 0;
  else
    return luaL_argerror(L, oidx, "opts.stack must be \"shared\" or \"private\"");
  if (r && ss)
    luaL_argerror(L, oidx, lua_pushfstring(L, "opts.stack_size is for private "
      "stacks (shared stacks have the default %d KiB): use opts.stack = "
      "\"private\"", (int)(vmof(L)->pool.defsize / 1024)));
  lua_pop(L, 1);
  return r;
}

/* greenlet.new(fn [, parent] [, opts]) */
static int gl_new(lua_State *L)
{
  lg_vm *vm = vmof(L);
  int pidx = 0, oidx = 0, nidx = 0, sh = -1;
  lg_greenlet *g;
  size_t ss = 0;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  if (isgreenlet(L, 2)) {
    checkgreenlet(L, vm, 2);
    pidx = 2;
    if (!lua_isnoneornil(L, 3)) oidx = 3;
  } else if (!lua_isnoneornil(L, 2)) {
    if (!lua_istable(L, 2))
      luaL_argerror(L, 2, lua_pushfstring(L, "greenlet or options table "
	"expected, got %s", luaL_typename(L, 2)));
    oidx = 2;
  } else if (!lua_isnoneornil(L, 3)) {	/* an explicit nil parent: default */
    oidx = 3;
  }
  if (oidx) {
    luaL_checktype(L, oidx, LUA_TTABLE);
    checkoptkeys(L, oidx);
    ss = optstacksize(L, oidx);
    sh = optstack(L, oidx, ss);
    lua_getfield(L, oidx, "name");			/* .. name */
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TSTRING)
	luaL_argerror(L, oidx, "opts.name must be a string");
      nidx = lua_gettop(L);
    }
  }
  g = lg_greenlet_new(L, vm, 1, pidx, ss, nidx);
  if (sh >= 0) g->shared = (unsigned char)(sh && !LG_UCONTEXT);
  return 1;
}

/* greenlet.getcurrent() */
static int gl_getcurrent(lua_State *L)
{
  lg_getr(L, vmof(L), LG_R_CURRENT);			/* cur */
  return 1;
}

/* g:switch(...) */
static int gl_switch(lua_State *L)
{
  lg_vm *vm = vmof(L);
  lg_greenlet *g = checkgreenlet(L, vm, 1);
  int n;
  if (g->status == LG_DEAD)
    luaL_argerror(L, 1, "cannot switch to a dead greenlet");
  n = lg_greenlet_switch(L, vm, g, 1, lua_gettop(L) - 1, LG_XVALUES);
  return n < 0 ? lg_greenlet_raise(L) : n;
}

/* g:throw([err]) */
static int gl_throw(lua_State *L)
{
  lg_vm *vm = vmof(L);
  lg_greenlet *g = checkgreenlet(L, vm, 1);
  int n;
  if (g->status == LG_DEAD)
    luaL_argerror(L, 1, "cannot throw into a dead greenlet");
  lua_settop(L, 2);
  if (lua_isnil(L, 2)) {
    lg_getr(L, vm, LG_R_EXIT);				/* g nil exit */
    lua_replace(L, 2);					/* g exit */
  }
  n = lg_greenlet_switch(L, vm, g, 1, 1, LG_XERROR);
  return n < 0 ? lg_greenlet_raise(L) : n;
}

/* greenlet._hook(what [, thread]) (greenlet.lua wraps debug.sethook) */
static int gl_hook(lua_State *L)
{
  return lg_greenlet_hook(L, vmof(L));
}

/* greenlet._field(g, k): the fields; greenlet.lua's __index looks up the
** methods first, in Lua, where LuaJIT can compile it. */
static int gl_field(lua_State *L)
{
  lg_vm *vm = vmof(L);
  lg_greenlet *g = checkgreenlet(L, vm, 1);
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
  if (strcmp(k, "dead") == 0) {
    lua_pushboolean(L, g->status == LG_DEAD);
  } else if (strcmp(k, "started") == 0) {
    lua_pushboolean(L, g->started);
  } else if (strcmp(k, "parent") == 0) {
    if (g == vm->main) lua_pushnil(L);
    else lg_getslot(L, 1, LG_SLOT_PARENT);
  } else if (strcmp(k, "name") == 0) {
    if (g == vm->main) lua_pushliteral(L, "main");
    else lg_getslot(L, 1, LG_SLOT_NAME);
  } else if (strcmp(k, "stack") == 0) {	/* what it runs (or will run) on */
    lua_pushstring(L, g->sh || (g->shared && g->status == LG_NEW) ? "shared"
		      : "private");
  } else {
    lua_pushnil(L);
  }
  return 1;
}

/* g.parent = p, g.name = s; nothing else is writable. */
static int gl_newindex(lua_State *L)
{
  lg_vm *vm = vmof(L);
  lg_greenlet *g = checkgreenlet(L, vm, 1);
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
  if (strcmp(k, "parent") == 0) {
    const char *why;
    if (!isgreenlet(L, 3))
      luaL_argerror(L, 3, lua_pushfstring(L, "parent must be a greenlet, "
	"got %s", luaL_typename(L, 3)));
    checkgreenlet(L, vm, 3);
    if ((why = lg_greenlet_setparent(L, 1, 3)) != NULL)
      luaL_argerror(L, 3, why);
  } else if (strcmp(k, "name") == 0 && g != vm->main) {
    size_t len;
    const char *s = lua_tolstring(L, 3, &len);
    if (lua_type(L, 3) != LUA_TSTRING)
      luaL_argerror(L, 3, "name must be a string");
    lua_settop(L, 3);
    lg_setslot(L, 1, LG_SLOT_NAME);
    g->name = s;			/* anchored by the slot */
    g->stack.label = s;
    if (g->sh && g->sh->occupant == g) g->sh->stack.label = s;
  } else {
    return luaL_error(L, "cannot set field '%s' of a greenlet", k);
  }
  return 0;
}

static int gl_tostring(lua_State *L)
{
  lg_vm *vm = vmof(L);
  lg_greenlet *g = checkgreenlet(L, vm, 1);
  const char *st = g->status == LG_DEAD ? "dead" :
		   g == vm->current ? "running" :
		   g->status == LG_NEW ? "new" : "suspended";
  if (g->name)
    lua_pushfstring(L, "greenlet '%s': %p (%s)", g->name, (void *)g, st);
  else
    lua_pushfstring(L, "greenlet: %p (%s)", (void *)g, st);
  return 1;
}

static int gl_gc(lua_State *L)
{
  lg_greenlet_collect(L, vmof(L), (lg_greenlet *)lua_touserdata(L, 1));
  return 0;
}

/* greenlet.stats(): what the stack allocator holds, for tests and tuning. */
static int gl_stats(lua_State *L)
{
  lg_vm *vm = vmof(L);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)vm->pool.nmapped);
  lua_setfield(L, -2, "stacks_mapped");
  lua_pushinteger(L, vm->pool.nfree);
  lua_setfield(L, -2, "stacks_pooled");
  lua_pushinteger(L, (lua_Integer)vm->pool.defsize);
  lua_setfield(L, -2, "default_stack_size");
  lua_pushinteger(L, vm->nzombies);
  lua_setfield(L, -2, "zombies");
  lua_pushinteger(L, vm->nthreads);
  lua_setfield(L, -2, "threads_pooled");
  {
    int i, n = 0;
    for (i = 0; i < LG_NSHARED; i++) n += vm->sh[i].stack.lo != NULL;
    lua_pushinteger(L, n);
    lua_setfield(L, -2, "shared_stacks");
  }
  {				/* O(live greenlets): for tests and tuning */
    size_t bytes = 0, n = 0;
    lg_greenlet *g;
    for (g = vm->live.next; g != &vm->live; g = g->next)
      if (g->slice.len) {
	bytes += g->slice.cap;
	n++;
      }
    lua_pushinteger(L, (lua_Integer)n);
    lua_setfield(L, -2, "slices");
    lua_pushinteger(L, (lua_Integer)bytes);
    lua_setfield(L, -2, "slice_bytes");
  }
  lua_pushinteger(L, (lua_Integer)vm->nplaced);
  lua_setfield(L, -2, "slices_placed");
  lua_pushinteger(L, (lua_Integer)vm->nhops);
  lua_setfield(L, -2, "hops");
  lua_pushinteger(L, (lua_Integer)vm->nlive);
  lua_setfield(L, -2, "live");
  lua_pushstring(L, vm->defshared ? "shared" : "private");
  lua_setfield(L, -2, "default_stack");
  lua_pushinteger(L, LG_POOL_MAX);
  lua_setfield(L, -2, "pool_max");
  lua_pushstring(L, vm->luajit ? "luajit" : LG_VMNAME);
  lua_setfield(L, -2, "vm");
  lua_pushstring(L, LG_UCONTEXT ? "ucontext" : "asm");
  lua_setfield(L, -2, "switch");
  return 1;
}

static const luaL_Reg gl_methods[] = {
  { "switch", gl_switch },
  { "throw", gl_throw },
  { NULL, NULL }
};

static const luaL_Reg gl_meta[] = {
  { "__newindex", gl_newindex },
  { "__tostring", gl_tostring },
  { NULL, NULL }
};

static const luaL_Reg gl_funcs[] = {
  { "new", gl_new },
  { "getcurrent", gl_getcurrent },
  { "stats", gl_stats },
  { "_field", gl_field },
  { "_hook", gl_hook },
  { NULL, NULL }
};

/* Push the greenlet module table; vm at vmi. */
void lg_open_greenlet(lua_State *L, int vmi)
{
  lg_vm *vm = (lg_vm *)lua_touserdata(L, vmi);
  int mt;
  lua_newtable(L);					/* M */
  lua_createtable(L, 0, 5);				/* M mt */
  mt = lua_gettop(L);
  lua_pushliteral(L, "lgreen.greenlet");
  lua_setfield(L, mt, "__name");
  lua_pushliteral(L, "lgreen.greenlet");		/* no getmetatable(g) */
  lua_setfield(L, mt, "__metatable");
  lua_pushvalue(L, vmi);
  lua_pushvalue(L, mt);
  lg_setfuncs(L, gl_meta, 2);				/* M mt */
  lua_newtable(L);					/* M mt methods */
  lua_pushvalue(L, vmi);
  lua_pushvalue(L, mt);
  lg_setfuncs(L, gl_methods, 2);			/* M mt methods */
  lua_setfield(L, -3, "_methods");			/* M mt */
  /* Two metatables, alike but for __gc (see lg_start); greenlet.lua sets
  ** __index in both. */
  lua_pushvalue(L, mt);
  lg_setr(L, vm, LG_R_META);				/* M mt */
  lua_createtable(L, 0, 6);				/* M mt mtgc */
  lua_pushnil(L);
  while (lua_next(L, mt)) {				/* M mt mtgc k v */
    lua_pushvalue(L, -2);
    lua_insert(L, -2);					/* M mt mtgc k k v */
    lua_rawset(L, -4);					/* M mt mtgc k */
  }
  lua_pushvalue(L, vmi);
  lua_pushvalue(L, mt);
  lua_pushcclosure(L, gl_gc, 2);
  lua_setfield(L, -2, "__gc");
  lua_pushvalue(L, -1);
  lg_setr(L, vm, LG_R_METAGC);				/* M mt mtgc */
  lua_createtable(L, 2, 0);				/* M mt mtgc metas */
  lua_insert(L, -2);					/* M mt metas mtgc */
  lua_rawseti(L, -2, 2);
  lua_pushvalue(L, mt);
  lua_rawseti(L, -2, 1);				/* M mt metas */
  lua_setfield(L, -3, "_metas");			/* M mt */
  lg_getr(L, vm, LG_R_EXIT);				/* M mt exit */
  lua_setfield(L, -3, "GreenletExit");			/* M mt */
  lua_pushvalue(L, vmi);
  lua_insert(L, -2);					/* M vm mt */
  lg_setfuncs(L, gl_funcs, 2);				/* M */
  lg_vm_makemain(L, vm);
}
