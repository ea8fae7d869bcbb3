/*
** debug_impl.h — the accounting and watchdog state of a VM, shared by
** debug.c (engine) and lib_debug.c (bindings).
*/
#ifndef LG_DEBUG_IMPL_H
#define LG_DEBUG_IMPL_H

#include <pthread.h>
#include <sys/types.h>

#include "hub.h"

#define LG_DBG_NREPORTS	8	/* blocking reports queued for a Lua fn */
#define LG_DEBUG_SEEN	"lgreen.debug.seen"	/* registry: weak p -> greenlet */

/* One blocking report: phase 1 while it blocks, 2 when it switched out. */
typedef struct lg_dbgreport {
  int phase;			/* 1 or 2 */
  unsigned long long id;	/* greenlet id */
  double ms;			/* how long it had run */
  char name[48];		/* its name, "" if none */
  char at[160];			/* where it was resumed: file:line */
  char tb[2048];		/* phase 2: traceback where it switched out */
} lg_dbgreport;

struct lg_debug {
  lg_vm *vm;			/* VM it accounts for */
  lg_hub *hub;			/* hub of that VM */
  struct ev_loop *loop;		/* loop watched by prep/check, or NULL */
  unsigned char loopgone;	/* that loop was destroyed */
  pid_t pid;			/* process the watchdog thread runs in */
  ev_prepare prep;		/* before the poll: the hub is idle */
  ev_check check;		/* after it: the hub runs */
  ev_cleanup cleanup;		/* the loop dies: stop the thread first */
  long long prepared;		/* clock at the last prepare, 0 after check */
  long long loopwait;		/* ns the hub spent in the poll */
  long long deadcpu;		/* ns run by greenlets that died */
  char libdir[256];		/* source prefix of lgreen's Lua modules */
  size_t libdirlen;		/* its length, 0: none */
  /* Watchdog: written by the hub thread, read by the watchdog thread. */
  pthread_t thread;		/* the watchdog */
  pthread_mutex_t mu;		/* guards threshold, stop, reports */
  pthread_cond_t cv;		/* wakes the watchdog (CLOCK_MONOTONIC) */
  unsigned char running;	/* thread started */
  unsigned char fnmode;		/* reports go to a Lua fn, not stderr */
  int stop;			/* the thread must end */
  int idle;			/* the hub waits in the poll (atomic) */
  int sleeping;			/* the watchdog waits for the hub (atomic) */
  long long threshold;		/* ns of running that is blocking; 0: off */
  unsigned long long seq;	/* +2 per switch; odd while snap is written */
  unsigned long long reported;	/* seq of the run reported as blocking */
  long long t_in;		/* clock at the last switch */
  struct {
    unsigned long long id;	/* running greenlet's id */
    char name[48];		/* its name */
    char src[LUA_IDSIZE];	/* where it was resumed: short source */
    int line;			/* and line (0: src says why) */
  } snap;
  unsigned long nblocking;	/* first reports made (mu) */
  unsigned long nwakeups;	/* times the watchdog woke (mu) */
  lg_hubnode *reporter;		/* the Lua reporter's lg_hub_wait slot */
  lg_dbgreport reports[LG_DBG_NREPORTS];	/* ring of queued reports */
  int rhead, nreports;		/* its first entry and length */
};

long long lg_debug_now(void);
void lg_debug_site(lg_debug *d, lua_State *S, char *src, size_t size, int *line);
void lg_debug_traceback(lua_State *S, char *buf, size_t size);
int lg_debug_popreport(lg_debug *d, lg_dbgreport *out);
void lg_debug_watchloop(lg_debug *d, struct ev_loop *loop);
int lg_debug_startthread(lg_debug *d);
void lg_debug_stopthread(lg_debug *d);
void lg_debug_snapshot(lg_debug *d, lg_greenlet *t, long long now);
void lg_debug_setthreshold(lg_debug *d, long long ns, int fnmode);
void lg_debug_init(lg_debug *d, lg_vm *vm, lg_hub *hub);
void lg_debug_on(lg_debug *d);
void lg_debug_close(lg_debug *d);

#endif
