/*
** debug.c — accounting and the blocking watchdog behind lgreen.debug.
**
** Accounting (vm->dbg set): each switch reads CLOCK_MONOTONIC once and
** charges the time since the last switch to the greenlet switching out.
** An ev_prepare/ev_check pair around the loop's poll tells how much of the
** hub's time was spent waiting, and when the hub is idle.
**
** The watchdog is an OS thread per VM.  It never touches Lua or the
** greenlets: it reads a switch sequence number, the time of the last
** switch and a snapshot (id, name, where it resumed) that the switch
** writes under a sequence lock.  While the hub waits in the loop, it sleeps
** on a condition variable, so an idle process stays asleep.  When it sees
** one greenlet run past the threshold it reports at once; the switch that
** ends the run sees the report and adds the traceback where it switched
** out.
*/
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "debug_impl.h"

/* -- Clock --------------------------------------------------------------- */

long long lg_debug_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The switch's clock: the kernel's last tick (a plain vDSO read, a few ns
** instead of 20+).  Each reading lags by less than a tick (1-4 ms), so
** one short run is charged 0 or a tick; over many switches the charges
** add up to the time run, which is what top and the dump report. */
static inline long long lg_debug_tick(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* -- Where a suspended greenlet is --------------------------------------- */

/* Is this frame lgreen's own Lua code (not the user's)? */
static int isours(lg_debug *d, const lua_Debug *ar)
{
  return ar->currentline <= 0 ||
	 (d->libdirlen > 0 && strncmp(ar->source, d->libdir, d->libdirlen) == 0);
}

/* Copy a string into buf (size > 0), cut to fit: no formatting, it runs
** on every switch while watching. */
static void copystr(char *buf, size_t size, const char *s)
{
  size_t n = strnlen(s, size - 1);
  memcpy(buf, s, n);
  buf[n] = 0;
}

/* The innermost frame of S that is the user's code: its short source into
** src, and its line (0 when there is none: src then says why). */
void lg_debug_site(lg_debug *d, lua_State *S, char *src, size_t size, int *line)
{
  lua_Debug ar;
  int level;
  for (level = 0; level < 12 && lua_getstack(S, level, &ar); level++) {
    if (!lua_getinfo(S, "l", &ar)) break;
    if (ar.currentline <= 0) continue;		/* C: no need for "S" */
    if (!lua_getinfo(S, "S", &ar)) break;
    if (!isours(d, &ar)) {
      copystr(src, size, ar.short_src);
      *line = ar.currentline;
      return;
    }
  }
  copystr(src, size, level == 0 ? "(its start)" : "(lgreen)");
  *line = 0;
}

/* "src:line" (or src) of a snapshot, into a report's at. */
static void formatsite(char *at, size_t size, const char *src, int line)
{
  if (line > 0) snprintf(at, size, "%s:%d", src, line);
  else snprintf(at, size, "%s", src);
}

/* Lua's traceback format, written into buf (no allocation: it runs inside
** a switch). */
void lg_debug_traceback(lua_State *S, char *buf, size_t size)
{
  lua_Debug ar;
  size_t n = (size_t)snprintf(buf, size, "stack traceback:");
  int level;
  for (level = 0; n < size && lua_getstack(S, level, &ar); level++) {
    if (level == 20) {
      n += (size_t)snprintf(buf + n, size - n, "\n\t...");
      break;
    }
    lua_getinfo(S, "Sln", &ar);
    n += (size_t)snprintf(buf + n, size - n, "\n\t%s:", ar.short_src);
    if (n < size && ar.currentline > 0)
      n += (size_t)snprintf(buf + n, size - n, "%d:", ar.currentline);
    if (n >= size) break;
    if (ar.name)
      n += (size_t)snprintf(buf + n, size - n, " in function '%s'", ar.name);
    else if (*ar.what == 'm')
      n += (size_t)snprintf(buf + n, size - n, " in main chunk");
    else if (*ar.what == 'C')
      n += (size_t)snprintf(buf + n, size - n, " in ?");
    else
      n += (size_t)snprintf(buf + n, size - n, " in function <%s:%d>",
			    ar.short_src, ar.linedefined);
  }
}


/* -- Reports ------------------------------------------------------------- */

/* Queue a report for the Lua reporter (mu held).  The oldest one is
** dropped when the ring is full. */
static lg_dbgreport *pushreport(lg_debug *d)
{
  lg_dbgreport *r;
  if (d->nreports == LG_DBG_NREPORTS) {
    d->rhead = (d->rhead + 1) % LG_DBG_NREPORTS;
    d->nreports--;
  }
  r = &d->reports[(d->rhead + d->nreports++) % LG_DBG_NREPORTS];
  memset(r, 0, sizeof(*r));
  return r;
}

int lg_debug_popreport(lg_debug *d, lg_dbgreport *out)
{
  int got = 0;
  pthread_mutex_lock(&d->mu);
  if (d->nreports > 0) {
    *out = d->reports[d->rhead];
    d->rhead = (d->rhead + 1) % LG_DBG_NREPORTS;
    d->nreports--;
    got = 1;
  }
  pthread_mutex_unlock(&d->mu);
  return got;
}

static void printname(char *buf, size_t size, const char *name,
		      unsigned long long id)
{
  if (*name) snprintf(buf, size, "'%s' (id %llu)", name, id);
  else snprintf(buf, size, "id %llu", id);
}

/* The run the watchdog reported ends: self switches out after ms. */
static LG_NOINLINE void blocked(lg_debug *d, lg_greenlet *self, long long now)
{
  lg_dbgreport r;
  char who[96];
  memset(&r, 0, sizeof(r));
  r.phase = 2;
  r.id = d->snap.id;
  memcpy(r.name, d->snap.name, sizeof(r.name));
  formatsite(r.at, sizeof(r.at), d->snap.src, d->snap.line);
  r.ms = (double)(lg_debug_now() - d->t_in) / 1e6;
  if (self->status == LG_DEAD || self->Lsw == NULL)
    snprintf(r.tb, sizeof(r.tb), "(it finished)");
  else
    lg_debug_traceback(self->Lsw, r.tb, sizeof(r.tb));
  if (d->fnmode) {
    pthread_mutex_lock(&d->mu);
    *pushreport(d) = r;
    pthread_mutex_unlock(&d->mu);
    lg_hub_notify(d->hub, d->reporter);
    return;
  }
  printname(who, sizeof(who), r.name, r.id);
  fprintf(stderr, "lgreen: green thread %s blocked the hub for %.0f ms "
	  "(resumed at %s), until it switched out here:\n%s\n",
	  who, r.ms, r.at, r.tb);
  fflush(stderr);
}

/* -- The switch ----------------------------------------------------------- */

/* Publish who runs from now on, for the watchdog. */
void lg_debug_snapshot(lg_debug *d, lg_greenlet *t, long long now)
{
  unsigned long long s = d->seq;
  __atomic_store_n(&d->seq, s + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  d->snap.id = t->dbg.id;
  copystr(d->snap.name, sizeof(d->snap.name), t->name ? t->name : "");
  if (t == d->hub->hubg) {
    copystr(d->snap.src, sizeof(d->snap.src), "the loop");
    d->snap.line = 0;
  } else {
    lg_debug_site(d, t == d->vm->current ? t->L : t->Lsw, d->snap.src,
		  sizeof(d->snap.src), &d->snap.line);
  }
  STORE(&d->t_in, now);
  STORE(&d->seq, s + 2);
}

void lg_debug_switch(lg_vm *vm, lg_greenlet *self, lg_greenlet *t)
{
  lg_debug *d = vm->dbg;
  long long now = lg_debug_tick();
  self->dbg.cpu += now - self->dbg.since;
  self->dbg.since = now;
  self->dbg.switches++;
  if (self->status == LG_DEAD) d->deadcpu += self->dbg.cpu;
  t->dbg.since = now;
  if (d->threshold > 0) {
    if (LG_UNLIKELY(LOAD(&d->reported) == d->seq)) blocked(d, self, now);
    lg_debug_snapshot(d, t, now);
  }
}

void lg_debug_remember(lua_State *L, int gi)
{
  lua_getfield(L, LUA_REGISTRYINDEX, LG_DEBUG_SEEN);	/* seen */
  lua_pushlightuserdata(L, lua_touserdata(L, gi));	/* seen p */
  lua_pushvalue(L, gi);					/* seen p g */
  lua_rawset(L, -3);					/* seen */
  lua_pop(L, 1);
}

/* -- The loop: idle or not ------------------------------------------------ */

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
  lg_debug *d = (lg_debug *)w->data;
  (void)loop; (void)revents;
  d->prepared = lg_debug_now();
  __atomic_store_n(&d->idle, 1, __ATOMIC_SEQ_CST);
}

static void check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
  lg_debug *d = (lg_debug *)w->data;
  long long now = lg_debug_now();
  (void)loop; (void)revents;
  if (d->prepared) d->loopwait += now - d->prepared;
  d->prepared = 0;
  if (d->threshold > 0) {	/* the hub runs again from now */
    STORE(&d->t_in, now);
    STORE(&d->seq, d->seq + 2);
  }
  __atomic_store_n(&d->idle, 0, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&d->sleeping, __ATOMIC_SEQ_CST) &&
      d->pid == getpid()) {	/* (not in a forked child: no watchdog) */
    pthread_mutex_lock(&d->mu);
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
  }
}

