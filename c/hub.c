/*
** hub.c — the hub: a libev loop per Lua VM, run in its own greenlet, and
** the park/wake protocol on top of the greenlet layer.
**
** Who may do what:
** - A libev callback only moves a node into the ready queue.  Its greenlet
**   is anchored already (a timer or a Timeout holds an anchor), so no Lua
**   API call is needed there.
** - wake/throw, called from Lua, place the values the parked side's park
**   will return onto the state it waits in, anchor it, and queue it.
** - The hub greenlet (hub_loop, a lua_CFunction) pops the queue and
**   resumes each greenlet; for a timeout it pushes the result first.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <link.h>		/* before compat.h's visibility pragma */
#undef EV_NONE			/* elf.h's, not libev's */
#undef EV_CURRENT
#undef EV_NUM

#include "hub.h"

_Static_assert(sizeof(lg_hubnode) <= LG_HUBAREA, "lg_hubnode fits lg_greenlet.hub");


/* -- Anchors ------------------------------------------------------------- */

/* Anchors are slots of one table, numbered from 1 and reused through a
** free list kept in C: cheaper than luaL_ref/unref, whose free list lives
** in the table (two more table reads and writes each), and the slots stay
** in the table's array part.  A park costs one slot write to take its
** anchor and one to drop it. */

/* A slot for a new anchor, or an "out of memory" error before any change. */
static int hub_slot(lua_State *L, lg_hub *hub)
{
  if (hub->nfree > 0) return hub->freeslots[--hub->nfree];
  if (hub->nslots == hub->freecap) {	/* room to free every slot made */
    int cap = hub->freecap ? hub->freecap * 2 : 64;
    int *f = (int *)realloc(hub->freeslots, (size_t)cap * sizeof(int));
    if (f == NULL) luaL_error(L, "not enough memory");
    hub->freeslots = f;
    hub->freecap = cap;
  }
  return ++hub->nslots;
}

/* Anchor the value at idx; returns its ref. */
static int hub_ref(lua_State *L, lg_hub *hub, int idx)
{
  int r = hub_slot(L, hub);
  idx = lg_absindex(L, idx);
  lua_rawgeti(L, LUA_REGISTRYINDEX, hub->anchors);	/* A */
  lua_pushvalue(L, idx);				/* A v */
  lua_rawseti(L, -2, r);				/* A */
  lua_pop(L, 1);
  return r;
}

/* Free slot r of the anchor table A (on top of L). */
static void hub_freeslot(lua_State *L, lg_hub *hub, int r)
{
  lua_pushnil(L);					/* A nil */
  lua_rawseti(L, -2, r);				/* A */
  /* after hub_gc (lua_close runs the rest), the slot is just cleared */
  if (hub->freeslots) hub->freeslots[hub->nfree++] = r;
}

static void hub_unref(lua_State *L, lg_hub *hub, int *ref)
{
  if (*ref == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, hub->anchors);	/* A */
  hub_freeslot(L, hub, *ref);
  lua_pop(L, 1);
  *ref = LUA_NOREF;
}

/* Push the value anchored at ref. */
static void hub_getref(lua_State *L, lg_hub *hub, int ref)
{
  lua_rawgeti(L, LUA_REGISTRYINDEX, hub->anchors);	/* A */
  lua_rawgeti(L, -1, ref);				/* A v */
  lua_remove(L, -2);					/* v */
}

/* Push the value anchored at *ref and drop the anchor. */
static void hub_takeref(lua_State *L, lg_hub *hub, int *ref)
{
  lua_rawgeti(L, LUA_REGISTRYINDEX, hub->anchors);	/* A */
  lua_rawgeti(L, -1, *ref);				/* A v */
  lua_insert(L, -2);					/* v A */
  hub_freeslot(L, hub, *ref);
  lua_pop(L, 1);					/* v */
  *ref = LUA_NOREF;
}

/* The hub node of g, set up on first use (the greenlet layer zeroes it). */
static lg_hubnode *hub_node(lg_greenlet *g)
{
  lg_hubnode *n = lg_node(g);
  if (n->g != g) {
    memset(n, 0, sizeof(*n));
    n->g = g;
    n->ref = LUA_NOREF;
  }
  return n;
}

/* -- Ready queue --------------------------------------------------------- */

static void hub_enqueue(lg_hub *hub, lg_hubnode *n)
{
  n->state = LG_HN_READY;
  n->queued = 1;
  n->next = NULL;
  if (hub->tail) hub->tail->next = n;
  else hub->head = n;
  hub->tail = n;
  hub->nready++;
  if (LG_UNLIKELY(hub->hostkick)) lg_host_kick(hub);
}

static lg_hubnode *hub_pop(lg_hub *hub)
{
  lg_hubnode *n = hub->head;
  if (n) {
    hub->head = n->next;
    if (!hub->head) hub->tail = NULL;
    hub->nready--;
    n->queued = 0;
    n->next = NULL;
  }
  return n;
}

