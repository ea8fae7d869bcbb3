/*
** lib_hub.c — core.hub: the hub's primitives for the lua/lgreen modules.
** Argument checks only; policy (waiter lists, green threads) is in Lua.
** Every function has one upvalue: the lg_hub userdata.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

#define LG_TIMEOUT_META "lgreen.Timeout"


/* park([timeout]) -> true, ... | false */
static int hub_park(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  double t = lg_lib_optseconds(L, 1);
  int n;
  lua_settop(L, 0);
  n = lg_hub_park(L, hub, t);
  return lg_lib_ret(L, n);
}

/* wake(g, ...) -> boolean: false if g was not parked */
static int hub_wake(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_greenlet_check(L, hub->vm, 1);
  lua_pushboolean(L, lg_hub_wake(L, hub, 1, lua_gettop(L) - 1, LG_HW_VALUES));
  return 1;
}

/* throw(g, err) -> "thrown" | "cancelled" | nil */
static int hub_throw(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  const char *what;
  lg_greenlet_check(L, hub->vm, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  what = lg_hub_throw(L, hub, 1);
  if (what == NULL) return 0;
  lua_pushstring(L, what);
  return 1;
}

/* schedule(g, ...): start new greenlet g with ... when the hub gets to it */
static int hub_schedule(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_greenlet *g = lg_greenlet_check(L, hub->vm, 1);
  if (g->status != LG_NEW || lg_node(g)->g == g)
    luaL_argerror(L, 1, "greenlet already started or scheduled");
  lg_hub_schedule(L, hub, 1, lua_gettop(L) - 1, -1);
  return 0;
}

/* schedule_after(seconds, g, ...) */
static int hub_schedule_after(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  double s = lg_lib_optseconds(L, 1);
  lg_greenlet *g = lg_greenlet_check(L, hub->vm, 2);
  if (s < 0) luaL_argerror(L, 1, "number expected");
  if (g->status != LG_NEW || lg_node(g)->g == g)
    luaL_argerror(L, 2, "greenlet already started or scheduled");
  lg_hub_schedule(L, hub, 2, lua_gettop(L) - 2, s);
  return 0;
}

/* Is fd closed?  libev asserts (aborts) on a closed fd in epoll_ctl, and
** the kernel drops a closed fd from the epoll set without a word. */
static int hub_fdclosed(int fd)
{
  return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

/* Is fd an epoll instance?  The hub's own is one (a stale fd number may
** name it now), and libev aborts when epoll_ctl refuses to add it to
** itself; we cannot tell ours from another cheaply, so refuse them all. */
static int hub_fdisepoll(int fd)
{
  char path[40], link[32];
  ssize_t n;
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  n = readlink(path, link, sizeof(link) - 1);
  if (n < 0) return 0;
  link[n] = '\0';
  return strcmp(link, "anon_inode:[eventpoll]") == 0;
}

/* The fd at index 1, checked: libev must never see a bad one. */
static int hub_checkfd(lua_State *L)
{
  lua_Number fd = luaL_checknumber(L, 1);
  if (fd < 0 || fd != (lua_Number)(int)fd)
    luaL_argerror(L, 1, "file descriptor expected");
  if (hub_fdclosed((int)fd)) luaL_argerror(L, 1, "bad file descriptor");
  if (hub_fdisepoll((int)fd))
    luaL_argerror(L, 1, "an epoll fd (the hub's own?) cannot be waited on");
  return (int)fd;
}

/* Park until fd is ready for events.  tokens: return true | nil,
** "timeout" (wait_read, wait_write) rather than true | false (wait_fd);
** either way nil, "closed" when fd was closed while we waited. */
static int hub_fdwait(lua_State *L, lg_hub *hub, int fd, int events, double t,
		      int tokens)
{
  int n, ready;
  lua_settop(L, 0);
  n = lg_hub_wait_io(L, hub, fd, events, t);
  if (n < 0) return lg_greenlet_raise(L);
  ready = lua_toboolean(L, -n);
  lg_greenlet_resync(L);		/* rule 2: pushing may raise */
  lua_settop(L, 0);
  if (hub_fdclosed(fd)) {
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  if (ready || !tokens) {
    lua_pushboolean(L, ready);
    return 1;
  }
  lua_pushnil(L);
  lua_pushliteral(L, "timeout");
  return 2;
}

/* wait_fd(fd, "r" | "w" | "rw" [, timeout]) -> true | false (timed out)
** | nil, "closed" (fd closed while we waited) */
static int hub_wait_fd(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  int fd = hub_checkfd(L);
  const char *what = luaL_checkstring(L, 2);
  double t = lg_lib_optseconds(L, 3);
  int events = 0;
  for (; *what; what++) {
    if (*what == 'r') events |= EV_READ;
    else if (*what == 'w') events |= EV_WRITE;
    else luaL_argerror(L, 2, "\"r\", \"w\" or \"rw\" expected");
  }
  if (events == 0) luaL_argerror(L, 2, "\"r\", \"w\" or \"rw\" expected");
  return hub_fdwait(L, hub, fd, events, t, 0);
}

/* wait_read(fd [, timeout]), wait_write(fd [, timeout]) -> true | nil,
** "timeout" | nil, "closed": lg.wait_read and lg.wait_write themselves, so
** an argument error names them and blames their caller. */
static int hub_wait_read(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  int fd = hub_checkfd(L);
  return hub_fdwait(L, hub, fd, EV_READ, lg_lib_optseconds(L, 2), 1);
}

static int hub_wait_write(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  int fd = hub_checkfd(L);
  return hub_fdwait(L, hub, fd, EV_WRITE, lg_lib_optseconds(L, 2), 1);
}

/* sleep([seconds]): 0 or none yields to every greenlet ready now */
static int hub_sleep(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  double s = lg_lib_optseconds(L, 1);
  lua_settop(L, 0);
  return lg_hub_sleep(L, hub, s) < 0 ? lg_greenlet_raise(L) : 0;
}

static int hub_run(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lua_settop(L, 0);
  return lg_hub_run(L, hub) < 0 ? lg_greenlet_raise(L) : 0;
}

/* step() -> boolean: anything left to wait for */
static int hub_step(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  int n;
  lua_settop(L, 0);
  n = lg_hub_step(L, hub);
  return lg_lib_ret(L, n);
}

static int hub_now(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  ev_now_update(hub->loop);
  lua_pushnumber(L, (lua_Number)ev_now(hub->loop));
  return 1;
}

/* greenlet() -> the hub greenlet (created on first use) */
static int hub_greenlet(lua_State *L)
{
  lg_hub_pushgreenlet(L, (lg_hub *)lua_touserdata(L, lua_upvalueindex(1)));
  return 1;
}

/* site(level) -> function, line: who called at that level (for reports) */
static int hub_site(lua_State *L)
{
  lua_Debug ar;
  if (!lua_getstack(L, (int)luaL_checkinteger(L, 1), &ar)) return 0;
  lua_getinfo(L, "fl", &ar);				/* f */
  lua_pushinteger(L, ar.currentline);
  return 2;
}

/* backend_fd() -> the fd a foreign poller watches, or nil */
static int hub_backend_fd(lua_State *L)
{
  int fd = lg_host_backend_fd(lg_lib_hub(L));
  if (fd < 0) return 0;
  lua_pushinteger(L, fd);
  return 1;
}

/* next_timeout() -> seconds until step() is due at the latest, or nil */
static int hub_next_timeout(lua_State *L)
{
  double t = lg_host_next_timeout(lg_lib_hub(L));
  if (t < 0) return 0;
  lua_pushnumber(L, (lua_Number)t);
  return 1;
}

static int hub_stats(lua_State *L)
{
  lg_hub *hub = (lg_hub *)lua_touserdata(L, lua_upvalueindex(1));
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, hub->nready);
  lua_setfield(L, -2, "ready");
  lua_pushinteger(L, hub->nparked);
  lua_setfield(L, -2, "timers");
  return 1;
}

/* -- Timeout ------------------------------------------------------------ */

/* timeout(seconds [, err]) -> Timeout, armed for the running greenlet */
static int hub_timeout(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  double s = lg_lib_optseconds(L, 1);
  lg_timeout *t;
  if (s < 0) luaL_argerror(L, 1, "number expected");
  lua_settop(L, 2);
  t = (lg_timeout *)lua_newuserdata(L, sizeof(lg_timeout));	/* s err t */
  t->hub = NULL;
  t->state = LG_TO_NEW;
  t->errref = LUA_NOREF;
  luaL_getmetatable(L, LG_TIMEOUT_META);
  lua_setmetatable(L, 3);
  if (hub->vm->current == hub->hubg) luaL_error(L, "no Timeout in the hub");
  lg_timeout_start(L, hub, t, 3, s, lua_isnil(L, 2) ? 0 : 2);
  return 1;
}

static lg_timeout *checktimeout(lua_State *L)
{
  return (lg_timeout *)luaL_checkudata(L, 1, LG_TIMEOUT_META);
}

static int to_cancel(lua_State *L)
{
  lua_pushboolean(L, lg_timeout_cancel(L, checktimeout(L)));
  return 1;
}

static int to_index(lua_State *L)
{
  lg_timeout *t = checktimeout(L);
  const char *k = luaL_checkstring(L, 2);
  if (k[0] == 'p' && !strcmp(k, "pending")) {
    lua_pushboolean(L, t->state == LG_TO_ARMED ||
		       (t->state == LG_TO_FIRED && t->target->fired == t));
  } else if (!strcmp(k, "cancel")) {
    lua_pushcfunction(L, to_cancel);
  } else {
    lua_pushnil(L);
  }
  return 1;
}

static int to_tostring(lua_State *L)
{
  lg_timeout *t = checktimeout(L);
  lua_pushfstring(L, "Timeout (%s)", t->state == LG_TO_ARMED ? "pending" :
		  t->state == LG_TO_FIRED ? "fired" : "done");
  return 1;
}

static int to_gc(lua_State *L)
{
  lg_timeout_free(L, checktimeout(L));
  return 0;
}

static const luaL_Reg hub_funcs[] = {
  { "park", hub_park }, { "wake", hub_wake }, { "throw", hub_throw },
  { "schedule", hub_schedule }, { "schedule_after", hub_schedule_after },
  { "sleep", hub_sleep }, { "run", hub_run }, { "step", hub_step },
  { "wait_fd", hub_wait_fd }, { "wait_read", hub_wait_read },
  { "wait_write", hub_wait_write },
  { "now", hub_now }, { "greenlet", hub_greenlet }, { "site", hub_site },
  { "stats", hub_stats }, { "timeout", hub_timeout },
  { "backend_fd", hub_backend_fd }, { "next_timeout", hub_next_timeout },
  { NULL, NULL }
};

/* Push the hub module table. */
void lg_open_hub(lua_State *L, lg_vm *vm)
{
  lg_hub_open(L, vm);
  luaL_newmetatable(L, LG_TIMEOUT_META);		/* mt */
  lua_pushcfunction(L, to_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, to_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, to_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_newtable(L);					/* H */
  lua_getfield(L, LUA_REGISTRYINDEX, LG_HUB_KEY);	/* H hub */
  lg_setfuncs(L, hub_funcs, 1);				/* H */
}
