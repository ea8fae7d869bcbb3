/*
** ngx_lgreen.c — lgreen's hub driven by an nginx worker's event loop.
**
** A Lua C module (require "lgreen.nginx") for ngx_lua's VM, built against
** nginx-dev's configured tree (make nginx-module).  It calls nginx's own
** functions, which the nginx binary exports for its dynamic modules:
**   - the hub's backend (epoll) fd becomes a read event in nginx's epoll
**     (a connection of its own, level-triggered: readable means the hub has
**     something to run);
**   - the hub's next deadline becomes an nginx timer (cancelable: it never
**     holds a worker past a graceful shutdown);
**   - kick() posts an event, so work queued from a handler (a spawn, a
**     wake) runs once the handler gives control back to nginx.
** Each of them calls the hub's step() on the VM's main state, from nginx's
** own C stack (the main greenlet's): never from inside a request's coroutine
** and never through the FFI, so greenlets switch as DESIGN rule 1 requires.
** Nothing here is global: the state lives in a userdata anchored in the
** registry; its __gc removes every event first (lua_close, -s stop).
*/
#include <math.h>

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <lua.h>
#include <lauxlib.h>

#include "hub.h"	/* lgreen's c/: the hub's deadline heap (lgn_timeout) */

#define LGN_KEY "lgreen.nginx"	/* registry: the attached lgn userdata */

typedef struct lgn {
  lua_State *L;			/* the VM's main state: step() runs there */
  ngx_connection_t *c;		/* c->read watches the backend fd */
  ngx_event_t timer;		/* the hub's next deadline */
  ngx_event_t kick;		/* posted: run what a handler queued */
  int stepref;			/* registry ref: hub.step */
  ngx_uint_t steps;		/* step() calls, for stats() */
  unsigned attached:1;
} lgn;

static void lgn_detach(lgn *s)
{
  if (!s->attached) return;
  s->attached = 0;
  if (s->timer.timer_set) ngx_del_timer(&s->timer);
  if (s->kick.posted) {		/* a macro of two statements */
    ngx_delete_posted_event(&s->kick);
  }
  if (s->c != NULL) {
    if (s->c->read->active) ngx_del_event(s->c->read, NGX_READ_EVENT, 0);
    if (s->c->read->posted) {
      ngx_delete_posted_event(s->c->read);
    }
    s->c->fd = (ngx_socket_t)-1;	/* libev's fd: not ours to close */
    ngx_free_connection(s->c);
    s->c = NULL;
  }
}

/* The hub's deadline heap: drop the top (hub.c's hub_untrack_top). */
static void lgn_untrack_top(lg_hub *hub)
{
  double last = hub->deadlines[--hub->ndeadlines];
  size_t i = 0, n = hub->ndeadlines;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && hub->deadlines[c + 1] < hub->deadlines[c]) c++;
    if (hub->deadlines[c] >= last) break;
    hub->deadlines[i] = hub->deadlines[c];
    i = c;
  }
  if (n > 0) hub->deadlines[i] = last;
}

/* Seconds until the hub needs a step (0: now), -1 for none; called right
** after a step.  Not hub.next_timeout: it drops every deadline up to a
** freshly read clock, so a timer that came due between the step's last
** poll and that call was dropped without having fired, and nginx slept
** past it (a request waited for its green threads until some other event
** came).  A step ends with a poll and runs nothing after it, so ev_now()
** is still that poll's time: the deadlines up to it are the ones libev
** fired; the rest count from the real clock. */
static double lgn_timeout(lua_State *L)
{
  lg_hub *hub;
  double t;
  lua_getfield(L, LUA_REGISTRYINDEX, LG_HUB_KEY);	/* hub */
  hub = (lg_hub *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (hub == NULL || hub->loop == NULL) return -1;
  if (hub->head) return 0;
  while (hub->ndeadlines > 0 && hub->deadlines[0] <= ev_now(hub->loop))
    lgn_untrack_top(hub);
  if (hub->ndeadlines == 0) return hub->nparked > 0 ? 0.05 : -1;
  t = hub->deadlines[0] - ev_time();
  return t > 0 ? t : 0;
}

/* Run what is ready, then arm the timer for the hub's next deadline.
** ngx_add_timer keeps an armed timer that is less than 300 ms off (its
** lazy delay): delete it first, or a nearer deadline would be late. */
static void lgn_step(lgn *s)
{
  lua_State *L = s->L;
  int top = lua_gettop(L);
  double t = -1;
  s->steps++;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->stepref);		/* step */
  if (lua_pcall(L, 0, 0, 0) != 0)				/* [err] */
    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0, "lgreen: step: %s",
		  lua_tostring(L, -1) ? lua_tostring(L, -1) : "(no message)");
  lua_settop(L, top);
  if (!s->attached) return;	/* a green thread detached us */
  t = lgn_timeout(L);
  if (s->timer.timer_set) ngx_del_timer(&s->timer);
  if (t >= 0) ngx_add_timer(&s->timer, (ngx_msec_t)ceil(t * 1000));
}

static void lgn_on_read(ngx_event_t *ev)
{
  ngx_connection_t *c = ev->data;
  lgn *s = c->data;
  if (c->close) {		/* worker shutting down: let it go */
    lgn_detach(s);
    return;
  }
  lgn_step(s);
}