/* -- libev callbacks: no Lua ------------------------------------------------ */

/* A park timed out, or a spawn_after delay ran out. */
static void hub_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  lg_hubnode *n = (lg_hubnode *)(void *)w;
  (void)loop; (void)revents;
  if (n->state != LG_HN_PARKED) return;
  if (n->g->status != LG_NEW) n->wake = LG_HW_TIMEOUT;
  ((lg_hub *)w->data)->nparked--;
  hub_enqueue((lg_hub *)w->data, n);	/* keeps the anchor of the park */
}

/* A Timeout ran out: its greenlet raises at once if parked, else at its
** next park (a greenlet already woken keeps what it was handed). */
static void hub_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  lg_timeout *t = (lg_timeout *)(void *)w;
  lg_hubnode *n = t->target;
  (void)loop; (void)revents;
  t->state = LG_TO_FIRED;
  n->fired = t;			/* consumed by the resume, or the next park */
  if (n->state == LG_HN_PARKED && n->g->status == LG_ACTIVE) {
    if (ev_is_active(&n->timer)) {
      ev_timer_stop(t->hub->loop, &n->timer);
      t->hub->nparked--;
    } else {			/* parked without a timer: take t's anchor */
      n->ref = t->targetref;
      t->targetref = LUA_NOREF;
    }
    n->wake = LG_HW_TIMER;
    hub_enqueue(t->hub, n);
  }
}

/* -- The hub greenlet ---------------------------------------------------- */

static int hub_loop(lua_State *L);

/* Push the hub greenlet, creating it (parent: main) on first use. */
lg_greenlet *lg_hub_pushgreenlet(lua_State *L, lg_hub *hub)
{
  if (hub->hubg == NULL) {
    int nidx;
    lua_pushlightuserdata(L, hub);
    lua_pushcclosure(L, hub_loop, 1);			/* loop */
    lua_pushliteral(L, "hub");				/* loop name */
    nidx = lua_gettop(L);
    lg_getr(L, hub->vm, LG_R_MAIN);			/* loop name main */
    hub->hubg = lg_greenlet_new(L, hub->vm, nidx - 1, nidx + 1, 0, nidx);
    hub->hubg->shared = 0;	/* private: it copies slices in plain C */
    hub->hubref = luaL_ref(L, LUA_REGISTRYINDEX);	/* loop name main */
    lua_pop(L, 3);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, hub->hubref);	/* hubg */
  return hub->hubg;
}

/* t is done: off the hub's list, its anchors dropped. */
static void hub_timeout_settle(lua_State *L, lg_hub *hub, lg_timeout *t)
{
  if (t->prev) t->prev->next = t->next;
  else hub->timeouts = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = NULL;
  t->target->ntimeouts--;
  t->state = LG_TO_DONE;
  hub_unref(L, hub, &t->targetref);
  hub_unref(L, hub, &t->selfref);
}

/* Push the error of the Timeout that fired for n, and settle it. */
static void hub_timeout_consume(lua_State *L, lg_hub *hub, lg_hubnode *n)
{
  lg_timeout *t = n->fired;
  hub_getref(L, hub, t->errref != LUA_NOREF ? t->errref : t->selfref); /* err */
  n->fired = NULL;
  hub_timeout_settle(L, hub, t);
}

/* Resume the greenlet of a node popped from the ready queue (on the hub's
** state L).  Returns when something switches back to the hub. */
static void hub_resume(lua_State *L, lg_hub *hub, lg_hubnode *n)
{
  lg_greenlet *g = n->g;
  int top = lua_gettop(L), gi, nv = n->nvals, kind = LG_XVALUES;
  int stale = n->state != LG_HN_READY || g->status == LG_DEAD;
  hub_takeref(L, hub, &n->ref);				/* g */
  gi = lua_gettop(L);
  n->state = LG_HN_IDLE;
  if (stale) {				/* cancelled while queued */
    lua_settop(L, top);
    return;
  }
  switch (n->wake) {
  case LG_HW_TIMEOUT:			/* park returns false */
  case LG_HW_IO:			/* wait_io returns true */
    lua_pushboolean(g->Lsw, n->wake == LG_HW_IO);
    nv = 1;
    break;
  case LG_HW_TIMER:			/* park raises the Timeout's error */
    hub_timeout_consume(L, hub, n);			/* g err */
    lua_xmove(L, g->Lsw, 1);
    nv = 1;
    kind = LG_XERROR;
    break;
  case LG_HW_ERROR:
    kind = LG_XERROR;
    break;
  }
  if (lg_greenlet_resume(L, hub->vm, g, gi, nv, kind) < 0) {
    /* A greenlet whose parent is the hub died of an error: report it, the
    ** hub goes on.  (Greenthreads catch their own errors.) */
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "lgreen: uncaught error in a greenlet of the hub: %s\n",
	    msg ? msg : luaL_typename(L, -1));
    fflush(stderr);
  }
  lua_settop(L, top);
}

