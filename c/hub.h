/*
** hub.h — one libev loop per Lua VM, run by the hub greenlet; park/wake.
**
** A greenlet that waits parks: it switches to the hub greenlet, which runs
** the ready queue and the loop.  Whoever wakes it (a Lua caller of wake or
** throw, or the hub for a timeout) first places what the parked side's park
** call will return onto the state it is suspended in, then queues it.  libev
** callbacks run no Lua and call no Lua API: they only queue nodes.
*/
#ifndef LG_HUB_H
#define LG_HUB_H

#include <ev.h>
#include <signal.h>
#include <sys/types.h>

#include "greenlet.h"

/* lg_hubnode.state */
enum { LG_HN_IDLE, LG_HN_PARKED, LG_HN_READY };
/* lg_hubnode.wake: how a ready greenlet resumes */
enum {
  LG_HW_VALUES,		/* nvals values placed (park: true, ...) */
  LG_HW_ERROR,		/* one error value placed: raised in park */
  LG_HW_TIMEOUT,	/* its park timed out: the hub pushes false */
  LG_HW_TIMER,		/* a Timeout fired: the hub pushes its error */
  LG_HW_IO		/* its fd is ready: the hub pushes true */
};

typedef struct lg_timeout lg_timeout;

/* Per-greenlet hub state, in lg_greenlet.hub: parking allocates nothing. */
typedef struct lg_hubnode {
  ev_timer timer;		/* park timeout, or spawn_after delay */
  ev_io io;			/* lg_hub_wait_io's watcher: never in a frame
				   (a shared stack's frames move; stack.c) */
  struct lg_hubnode *next;	/* ready queue link */
  lg_greenlet *g;		/* the greenlet this node belongs to */
  lg_timeout *fired;		/* LG_HW_TIMER: the Timeout that fired */
  int ref;			/* anchor while the hub holds it, or LUA_NOREF */
  int nvals;			/* values placed for the resume */
  unsigned char state;		/* LG_HN_IDLE, LG_HN_PARKED or LG_HN_READY */
  unsigned char wake;		/* LG_HW_x */
  unsigned char queued;		/* linked in the ready queue (maybe stale) */
  int ntimeouts;		/* Timeouts armed for it, or fired unconsumed */
} lg_hubnode;

#define lg_node(g)	((lg_hubnode *)(void *)(g)->hub.b)

/* A Timeout: raises its error in its greenlet unless cancelled in time. */
struct lg_timeout {
  ev_timer timer;		/* must be first: the callback casts */
  struct lg_hub *hub;		/* hub of its VM */
  lg_hubnode *target;		/* node of the greenlet it raises in */
  int targetref;		/* anchor of the target while armed */
  int selfref;			/* anchor of this userdata while armed */
  int errref;			/* the error value to raise */
  unsigned char state;		/* LG_TO_x */
  struct lg_timeout *prev, *next; /* hub's list of them, while not done */
};
enum { LG_TO_NEW, LG_TO_ARMED, LG_TO_FIRED, LG_TO_DONE };

/* A close hook (like libev's ev_cleanup): what a module built on the hub
** (the resolver...) must undo before the hub goes, and redo in a child
** after fork().  Registered once per hub with lg_hub_hook. */
typedef void (*lg_hubhookfn)(struct lg_hub *hub);
#define LG_HUB_NHOOKS 8