/* The loop is being destroyed (hub __gc): stop the thread first. */
static void cleanup_cb(struct ev_loop *loop, ev_cleanup *w, int revents)
{
  lg_debug *d = (lg_debug *)w->data;
  (void)loop; (void)revents;
  lg_debug_stopthread(d);
  d->loop = NULL;
  d->loopgone = 1;
}

void lg_debug_watchloop(lg_debug *d, struct ev_loop *loop)
{
  if (d->loop) return;
  d->loop = loop;
  ev_prepare_init(&d->prep, prepare_cb);
  ev_check_init(&d->check, check_cb);
  ev_cleanup_init(&d->cleanup, cleanup_cb);
  d->prep.data = d->check.data = d->cleanup.data = d;
  ev_prepare_start(loop, &d->prep);
  ev_unref(loop);		/* they must not keep run() from returning */
  ev_check_start(loop, &d->check);
  ev_unref(loop);
  ev_cleanup_start(loop, &d->cleanup);
}

/* -- The watchdog thread --------------------------------------------------- */

static void abstime(struct timespec *ts, long long ns)
{
  ts->tv_sec = (time_t)(ns / 1000000000LL);
  ts->tv_nsec = (long)(ns % 1000000000LL);
}

/* Is anyone being blocked?  A green thread that runs blocks the others;
** main blocks them only while some are ready or wait for a timer (main
** busy after run() returned blocks nobody). */
static int hubbusy(lg_debug *d)
{
  lg_hub *hub = d->hub;
  return d->snap.id != d->vm->main->dbg.id ||
	 __atomic_load_n(&hub->nready, __ATOMIC_RELAXED) > 0 ||
	 __atomic_load_n(&hub->nparked, __ATOMIC_RELAXED) > 0;
}