/* Switch from the hub to main, whose nv values are already on its state. */
static void hub_tomain(lua_State *L, lg_hub *hub, int nv, int kind)
{
  lg_getr(L, hub->vm, LG_R_MAIN);			/* main */
  hub_node(hub->vm->main)->state = LG_HN_IDLE;
  lg_greenlet_resume(L, hub->vm, hub->vm->main, lua_gettop(L), nv, kind);
  lua_pop(L, 1);
}

/* Run the greenlets ready now (not those they make ready: the loop polls
** in between, so a busy sleep(0) cannot starve I/O or timers). */
static void hub_runready(lua_State *L, lg_hub *hub)
{
  int k = hub->nready;
  while (k-- > 0 && hub->head) hub_resume(L, hub, hub_pop(hub));
}

/* Nothing is ready and no watcher can make anything ready. */
static void hub_idle(lua_State *L, lg_hub *hub)
{
  lua_State *ml = hub->vm->main->Lsw;
  if (hub->mainwaits) {			/* run(): it is done */
    hub->mainwaits = 0;
    lua_pushboolean(ml, 1);
    hub_tomain(L, hub, 1, LG_XVALUES);
    return;
  }
  /* main waits for something nothing can bring: tell it (gevent: LoopExit) */
  lua_pushliteral(ml, "lgreen: this would block forever: nothing is "
		  "ready to run and no timer or watcher is active");
  hub_tomain(L, hub, 1, LG_XERROR);
}

static void hub_interrupt(lua_State *L, lg_hub *hub);

/* Between two rounds of ready greenlets, poll without waiting, so that a
** busy sleep(0) cannot starve I/O or timers; but not after every round:
** each poll is an epoll_wait system call, and a program that spawns and
** finishes green threads one at a time would make one per spawn.  A poll
** at most every LG_HUB_POLLGAP seconds (measured with ev_time, a vDSO
** call) bounds the extra delay an event sees.  A clock that went back
** polls at once.  So does a round that started an ev_io: libev hands it
** to epoll_ctl only when it polls, and aborts if its fd was closed by
** then (a waiter's fd closed under it by the next greenlet to run). */
#define LG_HUB_POLLGAP	0.0002

static void hub_pollready(lg_hub *hub)
{
  double now = ev_time(), d = now - hub->polled;
  if (d >= 0 && d < LG_HUB_POLLGAP && !hub->iostarted) return;
  ev_run(hub->loop, EVRUN_NOWAIT);
  hub->polled = now;
  hub->iostarted = 0;
}

/* The hub greenlet's body. */
static int hub_loop(lua_State *L)
{
  lg_hub *hub = (lg_hub *)lua_touserdata(L, lua_upvalueindex(1));
  for (;;) {
    if (LG_UNLIKELY(hub->sigintpending)) hub_interrupt(L, hub);
    hub_runready(L, hub);
    lua_settop(L, 0);
    lg_hub_checkfork(hub);		/* before any ev_run */
    if (hub->head) {				/* more ready: poll, no wait */
      if (hub->ownloop) hub_pollready(hub);
      continue;
    }
    if (hub->stepping) {		/* step(): poll once, hand control back */
      int alive = hub->ownloop ? ev_run(hub->loop, EVRUN_NOWAIT)
			       : lg_host_alive(hub);
      if (hub->head) continue;
      hub->stepping = 0;
      lua_pushboolean(hub->vm->main->Lsw, alive);
      hub_tomain(L, hub, 1, LG_XVALUES);
      continue;
    }
    if (!ev_run(hub->loop, EVRUN_ONCE) && !hub->head) hub_idle(L, hub);
  }
  return 0;
}

/* -- Park and wake -------------------------------------------------------- */

/* Start n's timer: it queues n after seconds (n is anchored already). */
static void hub_arm(lg_hub *hub, lg_hubnode *n, double seconds)
{
  ev_now_update(hub->loop);
  ev_timer_init(&n->timer, hub_timer_cb, seconds, 0.);
  n->timer.data = hub;
  ev_timer_start(hub->loop, &n->timer);
  lg_hub_track(hub, seconds);
  hub->nparked++;
}

/* Switch the running greenlet (on L) to the hub, and back.  Normally the
** hub resumed us (our node is idle again); but a plain g:switch or g:throw
** may have, while we waited.  Then forget the wait, or the hub would later
** resume us from nowhere: stop the timer, drop the anchor, and let the hub
** skip a queued entry (it drops that entry's anchor itself). */
static int hub_switchto(lua_State *L, lg_hub *hub)
{
  lg_hubnode *n = hub_node(hub->vm->current);
  lg_greenlet *h = lg_hub_pushgreenlet(L, hub);		/* hubg */
  /* every caller ran lg_greenlet_checksafe before it changed anything */
  int r = lg_greenlet_switchsafe(L, hub->vm, h, lua_gettop(L), 0, LG_XVALUES);
  if (LG_UNLIKELY(n->state != LG_HN_IDLE)) {
    if (n->state == LG_HN_PARKED) {
      if (ev_is_active(&n->timer)) {
	ev_timer_stop(hub->loop, &n->timer);
	hub->nparked--;
      }
      hub_unref(L, hub, &n->ref);
    }
    n->state = LG_HN_IDLE;
  }
  return r;
}

