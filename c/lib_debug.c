/*
** lib_debug.c — core.debug: the registry, accounting and watchdog for
** lua/lgreen/debug.lua, and lgreen_dump for hosts.  Every function has one
** upvalue: the lg_hub userdata.
*/
#include <pthread.h>
#include <string.h>

#include "lgreen.h"
#include "lib.h"
#include "debug_impl.h"

#define LG_DEBUG_KEY	"lgreen.debug"	/* registry: the lg_debug userdata */

static int dbg_gc(lua_State *L)
{
  lg_debug_close((lg_debug *)lua_touserdata(L, 1));
  return 0;
}

/* The VM's lg_debug, or NULL before enable(). */
static lg_debug *dbg_find(lua_State *L)
{
  lg_debug *d;
  lua_getfield(L, LUA_REGISTRYINDEX, LG_DEBUG_KEY);	/* d? */
  d = (lg_debug *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return d;
}

/* The hub in upvalue 1, without making its loop: loading lgreen.debug
** must not use the hub (a host may hand it a loop later). */
static lg_hub *dbg_hub(lua_State *L)
{
  return (lg_hub *)lua_touserdata(L, lua_upvalueindex(1));
}

/* Watch the loop's polls once the hub has a loop. */
static void dbg_attach(lg_debug *d, lg_hub *hub)
{
  if (d && hub->loop && !d->loop && !d->loopgone)
    lg_debug_watchloop(d, hub->loop);
}

static lg_debug *dbg_open(lua_State *L, lg_hub *hub)
{
  lg_debug *d = dbg_find(L);
  if (d) return d;
  d = (lg_debug *)lua_newuserdata(L, sizeof(lg_debug));	/* d */
  lg_debug_init(d, hub->vm, hub);
  lua_createtable(L, 0, 1);				/* d mt */
  lua_pushcfunction(L, dbg_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);				/* d */
  lua_setfield(L, LUA_REGISTRYINDEX, LG_DEBUG_KEY);	/* */
  lua_newtable(L);					/* seen */
  lua_createtable(L, 0, 1);				/* seen mt */
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);				/* seen */
  lua_setfield(L, LUA_REGISTRYINDEX, LG_DEBUG_SEEN);	/* */
  return d;
}

/* enable([libdir]): accounting on; libdir is the source prefix ("@.../")
** of lgreen's own Lua files, left out of "where" answers (kept if absent). */
static int dbg_enable(lua_State *L)
{
  lg_hub *hub = dbg_hub(L);
  size_t len;
  const char *dir = luaL_optlstring(L, 1, NULL, &len);
  lg_debug *d = dbg_open(L, hub);
  if (dir) {
    if (len >= sizeof(d->libdir)) len = 0;	/* too long: keep all frames */
    memcpy(d->libdir, dir, len);
    d->libdir[len] = 0;
    d->libdirlen = len;
  }
  dbg_attach(d, hub);
  if (hub->vm->dbg != d) lg_debug_on(d);
  return 0;
}

/* disable(): accounting and the watchdog off. */
static int dbg_disable(lua_State *L)
{
  lg_hub *hub = dbg_hub(L);
  lg_debug *d = dbg_find(L);
  if (d) lg_debug_setthreshold(d, 0, 0);
  hub->vm->dbg = NULL;
  return 0;
}

/* -- list() ---------------------------------------------------------------- */

static void setnum(lua_State *L, const char *k, double v)
{
  lua_pushnumber(L, (lua_Number)v);
  lua_setfield(L, -2, k);
}