/* The first report, from the watchdog (mu held). */
static void blocking(lg_debug *d, unsigned long long s, long long t0,
		     long long now)
{
  lg_dbgreport r;
  char who[96];
  memset(&r, 0, sizeof(r));
  r.phase = 1;
  r.id = d->snap.id;
  memcpy(r.name, d->snap.name, sizeof(r.name));
  formatsite(r.at, sizeof(r.at), d->snap.src, d->snap.line);
  r.name[sizeof(r.name) - 1] = 0;
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  if (__atomic_load_n(&d->seq, __ATOMIC_RELAXED) != s) return;	/* torn */
  r.ms = (double)(now - t0) / 1e6;
  STORE(&d->reported, s);
  d->nblocking++;
  if (d->fnmode) {
    *pushreport(d) = r;
    return;
  }
  printname(who, sizeof(who), r.name, r.id);
  fprintf(stderr, "lgreen: green thread %s has been running for %.0f ms "
	  "without switching (resumed at %s)\n", who, r.ms, r.at);
  fflush(stderr);
}

static void *watchdog(void *arg)
{
  lg_debug *d = (lg_debug *)arg;
  pthread_mutex_lock(&d->mu);
  while (!d->stop) {
    unsigned long long s;
    long long t0, now, wake;
    struct timespec ts;
    d->nwakeups++;
    if (d->threshold <= 0) {
      pthread_cond_wait(&d->cv, &d->mu);
      continue;
    }
    if (__atomic_load_n(&d->idle, __ATOMIC_SEQ_CST)) {
      __atomic_store_n(&d->sleeping, 1, __ATOMIC_SEQ_CST);
      if (__atomic_load_n(&d->idle, __ATOMIC_SEQ_CST) && !d->stop)
	pthread_cond_wait(&d->cv, &d->mu);	/* the hub waits: so do we */
      __atomic_store_n(&d->sleeping, 0, __ATOMIC_SEQ_CST);
      continue;
    }
    s = LOAD(&d->seq);
    t0 = LOAD(&d->t_in);
    now = lg_debug_now();
    if (!(s & 1) && LOAD(&d->reported) != s && now - t0 >= d->threshold &&
	hubbusy(d))
      blocking(d, s, t0, now);
    if (LOAD(&d->reported) == s || now - t0 >= d->threshold)
      wake = now + d->threshold;	/* poll until it switches */
    else
      wake = t0 + d->threshold;
    abstime(&ts, wake);
    pthread_cond_timedwait(&d->cv, &d->mu, &ts);
  }
  pthread_mutex_unlock(&d->mu);
  return NULL;
}