int lg_hub_park(lua_State *L, lg_hub *hub, double timeout)
{
  lg_greenlet *self = hub->vm->current;
  lg_hubnode *n = hub_node(self);
  lg_greenlet_checksafe(L, hub->vm);	/* a refused wait changes nothing */
  lg_hub_checkhost(L, hub);
  if (self == hub->hubg) luaL_error(L, "the hub cannot wait for itself");
  if (n->fired && n->fired->state == LG_TO_FIRED) {	/* a Timeout is due */
    hub_timeout_consume(L, hub, n);			/* err */
    return -1;
  }
  n->state = LG_HN_PARKED;
  if (timeout >= 0) {
    lg_getr(L, hub->vm, LG_R_CURRENT);			/* self */
    n->ref = hub_ref(L, hub, -1);
    lua_pop(L, 1);
    hub_arm(hub, n, timeout);
  }
  return hub_switchto(L, hub);
}

/* Stop what made a parked node wait, keep (or take) its anchor. */
static void hub_unpark(lua_State *L, lg_hub *hub, lg_hubnode *n, int gidx)
{
  if (ev_is_active(&n->timer)) {
    ev_timer_stop(hub->loop, &n->timer);
    hub->nparked--;
  } else if (n->ref == LUA_NOREF) {
    n->ref = hub_ref(L, hub, gidx);
  }
}

int lg_hub_wake(lua_State *L, lg_hub *hub, int gidx, int n, int kind)
{
  lg_greenlet *g = (lg_greenlet *)lua_touserdata(L, gidx);
  lg_hubnode *nd = lg_node(g);
  lua_State *to;
  if (nd->state != LG_HN_PARKED || g->status != LG_ACTIVE || nd->g != g)
    return 0;
  to = g->Lsw;
  if (!lua_checkstack(to, n + LUA_MINSTACK))
    luaL_error(L, "too many values to wake with (%d)", n);
  if (kind == LG_HW_VALUES) lua_pushboolean(to, 1);
  lua_xmove(L, to, n);
  hub_unpark(L, hub, nd, gidx);
  nd->nvals = kind == LG_HW_VALUES ? n + 1 : n;
  nd->wake = (unsigned char)kind;
  hub_enqueue(hub, nd);
  return 1;
}

void lg_hub_schedule(lua_State *L, lg_hub *hub, int gidx, int n, double delay)
{
  lg_greenlet *g = (lg_greenlet *)lua_touserdata(L, gidx);
  lg_hubnode *nd = hub_node(g);
  if (hub->hubg == NULL || g->parent != hub->hubg) {	/* (spawn's are) */
    lg_hub_pushgreenlet(L, hub);			/* .. args hubg */
    lg_greenlet_setparent(L, gidx, lua_gettop(L));	/* it ends into the hub */
    lua_pop(L, 1);					/* .. args */
  }
  if (!lua_checkstack(g->L, n + LUA_MINSTACK))
    luaL_error(L, "too many arguments (%d)", n);
  lua_xmove(L, g->L, n);			/* after the function */
  nd->nvals = n;
  nd->wake = LG_HW_VALUES;
  nd->ref = hub_ref(L, hub, gidx);
  if (delay >= 0) {
    nd->state = LG_HN_PARKED;
    hub_arm(hub, nd, delay);
  } else {
    hub_enqueue(hub, nd);
  }
}

const char *lg_hub_throw(lua_State *L, lg_hub *hub, int gidx)
{
  lg_greenlet *g = (lg_greenlet *)lua_touserdata(L, gidx);
  lg_hubnode *nd = lg_node(g);
  if (nd->g != g || g->status == LG_DEAD) return NULL;
  if (g->status == LG_NEW) {		/* scheduled, never started: it dies */
    if (ev_is_active(&nd->timer)) {
      ev_timer_stop(hub->loop, &nd->timer);
      hub->nparked--;
    }
    lg_greenlet_cancel(g);
    nd->state = LG_HN_IDLE;
    if (!nd->queued) hub_unref(L, hub, &nd->ref);	/* else at its pop */
    return "cancelled";
  }
  if (nd->state == LG_HN_READY) {	/* woken already: replace the values */
    lua_State *to = g->Lsw;
    if (nd->wake == LG_HW_VALUES || nd->wake == LG_HW_ERROR)
      lua_pop(to, nd->nvals);		/* placed by its waker */
    else if (nd->wake == LG_HW_TIMER) {	/* the Timeout's error yields to ours */
      hub_timeout_consume(L, hub, nd);			/* .. err terr */
      lua_pop(L, 1);					/* .. err */
    }
    lua_xmove(L, to, 1);
    nd->nvals = 1;
    nd->wake = LG_HW_ERROR;
    return "thrown";
  }
  if (nd->state == LG_HN_PARKED)
    return lg_hub_wake(L, hub, gidx, 1, LG_HW_ERROR) ? "thrown" : NULL;
  return NULL;
}