typedef struct lg_hub {
  struct ev_loop *loop;		/* the loop: ours or the host's */
  lg_vm *vm;			/* greenlet state of this VM */
  lg_greenlet *hubg;		/* the hub greenlet, NULL until first use */
  int hubref;			/* registry ref of the hub greenlet */
  int anchors;			/* registry ref of the anchor table */
  double polled;		/* ev_time() of the last poll between rounds */
  unsigned char iostarted;	/* an ev_io started since that poll */
  int *freeslots;		/* its free slots (a stack), NULL after __gc */
  int nfree, nslots, freecap;	/* free ones; slots made; room in freeslots */
  lg_hubnode *head, *tail;	/* ready queue, FIFO */
  int nready;			/* entries in the ready queue */
  int nparked;			/* greenlets parked with a timer (anchored) */
  double *deadlines;		/* host mode: heap of timer deadlines */
  size_t ndeadlines, deadlinescap; /* entries used, allocated */
  int backendfd;		/* host mode: the loop's epoll fd, or -1 */
  unsigned char hostmode;	/* a host polls for us: track deadlines */
  unsigned char ownloop;	/* we made the loop: we destroy it */
  unsigned char mainwaits;	/* main is in run(): wake it when idle */
  unsigned char stepping;	/* main is in step(): return when idle */
  void *resolver;		/* resolve.c's thread pool, NULL until used */
  lg_timeout *timeouts;		/* armed or fired Timeouts, not done yet */
  pid_t pid;			/* the process the loop and pool belong to */
  unsigned char *forkflag;	/* 1 on a MADV_WIPEONFORK page: 0 in a child */
  ev_signal sigint;		/* Ctrl-C for main, if no one else takes it */
  struct sigaction sigintact;	/* libev's handler with SA_RESETHAND */
  struct sigaction sigintold;	/* SIGINT's disposition before the hub's */
  int sigintusers;		/* lg.signal watchers of SIGINT: theirs then */
  unsigned char sigintpending;	/* a Ctrl-C waits for main to wait */
  lg_hubhookfn onclose[LG_HUB_NHOOKS]; /* close hooks, run at __gc */
  lg_hubhookfn onfork[LG_HUB_NHOOKS];  /* their fork hooks (or NULL) */
  int nhooks;			/* entries used */
  int nwaits;			/* greenlets parked in lg_hub_wait* */
  unsigned char hostkick;	/* host's loop: queueing wakes it (host.c) */
  void *host;			/* host.c's watchers on a host's loop */
  unsigned short sigours[NSIG];	/* lg.signal watchers per signal */
} lg_hub;

/* Register a close hook and its fork hook (or NULL) with hub; the same
** close hook again does nothing.  Close hooks run in reverse order. */
void lg_hub_hook(lg_hub *hub, lg_hubhookfn close, lg_hubhookfn fork);

/* host.c: the host-loop side of the hub.  Queueing a greenlet wakes the
** host's loop (lg_host_kick); main must not block while the host's loop
** runs (lg_host_checkblock raises); step's "more to wait for" without a
** loop of our own (lg_host_alive); undo everything at __gc (lg_host_close). */
void lg_host_kick(lg_hub *hub);
void lg_host_checkblock(lua_State *L, lg_hub *hub);
int lg_host_alive(lg_hub *hub);
/* Is sig watched by another libev loop (libev would abort)? */
int lg_host_sigclash(lg_hub *hub, int sig);
void lg_host_close(lua_State *L, lg_hub *hub);
#define lg_hub_checkhost(L, hub) \
  do { if (LG_UNLIKELY(!(hub)->ownloop)) lg_host_checkblock((L), (hub)); } while (0)

#define LG_HUB_KEY "lgreen.hub"	/* registry key of the lg_hub userdata */

/* The hub of L's VM, or NULL before lgreen.core was opened there. */
lg_hub *lg_hub_find(lua_State *L);
/* Find or create the hub of L's VM (without a loop yet). */
lg_hub *lg_hub_open(lua_State *L, lg_vm *vm);
/* Push the hub greenlet, creating it on first use. */
lg_greenlet *lg_hub_pushgreenlet(lua_State *L, lg_hub *hub);
/* Give the hub a loop of its own (first use, unless the host gave one). */
void lg_hub_newloop(lua_State *L, lg_hub *hub);
#define lg_hub_ready(L, hub) \
  do { if (LG_UNLIKELY((hub)->loop == NULL)) lg_hub_newloop((L), (hub)); } while (0)
/* In a child after fork(), give the hub a loop and resolver pool of its
** own, once: checked where they are used (loop runs, lookups, __gc).  The
** check is one load; without MADV_WIPEONFORK, a getpid(). */
void lg_hub_forked(lg_hub *hub);
#define lg_hub_checkfork(hub) \
  do { if (LG_UNLIKELY(!(hub)->forkflag || !*(hub)->forkflag)) lg_hub_forked(hub); } while (0)
/* A watcher of SIGINT starts (d = 1) or stops (d = -1): while one is
** active, Ctrl-C is its, not main's (process.c). */
void lg_hub_sigintusers(lg_hub *hub, int d);
/* Use the host's loop; only before the hub's first use.  0 or -1. */
int lg_hub_setloop(lua_State *L, struct ev_loop *loop);