int lg_debug_startthread(lg_debug *d)
{
  int err;
  if (d->running) return 0;
  d->stop = 0;
  err = pthread_create(&d->thread, NULL, watchdog, d);
  if (err == 0) {
    d->running = 1;
    d->pid = getpid();
  }
  return err;
}

void lg_debug_stopthread(lg_debug *d)
{
  if (!d->running) return;
  if (d->pid != getpid()) {	/* a forked child: the thread stayed behind */
    d->running = 0;
    return;
  }
  pthread_mutex_lock(&d->mu);
  d->stop = 1;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
  pthread_join(d->thread, NULL);
  d->running = 0;
}

void lg_debug_setthreshold(lg_debug *d, long long ns, int fnmode)
{
  pthread_mutex_lock(&d->mu);
  d->threshold = ns;
  d->fnmode = fnmode;
  d->reported = (unsigned long long)-1;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

/* -- Life ------------------------------------------------------------------ */

void lg_debug_init(lg_debug *d, lg_vm *vm, lg_hub *hub)
{
  pthread_condattr_t ca;
  memset(d, 0, sizeof(*d));
  d->vm = vm;
  d->hub = hub;
  d->reported = (unsigned long long)-1;
  pthread_mutex_init(&d->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&d->cv, &ca);
  pthread_condattr_destroy(&ca);
}

/* Charge nobody for the time before now: every registered greenlet's
** clock starts here. */
void lg_debug_on(lg_debug *d)
{
  long long now = lg_debug_now();
  lg_greenlet *g;
  for (g = d->vm->dbghead; g; g = g->dbg.next) g->dbg.since = now;
  d->vm->dbg = d;
}

void lg_debug_close(lg_debug *d)
{
  lg_debug_stopthread(d);
  if (d->vm->dbg == d) d->vm->dbg = NULL;
  if (d->loop) {		/* a host's loop outlives us: leave it clean */
    ev_ref(d->loop);
    ev_prepare_stop(d->loop, &d->prep);
    ev_ref(d->loop);
    ev_check_stop(d->loop, &d->check);
    ev_cleanup_stop(d->loop, &d->cleanup);
    d->loop = NULL;
  }
  pthread_cond_destroy(&d->cv);
  pthread_mutex_destroy(&d->mu);
}