/* Queue a waiter of lg_hub_wait or lg_hub_wait_io (anchored by its wait). */
int lg_hub_notify(lg_hub *hub, lg_hubnode *n)
{
  if (n == NULL || n->state != LG_HN_PARKED) return 0;	/* timed out, killed */
  if (ev_is_active(&n->timer)) {
    ev_timer_stop(hub->loop, &n->timer);
    hub->nparked--;
  }
  n->wake = LG_HW_IO;
  hub_enqueue(hub, n);
  return 1;
}

/* Its fd is ready: queue the waiter. */
void lg_hub_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
  lg_hubnode *n = (lg_hubnode *)w->data;
  (void)revents;
  ev_io_stop(loop, w);
  lg_hub_notify((lg_hub *)n->timer.data, n);
}

/* Park the running greenlet, anchored, until notified or timeout.  0, or
** -1 with an error on top when a Timeout is due already. */
static int hub_waitprep(lua_State *L, lg_hub *hub, lg_hubnode *n, double timeout)
{
  lg_greenlet_checksafe(L, hub->vm);	/* a refused wait changes nothing */
  lg_hub_checkhost(L, hub);
  if (n->g == hub->hubg) luaL_error(L, "the hub cannot wait for itself");
  if (n->fired && n->fired->state == LG_TO_FIRED) {	/* a Timeout is due */
    hub_timeout_consume(L, hub, n);			/* err */
    return -1;
  }
  n->state = LG_HN_PARKED;
  lg_getr(L, hub->vm, LG_R_CURRENT);			/* self */
  n->ref = hub_ref(L, hub, -1);
  lua_pop(L, 1);
  n->timer.data = hub;
  if (timeout >= 0) hub_arm(hub, n, timeout);
  hub->nwaits++;			/* undone by the waiter once back */
  return 0;
}

int lg_hub_wait(lua_State *L, lg_hub *hub, double timeout, lg_hubnode **slot)
{
  lg_hubnode *n = hub_node(hub->vm->current);
  int r;
  if (hub_waitprep(L, hub, n, timeout) < 0) return -1;
  *slot = n;
  r = hub_switchto(L, hub);
  *slot = NULL;
  hub->nwaits--;
  return r;
}

int lg_hub_wait_ev(lua_State *L, lg_hub *hub, ev_io *w, double timeout)
{
  lg_hubnode *n = hub_node(hub->vm->current);
  int r;
  if (hub_waitprep(L, hub, n, timeout) < 0) return -1;
  w->data = n;
  ev_io_start(hub->loop, w);
  hub->iostarted = 1;
  lg_debug_waitfd(n->g, w->fd, w->events);
  r = hub_switchto(L, hub);
  lg_debug_waitfd(n->g, -1, 0);
  ev_io_stop(hub->loop, w);
  hub->nwaits--;
  return r;
}

/* The ev_io lives in the waiting greenlet's node, not in this frame (which
** may be copied off a shared stack while it waits): it is stopped here,
** after the switch back, whatever woke the greenlet. */
int lg_hub_wait_io(lua_State *L, lg_hub *hub, int fd, int events, double timeout)
{
  lg_hubnode *n = hub_node(hub->vm->current);
  int r;
  if (hub_waitprep(L, hub, n, timeout) < 0) return -1;
  ev_io_init(&n->io, lg_hub_io_cb, fd, events);
  n->io.data = n;
  ev_io_start(hub->loop, &n->io);
  hub->iostarted = 1;
  lg_debug_waitfd(n->g, fd, events);
  r = hub_switchto(L, hub);
  lg_debug_waitfd(n->g, -1, 0);
  ev_io_stop(hub->loop, &n->io);
  hub->nwaits--;
  return r;
}

int lg_hub_sleep(lua_State *L, lg_hub *hub, double seconds)
{
  lg_greenlet *self = hub->vm->current;
  lg_hubnode *n = hub_node(self);
  int r;
  lg_greenlet_checksafe(L, hub->vm);	/* a refused wait changes nothing */
  lg_hub_checkhost(L, hub);
  if (seconds > 0) {
    r = lg_hub_park(L, hub, seconds);
  } else {			/* to the back of the ready queue */
    if (self == hub->hubg) luaL_error(L, "the hub cannot sleep");
    if (n->fired && n->fired->state == LG_TO_FIRED) {	/* a Timeout is due */
      hub_timeout_consume(L, hub, n);			/* err */
      return -1;
    }
    lg_getr(L, hub->vm, LG_R_CURRENT);
    n->ref = hub_ref(L, hub, -1);
    lua_pop(L, 1);
    n->nvals = 0;
    n->wake = LG_HW_VALUES;
    hub_enqueue(hub, n);
    r = hub_switchto(L, hub);
  }
  return r;
}