/* The running greenlet waits (timeout < 0: no timeout).  Returns like
** lg_greenlet_switch: values on top of L (true, ... or false on timeout),
** or -1 with an error to raise. */
int lg_hub_park(lua_State *L, lg_hub *hub, double timeout);
/* Wake the greenlet at gidx with the top n values of L (or, kind
** LG_HW_ERROR, the error on top).  0 if it was not parked. */
int lg_hub_wake(lua_State *L, lg_hub *hub, int gidx, int n, int kind);
/* Queue the new greenlet at gidx with the top n values of L as its
** arguments, after delay seconds (< 0: now).  Its parent becomes the hub:
** what it returns goes nowhere, what it raises is reported. */
void lg_hub_schedule(lua_State *L, lg_hub *hub, int gidx, int n, double delay);
/* Kill the greenlet at gidx with the error on top of L: a parked or queued
** one resumes with it, a new one dies without running.  Returns what
** happened: "thrown", "cancelled", or NULL (not the hub's to kill). */
const char *lg_hub_throw(lua_State *L, lg_hub *hub, int gidx);
/* The running greenlet waits until fd is ready for events (EV_READ and/or
** EV_WRITE), or timeout seconds pass (< 0: no timeout).  Returns like
** lg_hub_park: true on readiness, false on timeout, -1 to raise. */
int lg_hub_wait_io(lua_State *L, lg_hub *hub, int fd, int events, double timeout);
/* The same with a caller's ev_io, set up once with lg_hub_io_cb for its fd
** and events: re-arming an unchanged watcher costs libev no epoll_ctl.
** Whoever closes the fd first wakes the waiter: ev_invoke(loop, w,
** EV_CUSTOM). */
int lg_hub_wait_ev(lua_State *L, lg_hub *hub, ev_io *w, double timeout);
/* The callback of those ev_io: stops it and queues its waiter. */
void lg_hub_io_cb(struct ev_loop *loop, ev_io *w, int revents);
/* The running greenlet waits for a C-side event: *slot points to its node
** while it waits (NULL otherwise), and a libev callback (an ev_async, an
** ev_signal...) wakes it with lg_hub_notify(hub, *slot).  Returns like
** lg_hub_park: true when notified, false on timeout, -1 to raise. */
int lg_hub_wait(lua_State *L, lg_hub *hub, double timeout, lg_hubnode **slot);
/* Queue the greenlet waiting on node n (from any libev callback of this
** hub's loop; no Lua API).  0 if it no longer waits (n NULL, timed out,
** killed). */
int lg_hub_notify(lg_hub *hub, lg_hubnode *n);
/* Yield to every greenlet ready now, or sleep. */
int lg_hub_sleep(lua_State *L, lg_hub *hub, double seconds);
/* From main: run until nothing is ready and no watcher is active. */
int lg_hub_run(lua_State *L, lg_hub *hub);
/* From main: run what is ready without blocking.  Returns 1 if watchers
** or ready greenlets remain. */
int lg_hub_step(lua_State *L, lg_hub *hub);

/* host.c: note a timer due after seconds, while a host polls for us. */
void lg_host_track(lg_hub *hub, double after);
#define lg_hub_track(hub, after) \
  do { if (LG_UNLIKELY((hub)->hostmode)) lg_host_track((hub), (after)); } while (0)
/* host.c: the fd a foreign poller watches for readability (-1 if there
** is none: the host gave its own loop, or the backend is not epoll), and
** the seconds until lg_hub_step is due at the latest (-1: no timer). */
int lg_host_backend_fd(lg_hub *hub);
double lg_host_next_timeout(lg_hub *hub);

/* Timeouts: arm (t is the userdata at tidx; error at eidx, 0: t itself),
** cancel (1 if it was pending), and release at __gc. */
void lg_timeout_start(lua_State *L, lg_hub *hub, lg_timeout *t, int tidx,
		      double seconds, int eidx);
int lg_timeout_cancel(lua_State *L, lg_timeout *t);
void lg_timeout_free(lua_State *L, lg_timeout *t);

#endif