static void lgn_on_timer(ngx_event_t *ev)
{
  lgn_step((lgn *)ev->data);
}

static lgn *lgn_get(lua_State *L)
{
  lgn *s;
  lua_getfield(L, LUA_REGISTRYINDEX, LGN_KEY);		/* s|nil */
  s = (lgn *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return s;
}

/* attach(fd, step): from the main state, in a worker; fd is the hub's
** backend fd (asking for it also makes the hub track its deadlines). */
static int lgn_attach(lua_State *L)
{
  int fd = (int)luaL_checkinteger(L, 1);
  lgn *s;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (lua_pushthread(L) != 1)
    return luaL_error(L, "lgreen.nginx.attach: call it from init_worker_by_lua* (the VM's main state), not from a request");
  lua_pop(L, 1);
  if (ngx_cycle == NULL || ngx_event_actions.add == NULL)
    return luaL_error(L, "lgreen.nginx.attach: nginx's event loop is not running (call it from init_worker_by_lua*)");
  if ((s = lgn_get(L)) != NULL && s->attached) return 0;
  s = (lgn *)lua_newuserdata(L, sizeof(lgn));		/* s */
  ngx_memzero(s, sizeof(lgn));
  s->stepref = LUA_NOREF;
  luaL_getmetatable(L, LGN_KEY);			/* s mt */
  lua_setmetatable(L, -2);				/* s */
  s->c = ngx_get_connection((ngx_socket_t)fd, ngx_cycle->log);
  if (s->c == NULL)
    return luaL_error(L, "lgreen.nginx.attach: no free nginx connection (worker_connections)");
  s->c->data = s;
  s->c->idle = 1;		/* closed (c->close) by a graceful shutdown */
  s->c->read->handler = lgn_on_read;
  s->c->read->log = ngx_cycle->log;
  s->c->write->log = ngx_cycle->log;
  if (ngx_add_event(s->c->read, NGX_READ_EVENT, 0) != NGX_OK) {
    s->c->fd = (ngx_socket_t)-1;
    ngx_free_connection(s->c);
    s->c = NULL;
    return luaL_error(L, "lgreen.nginx.attach: cannot add fd %d to nginx's epoll", fd);
  }
  s->timer.handler = s->kick.handler = lgn_on_timer;
  s->timer.data = s->kick.data = s;
  s->timer.log = s->kick.log = ngx_cycle->log;
  s->timer.cancelable = 1;
  s->L = L;
  lua_pushvalue(L, 2);
  s->stepref = luaL_ref(L, LUA_REGISTRYINDEX);
  s->attached = 1;
  lua_setfield(L, LUA_REGISTRYINDEX, LGN_KEY);		/* */
  lgn_step(s);			/* arm the timer for what is pending */
  return 0;
}

/* kick(): run the hub once this handler returns to nginx.  true if
** attached in this VM, false otherwise. */
static int lgn_kick(lua_State *L)
{
  lgn *s = lgn_get(L);
  if (s == NULL || !s->attached) {
    lua_pushboolean(L, 0);
    return 1;
  }
  ngx_post_event(&s->kick, &ngx_posted_events);	/* once: it checks */
  lua_pushboolean(L, 1);
  return 1;
}

static int lgn_detach_l(lua_State *L)
{
  lgn *s = lgn_get(L);
  if (s != NULL) lgn_detach(s);
  return 0;
}

/* stats() -> { attached, steps, fd, timer_ms } */
static int lgn_stats(lua_State *L)
{
  lgn *s = lgn_get(L);
  lua_createtable(L, 0, 4);
  lua_pushboolean(L, s != NULL && s->attached);
  lua_setfield(L, -2, "attached");
  if (s == NULL) return 1;
  lua_pushnumber(L, (lua_Number)s->steps);
  lua_setfield(L, -2, "steps");
  if (s->c != NULL) {
    lua_pushinteger(L, (lua_Integer)s->c->fd);
    lua_setfield(L, -2, "fd");
  }
  if (s->timer.timer_set) {
    lua_pushnumber(L, (lua_Number)((ngx_msec_int_t)(s->timer.timer.key - ngx_current_msec)));
    lua_setfield(L, -2, "timer_ms");
  }
  return 1;
}

/* lua_close: ngx_lua closes the VM as the worker exits, after nginx's own
** exit handlers, when its event structures may be gone already: then the
** events die with the process and touching them would crash. */
static int lgn_gc(lua_State *L)
{
  lgn *s = (lgn *)lua_touserdata(L, 1);
  if (ngx_terminate || ngx_quit || ngx_exiting) s->attached = 0;
  lgn_detach(s);
  return 0;
}

static const luaL_Reg lgn_funcs[] = {
  { "attach", lgn_attach }, { "kick", lgn_kick }, { "detach", lgn_detach_l },
  { "stats", lgn_stats }, { NULL, NULL }
};

__attribute__((visibility("default")))
int luaopen_lgreen_nginx(lua_State *L)
{
  luaL_newmetatable(L, LGN_KEY);			/* mt */
  lua_pushcfunction(L, lgn_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_newtable(L);					/* M */
  luaL_register(L, NULL, lgn_funcs);
  return 1;
}