/* Main hands control to the hub until *flag's condition is met (the hub
** clears the flag when it switches back; so do we, whoever woke main). */
static int hub_mainwait(lua_State *L, lg_hub *hub, unsigned char *flag,
			const char *what)
{
  int r;
  if (hub->vm->current != hub->vm->main)
    luaL_error(L, "%s() must be called from the main greenlet", what);
  lg_greenlet_checksafe(L, hub->vm);	/* a refused wait changes nothing */
  *flag = 1;
  hub_node(hub->vm->main)->state = LG_HN_PARKED;
  r = hub_switchto(L, hub);
  *flag = 0;
  return r;
}

int lg_hub_run(lua_State *L, lg_hub *hub)
{
  lg_hub_checkhost(L, hub);
  return hub_mainwait(L, hub, &hub->mainwaits, "run");
}

int lg_hub_step(lua_State *L, lg_hub *hub)
{
  return hub_mainwait(L, hub, &hub->stepping, "step");
}

/* -- Timeouts ------------------------------------------------------------ */

/* Arm t to raise in the running greenlet (at idx on L: t itself) after
** seconds; the error is the value at eidx, or t itself if eidx is 0. */
void lg_timeout_start(lua_State *L, lg_hub *hub, lg_timeout *t, int tidx,
		      double seconds, int eidx)
{
  t->hub = hub;
  t->target = hub_node(hub->vm->current);
  lg_getr(L, hub->vm, LG_R_CURRENT);			/* cur */
  t->targetref = hub_ref(L, hub, -1);
  lua_pop(L, 1);
  t->selfref = hub_ref(L, hub, tidx);
  t->errref = eidx ? hub_ref(L, hub, eidx) : LUA_NOREF;
  ev_now_update(hub->loop);
  ev_timer_init(&t->timer, hub_timeout_cb, seconds, 0.);
  ev_timer_start(hub->loop, &t->timer);
  lg_hub_track(hub, seconds);
  t->state = LG_TO_ARMED;
  t->prev = NULL;
  t->next = hub->timeouts;
  if (t->next) t->next->prev = t;
  hub->timeouts = t;
  t->target->ntimeouts++;
}

/* Cancel t; returns 1 if it was still pending.  Once its greenlet is queued
** to raise it, it is being delivered: too late. */
int lg_timeout_cancel(lua_State *L, lg_timeout *t)
{
  lg_hubnode *n = t->target;
  if (t->state == LG_TO_ARMED) {
    ev_timer_stop(t->hub->loop, &t->timer);
  } else if (t->state == LG_TO_FIRED && !(n->fired == t &&
	     n->state == LG_HN_READY && n->wake == LG_HW_TIMER)) {
    if (n->fired == t) n->fired = NULL;
  } else {
    return 0;
  }
  hub_timeout_settle(L, t->hub, t);
  return 1;
}

/* A greenlet finished (returned, raised or was killed): the Timeouts still
** armed for it can never fire in it; cancel them, so that they neither keep
** the loop running nor keep it and themselves anchored. */
static void hub_onfinish(lua_State *L, void *ud, lg_greenlet *g)
{
  lg_hub *hub = (lg_hub *)ud;
  lg_hubnode *n = lg_node(g);
  lg_timeout *t, *next;
  if (n->g != g || n->ntimeouts == 0) return;
  for (t = hub->timeouts; t != NULL && n->ntimeouts > 0; t = next) {
    next = t->next;
    if (t->target != n) continue;
    if (t->state == LG_TO_ARMED && hub->loop) ev_timer_stop(hub->loop, &t->timer);
    if (n->fired == t) n->fired = NULL;
    hub_timeout_settle(L, hub, t);
  }
}

/* __gc of a Timeout (never armed, or done: it holds no anchor then). */
void lg_timeout_free(lua_State *L, lg_timeout *t)
{
  if (t->hub && t->errref != LUA_NOREF) hub_unref(L, t->hub, &t->errref);
}

/* -- Ctrl-C ------------------------------------------------------------------ */

/* In the standalone interpreters (lua, luajit), SIGINT's handler sets a
** hook that raises "interrupted!" in the main state at its next
** instruction.  With green threads that fails: an idle hub sleeps in the
** kernel until main's wait ends, and on LuaJIT (one hook for all
** coroutines) the hook kills whichever green thread runs.  So, as gevent
** does, the hub takes SIGINT when it makes its own loop, if the disposition
** is the interpreter's (a handler in a program named lua*) or the default:
** an ev_signal wakes the loop, and the hub raises "interrupted!" in main
** as soon as main waits on the hub.  A C host keeps its SIGINT: its loop
** is its own, or its program is not a Lua interpreter, or its handler is
** not in the program (nor is another hub's, libev's).  A handler set with
** lg.signal("INT", fn) takes precedence while active.  A green thread that
** never yields never lets the hub run: the handler is installed with
** SA_RESETHAND, so a second Ctrl-C ends the process as the default does
** (it is re-armed each time main gets one). */