static void setint(lua_State *L, const char *k, long long v)
{
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* Push the thread S (a suspended greenlet's state) onto L. */
static void pushthread(lua_State *L, lua_State *S)
{
  lua_checkstack(S, 2);
  lua_pushthread(S);					/* S: .. S */
  lua_xmove(S, L, 1);					/* L: .. S */
}

/* map[lightuserdata g] = the userdata of every greenlet created while
** accounting was on, of those the hub anchors,
** and of main, the hub and the running one. */
static void knownmap(lua_State *L, lg_hub *hub, int map)
{
  lua_getfield(L, LUA_REGISTRYINDEX, LG_DEBUG_SEEN);	/* seen? */
  if (lua_istable(L, -1)) {	/* created since accounting was on */
    lua_pushnil(L);
    while (lua_next(L, -2)) {				/* seen p g */
      lua_pushvalue(L, -2);				/* seen p g p */
      lua_insert(L, -2);				/* seen p p g */
      lua_rawset(L, map);				/* seen p */
    }
  }
  lua_pop(L, 1);					/* */
  lua_rawgeti(L, LUA_REGISTRYINDEX, hub->anchors);	/* A */
  lua_pushnil(L);
  while (lua_next(L, -2)) {				/* A k v */
    lg_greenlet *g = lg_greenlet_test(L, -1);
    if (g) {
      lua_pushlightuserdata(L, g);			/* A k v p */
      lua_insert(L, -2);				/* A k p v */
      lua_rawset(L, map);				/* A k */
    } else {
      lua_pop(L, 1);					/* A k */
    }
  }
  lua_pop(L, 1);					/* */
  lg_getr(L, hub->vm, LG_R_MAIN);			/* m */
  lg_getr(L, hub->vm, LG_R_CURRENT);			/* m c */
  lg_hub_pushgreenlet(L, hub);				/* m c h */
  while (lua_gettop(L) > map) {
    lua_pushlightuserdata(L, lua_touserdata(L, -1));	/* .. v p */
    lua_insert(L, -2);					/* .. p v */
    lua_rawset(L, map);
  }
}

static const char *statusof(lg_hub *hub, lg_greenlet *g)
{
  lg_hubnode *n = lg_node(g);
  int mine = n->g == g;
  if (g == hub->vm->current) return "running";
  if (g->status == LG_NEW) {
    if (mine && ev_is_active(&n->timer)) return "scheduled";
    return "new";
  }
  if (mine && n->state == LG_HN_READY) return "ready";
  if (mine && n->state == LG_HN_PARKED) return "parked";
  return "suspended";
}

/* Push the record of g; its userdata (or nil) is at ud. */
static void pushrecord(lua_State *L, lg_hub *hub, lg_greenlet *g, int ud,
		       double now)
{
  lg_hubnode *n = lg_node(g);
  lg_vm *vm = hub->vm;
  lua_createtable(L, 0, 16);				/* r */
  lua_pushvalue(L, ud);
  lua_setfield(L, -2, "greenlet");
  setint(L, "id", (long long)g->dbg.id);
  if (g->dbg.pid) setint(L, "parent", (long long)g->dbg.pid);
  if (g->name) {
    lua_pushstring(L, g->name);
    lua_setfield(L, -2, "name");
  }
  lua_pushstring(L, statusof(hub, g));
  lua_setfield(L, -2, "state");
  if (g == hub->hubg) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "hub");
  }
  if (g == vm->main) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "main");
  }
  if (vm->dbg) {
    long long cpu = g->dbg.cpu;
    if (g == vm->current) cpu += lg_debug_now() - g->dbg.since;
    setnum(L, "since", (double)g->dbg.since / 1e9);
    setint(L, "switches", (long long)g->dbg.switches);
    setnum(L, "cpu", (double)cpu / 1e9);
  }
  if (g->dbg.events) {
    setint(L, "fd", g->dbg.fd);
    lua_pushstring(L, g->dbg.events == (EV_READ | EV_WRITE) ? "read+write" :
		      g->dbg.events & EV_READ ? "read" : "write");
    lua_setfield(L, -2, "io");
  }
  if (n->g == g && ev_is_active(&n->timer) && hub->loop)
    setnum(L, "timeout", ev_timer_remaining(hub->loop, &n->timer));
  (void)now;
  if (g->status == LG_NEW) {	/* its first arguments: who spawned it */
    int i, top = lua_gettop(g->L);
    for (i = 2; i <= 3; i++) {
      if (i > top) break;
      lua_pushvalue(g->L, i);
      lua_xmove(g->L, L, 1);				/* r a */
      lua_setfield(L, -2, i == 2 ? "arg1" : "arg2");
    }
  } else if (g != vm->current && g->Lsw) {
    pushthread(L, g->Lsw);				/* r co */
    lua_setfield(L, -2, "co");
    if (g->L && g->L != g->Lsw) {
      pushthread(L, g->L);
      lua_setfield(L, -2, "base");
    }
  }
}

/* list() -> { record... }: every greenlet started and not dead, and the
** new ones the hub holds (spawned, not started). */
static int dbg_list(lua_State *L)
{
  lg_hub *hub = dbg_hub(L);
  lg_vm *vm = hub->vm;
  lg_greenlet *g;
  int map, out, k = 0;
  double now = (double)lg_debug_now() / 1e9;
  lua_settop(L, 0);
  lua_newtable(L);					/* map */
  map = 1;
  knownmap(L, hub, map);
  lua_newtable(L);					/* map out */
  out = 2;
  for (g = vm->dbghead; g; g = g->dbg.next) {
    lua_pushlightuserdata(L, g);
    lua_rawget(L, map);					/* map out ud? */
    pushrecord(L, hub, g, 3, now);			/* map out ud? r */
    lua_rawseti(L, out, ++k);
    lua_pop(L, 1);
  }
  lua_pushnil(L);					/* new ones, from the map */
  while (lua_next(L, map)) {				/* map out p ud */
    g = (lg_greenlet *)lua_touserdata(L, -1);
    if (g->status == LG_NEW && lg_node(g)->g == g) {
      pushrecord(L, hub, g, 4, now);			/* map out p ud r */
      lua_rawseti(L, out, ++k);
    }
    lua_pop(L, 1);					/* map out p */
  }
  return 1;
}