/* Is the handler at *a in the program itself (not a library)?  Then *a
** becomes 0. */
static int hub_inprogram_cb(struct dl_phdr_info *info, size_t size, void *a)
{
  uintptr_t at = *(uintptr_t *)a;
  int i;
  (void)size;
  for (i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && at >= lo && at - lo < ph->p_memsz)
      *(uintptr_t *)a = 0;
  }
  return 1;			/* the first object is the program: done */
}

static int hub_sigint_ours(const struct sigaction *sa)
{
  uintptr_t at = (uintptr_t)sa->sa_handler;
  if (strncmp(program_invocation_short_name, "lua", 3) != 0) return 0;
  if (sa->sa_handler == SIG_DFL) return 1;
  if (sa->sa_handler == SIG_IGN || (sa->sa_flags & SA_SIGINFO)) return 0;
  dl_iterate_phdr(hub_inprogram_cb, &at);
  return at == 0;
}

/* libev callback (no Lua): hub_loop raises it in main, unless lg.signal
** has SIGINT. */
static void hub_sigint_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
  lg_hub *hub = (lg_hub *)w->data;
  (void)loop; (void)revents;
  if (hub->sigintusers == 0) hub->sigintpending = 1;
}

/* Raise "interrupted!" in main if it waits on the hub (on the hub
** greenlet).  Main waits whenever the hub runs, unless it switched away by
** hand: then it gets the interrupt when it next waits. */
static void hub_interrupt(lua_State *L, lg_hub *hub)
{
  lg_greenlet *m = hub->vm->main;
  lg_hubnode *n = lg_node(m);
  int top = lua_gettop(L);
  if (n->g != m || (n->state != LG_HN_PARKED && n->state != LG_HN_READY))
    return;
  hub->sigintpending = 0;
  sigaction(SIGINT, &hub->sigintact, NULL);	/* re-armed */
  lg_getr(L, hub->vm, LG_R_MAIN);			/* main */
  lua_pushliteral(L, "interrupted!");			/* main err */
  lg_hub_throw(L, hub, top + 1);
  lua_settop(L, top);
}

static void hub_sigint_start(lg_hub *hub)
{
  if (sigaction(SIGINT, NULL, &hub->sigintold) != 0 ||
      !hub_sigint_ours(&hub->sigintold))
    return;
  ev_signal_init(&hub->sigint, hub_sigint_cb, SIGINT);
  hub->sigint.data = hub;
  ev_signal_start(hub->loop, &hub->sigint);
  ev_unref(hub->loop);			/* it keeps no run() alive */
  sigaction(SIGINT, NULL, &hub->sigintact);
  hub->sigintact.sa_flags |= SA_RESETHAND;
  sigaction(SIGINT, &hub->sigintact, NULL);
}

/* At __gc: the disposition from before comes back if ours is still in
** place (libev's stop leaves SIG_DFL).  Not if someone set another, nor if
** it is the default already: lua.c resets it before lua_close, and its
** handler must not outlive the state it hooks. */
static void hub_sigint_stop(lg_hub *hub)
{
  struct sigaction cur;
  int ours;
  if (!ev_is_active(&hub->sigint)) return;
  ours = sigaction(SIGINT, NULL, &cur) == 0 &&
	 cur.sa_handler == hub->sigintact.sa_handler;
  ev_ref(hub->loop);
  ev_signal_stop(hub->loop, &hub->sigint);
  if (ours) sigaction(SIGINT, &hub->sigintold, NULL);
}

void lg_hub_sigintusers(lg_hub *hub, int d)
{
  hub->sigintusers += d;
  if (!ev_is_active(&hub->sigint)) return;
  if (hub->sigintusers > 0) {		/* theirs: every Ctrl-C, no reset */
    struct sigaction sa = hub->sigintact;
    sa.sa_flags &= ~SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
  } else {
    sigaction(SIGINT, &hub->sigintact, NULL);
  }
}

/* -- Creation --------------------------------------------------------------- */

static int hub_gc(lua_State *L)
{
  lg_hub *hub = (lg_hub *)lua_touserdata(L, 1);
  hub->vm->onfinish = NULL;	/* (lua_close frees no userdata before every __gc ran) */
  lg_hub_checkfork(hub);		/* a child must not close the parent's pool */
  hub_sigint_stop(hub);
  while (hub->nhooks > 0) hub->onclose[--hub->nhooks](hub);
  if (!hub->ownloop && hub->loop) lg_host_close(L, hub);
  if (hub->ownloop && hub->loop) ev_loop_destroy(hub->loop);
  if (hub->ownloop) hub->loop = NULL;	/* a host's lives on: the __gc of
					   sockets and signals stop theirs */
  if (hub->forkflag) munmap(hub->forkflag, (size_t)sysconf(_SC_PAGESIZE));
  hub->forkflag = NULL;
  free(hub->deadlines);
  hub->deadlines = NULL;
  free(hub->freeslots);
  hub->freeslots = NULL;	/* late anchors: slots, no list (hub_slot) */
  hub->nfree = 0;
  hub->freecap = INT_MAX;
  return 0;
}