/* stats() -> { on, loopwait, deadcpu, clock (seconds); blocking, wakeups
** (watchdog: first reports made, times it woke) } */
static int dbg_stats(lua_State *L)
{
  lg_hub *hub = dbg_hub(L);
  lg_debug *d = dbg_find(L);
  long long loopwait = 0;
  dbg_attach(d, hub);
  lua_createtable(L, 0, 4);
  lua_pushboolean(L, hub->vm->dbg != NULL);
  lua_setfield(L, -2, "on");
  if (d) {
    loopwait = d->loopwait;
    if (d->prepared) loopwait += lg_debug_now() - d->prepared;
    setnum(L, "deadcpu", (double)d->deadcpu / 1e9);
    pthread_mutex_lock(&d->mu);
    setint(L, "blocking", (long long)d->nblocking);
    setint(L, "wakeups", (long long)d->nwakeups);
    pthread_mutex_unlock(&d->mu);
  }
  setnum(L, "loopwait", (double)loopwait / 1e9);
  setnum(L, "clock", (double)lg_debug_now() / 1e9);
  if (hub->hubg) setint(L, "hub", (long long)hub->hubg->dbg.id);
  return 1;
}

/* watch(ms, fnmode): blocking detection past ms (0: off). */
static int dbg_watch(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_debug *d = dbg_find(L);
  lua_Number ms = luaL_checknumber(L, 1);
  int err;
  if (ms <= 0) {			/* off: always possible */
    if (d) lg_debug_setthreshold(d, 0, 0);
    return 0;
  }
  if (d == NULL || hub->vm->dbg != d) luaL_error(L, "accounting is off");
  dbg_attach(d, hub);
  {
    lg_hub_pushgreenlet(L, hub);	/* the hub exists before it is watched */
    lua_pop(L, 1);
    if ((err = lg_debug_startthread(d)) != 0)
      luaL_error(L, "cannot start the watchdog thread: %s", strerror(err));
  }
  if (d->threshold <= 0)		/* the run being watched starts now */
    lg_debug_snapshot(d, hub->vm->current, lg_debug_now());
  lg_debug_setthreshold(d, (long long)(ms * 1e6), lua_toboolean(L, 2));
  return 0;
}

/* next_report() -> { phase, id, name, ms, at, traceback }: waits for one. */
static int dbg_next_report(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_debug *d = dbg_find(L);
  lg_dbgreport r;
  if (d == NULL) luaL_error(L, "accounting is off");
  lua_settop(L, 0);
  while (!lg_debug_popreport(d, &r)) {
    int n = lg_hub_wait(L, hub, -1, &d->reporter);
    if (n < 0) return lg_greenlet_raise(L);
    lua_settop(L, 0);
    lg_greenlet_resync(L);	/* allocations follow (rule 2) */
  }
  lua_createtable(L, 0, 6);
  lua_pushstring(L, r.phase == 1 ? "blocking" : "blocked");
  lua_setfield(L, -2, "phase");
  setint(L, "id", (long long)r.id);
  if (r.name[0]) {
    lua_pushstring(L, r.name);
    lua_setfield(L, -2, "name");
  }
  setnum(L, "ms", r.ms);
  lua_pushstring(L, r.at);
  lua_setfield(L, -2, "resumed_at");
  if (r.phase == 2) {
    lua_pushstring(L, r.tb);
    lua_setfield(L, -2, "traceback");
  }
  return 1;
}

/* thread_of(g) -> the greenlet's own thread (to find it in list()). */
static int dbg_thread_of(lua_State *L)
{
  lg_greenlet_check(L, dbg_hub(L)->vm, 1);
  lg_getslot(L, 1, LG_SLOT_THREAD);			/* g T */
  return 1;
}

static int dbg_clock(lua_State *L)
{
  lua_pushnumber(L, (lua_Number)lg_debug_now() / 1e9);
  return 1;
}

static const luaL_Reg dbg_funcs[] = {
  { "enable", dbg_enable }, { "disable", dbg_disable }, { "list", dbg_list },
  { "stats", dbg_stats }, { "watch", dbg_watch },
  { "next_report", dbg_next_report }, { "clock", dbg_clock },
  { "thread_of", dbg_thread_of },
  { NULL, NULL }
};

/* Push the debug module table. */
void lg_open_debug(lua_State *L)
{
  lg_lib_newtable(L, dbg_funcs);
}

/* -- Embedding API (lgreen.h) ---------------------------------------------- */

static int dump_c(lua_State *L)
{
  lua_getglobal(L, "require");				/* require */
  lua_pushliteral(L, "lgreen.debug");
  lua_call(L, 1, 1);					/* dbg */
  lua_getfield(L, -1, "format");			/* dbg format */
  lua_call(L, 0, 1);					/* dbg s */
  return 1;
}

LGREEN_API int lgreen_dump(lua_State *L)
{
  lua_pushcfunction(L, dump_c);
  return lua_pcall(L, 0, 1, 0) == 0 ? 0 : -1;
}