lg_hub *lg_hub_find(lua_State *L)
{
  lg_hub *hub;
  lua_getfield(L, LUA_REGISTRYINDEX, LG_HUB_KEY);	/* hub? */
  hub = (lg_hub *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return hub;
}

static lg_hub *hub_create(lua_State *L, lg_vm *vm)
{
  lg_hub *hub = (lg_hub *)lua_newuserdata(L, sizeof(lg_hub));	/* hub */
  memset(hub, 0, sizeof(*hub));
  hub->vm = vm;
  vm->onfinish = hub_onfinish;
  vm->onfinish_ud = hub;
  hub->hubref = LUA_NOREF;
  hub->backendfd = -1;
  lua_createtable(L, 0, 1);				/* hub mt */
  lua_pushcfunction(L, hub_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);				/* hub */
  lua_setfield(L, LUA_REGISTRYINDEX, LG_HUB_KEY);	/* */
  lua_newtable(L);
  hub->anchors = luaL_ref(L, LUA_REGISTRYINDEX);
  return hub;
}

lg_hub *lg_hub_open(lua_State *L, lg_vm *vm)
{
  lg_hub *hub = lg_hub_find(L);
  return hub ? hub : hub_create(L, vm);
}

/* Note the process the loop is made in (see lg_hub_forked). */
static void hub_setpid(lg_hub *hub)
{
  size_t size = (size_t)sysconf(_SC_PAGESIZE);
  void *p;
  hub->pid = getpid();
  if (hub->forkflag != NULL) return;
  p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  if (madvise(p, size, MADV_WIPEONFORK) != 0) {	/* older kernel: getpid() */
    munmap(p, size);
    return;
  }
  hub->forkflag = (unsigned char *)p;
  *hub->forkflag = 1;
}

void lg_hub_newloop(lua_State *L, lg_hub *hub)
{
  hub->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
  if (hub->loop == NULL) luaL_error(L, "lgreen: cannot create a libev loop");
  hub->ownloop = 1;
  hub_setpid(hub);
  hub_sigint_start(hub);
}

/* A child of fork() inherits a copy of the hub: its loop's epoll fd is the
** parent's epoll instance (the same kernel object: polling it would steal
** the parent's events), and its resolver pool has no threads (its mutex may
** even stay locked forever).  The first use after the fork that would touch
** them finds another pid, and gives the child its own: a new resolver pool,
** and ev_loop_fork, so that the next ev_run makes a new epoll set and
** registers every active watcher again (greenlets parked in the parent at
** the fork wait on in the child).  How the child knows, per hub (no process
** global, no pthread_atfork registry of VMs): a byte set to 1 on a page of
** its own that the kernel hands a child zeroed (MADV_WIPEONFORK, Linux
** 4.14), so the check on the hot path is one load; where that advice is
** refused, a getpid() compared to the hub's.  A host's loop is the host's
** to fork. */
void lg_hub_forked(lg_hub *hub)
{
  pid_t pid;
  int i;
  if (hub->loop == NULL || hub->pid == (pid = getpid())) return;
  hub->pid = pid;
  if (hub->forkflag) *hub->forkflag = 1;
  for (i = 0; i < hub->nhooks; i++)
    if (hub->onfork[i]) hub->onfork[i](hub);
  if (hub->ownloop) ev_loop_fork(hub->loop);
  hub->backendfd = -1;			/* host mode: find the new one */
}

void lg_hub_hook(lg_hub *hub, lg_hubhookfn close, lg_hubhookfn fork)
{
  int i;
  for (i = 0; i < hub->nhooks; i++)
    if (hub->onclose[i] == close) return;
  if (hub->nhooks == LG_HUB_NHOOKS) abort();	/* a fixed set of modules */
  hub->onclose[hub->nhooks] = close;
  hub->onfork[hub->nhooks++] = fork;
}

int lg_hub_setloop(lua_State *L, struct ev_loop *loop)
{
  lg_hub *hub = lg_hub_find(L);
  lg_vm *vm;
  if (hub && hub->loop) return -1;	/* too late: already in use */
  lua_getfield(L, LUA_REGISTRYINDEX, "lgreen.vm");	/* vm? */
  vm = (lg_vm *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (vm == NULL) return -1;
  if (hub == NULL) hub = hub_create(L, vm);
  hub->loop = loop;
  hub->ownloop = 0;
  hub_setpid(hub);
  return 0;
}
