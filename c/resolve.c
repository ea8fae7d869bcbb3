/*
** resolve.c — core.resolve: getaddrinfo and getnameinfo on a small pool of
** OS threads, so that a lookup parks only its greenlet, never the hub.
**
** The system resolver blocks (files, DNS, NSS modules) for as long as it
** likes, so it runs off the VM's thread.  Each hub has its own pool (no
** process globals: two VMs in two threads each have theirs):
** - a job queue under one mutex, served by at most LG_RESOLVE_THREADS
**   detached workers, started when a job finds none idle, each exiting
**   after LG_RESOLVE_IDLE seconds without work.  Workers block every
**   signal, so signals keep reaching the VM's thread;
** - one ev_async: a worker puts a finished job on the done list and sends
**   it; the callback (loop thread, no Lua) notifies each job's waiter.
**   The ev_async is unref'd while no lookup waits, so an idle pool never
**   keeps lg.run() alive, and a pending lookup does.
** Numeric hosts never reach the pool: getaddrinfo answers them at once.
**
** Who owns a job (every change of state under the mutex):
**   QUEUED     the queue; a waiter that gives up unlinks and frees it
**   RUNNING    its worker; a waiter that gives up marks it abandoned, and
**              the worker frees it when the call returns
**   DONE       the done list; the callback frees it if abandoned, else
**              marks it DELIVERED and notifies the waiter
**   DELIVERED  the waiter, which reads and frees it when it resumes
** A waiter gives up when its wait times out, or is killed, or a Timeout
** fires.  Every job is also on the pool's list of jobs until freed, so
** closing the hub frees those whose waiters will never resume.
**
** The pool outlives the hub while workers run: it counts a reference for
** the hub and one per worker, and whoever drops the last frees it.  Once
** the hub is closed, a worker whose call returns frees its job and never
** touches the loop (closed is set under the mutex before the loop dies).
**
** fork(): the child has a copy of the pool but none of its workers, and the
** mutex may have been held by one of them at the fork.  The child never
** touches that pool again (lg_hub_forked calls its fork hook, resolve_fork,
** before any use; the pool's memory is left behind on purpose) and starts a new
** one.  The lookups parked in the child, found on the pool's list of
** waited jobs (loop thread only, so whole at the fork), move to it:
** answered ones are handed over, the others run again there.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

#define LG_RESOLVE_THREADS	4	/* workers per hub, at most */
#define LG_RESOLVE_IDLE		5	/* seconds a worker waits for work */

/* lg_rjob.state */
enum { LG_RJ_QUEUED, LG_RJ_RUNNING, LG_RJ_DONE, LG_RJ_DELIVERED };

typedef struct lg_rjob {
  struct lg_rjob *next;		/* link in the queue or the done list */
  struct lg_rjob *prevj, *nextj; /* link in the pool's list of jobs */
  struct lg_resolver *pool;	/* the pool it was submitted to */
  /* Loop thread only: */
  lg_hubnode *waiter;		/* lg_hub_wait's slot */
  struct lg_rjob *nextw, **prevw; /* link in the pool's waited jobs */
  unsigned char state;		/* LG_RJ_x */
  unsigned char abandoned;	/* its waiter gave up: nobody reads it */
  unsigned char reverse;	/* getnameinfo, else getaddrinfo */
  int err;			/* what the call returned: 0 or EAI_x */
  int syserr;			/* errno after it, for EAI_SYSTEM */
  struct addrinfo hints;	/* getaddrinfo: hints */
  const char *host, *serv;	/* getaddrinfo: in data[], or NULL */
  struct addrinfo *res;		/* getaddrinfo: the answer */
  struct sockaddr_storage sa;	/* getnameinfo: the address */
  socklen_t salen;		/* getnameinfo: its length */
  char name[NI_MAXHOST];	/* getnameinfo: the answer */
  char data[];			/* host and serv, NUL-terminated */
} lg_rjob;

typedef struct lg_resolver {
  pthread_mutex_t mu;		/* guards the fields down to closed */
  pthread_cond_t cv;		/* a job was queued, or the hub closed */
  lg_rjob *head, *tail;		/* jobs to run, FIFO */
  lg_rjob *done, *donetail;	/* jobs run, for the callback, FIFO */
  lg_rjob jobs;			/* head of the list of every job */
  int njobs;			/* jobs on that list */
  int nqueued;			/* jobs to run */
  int nthreads;			/* live workers */
  int nidle;			/* workers waiting for a job */
  int refs;			/* the hub's (until closed) + one per worker */
  int closed;			/* the hub is gone: leave the loop alone */
  /* Set before the first worker starts, then read-only: */
  struct ev_loop *loop;		/* the hub's loop */
  /* Loop thread only: */
  ev_async async;		/* workers wake the loop through it */
  lg_hub *hub;			/* the hub whose greenlets wait */
  int nwaiting;			/* lookups parked: the async holds the loop */
  lg_rjob *waited;		/* their jobs */
} lg_resolver;


/* -- Jobs ------------------------------------------------------------------ */

/* Unlink and free j (mutex held, or the pool not shared yet). */
static void resolve_freejob(lg_resolver *r, lg_rjob *j)
{
  j->prevj->nextj = j->nextj;
  j->nextj->prevj = j->prevj;
  r->njobs--;
  if (j->res) freeaddrinfo(j->res);
  free(j);
}

/* Put j on r's list of jobs (mutex held). */
static void resolve_linkjob(lg_resolver *r, lg_rjob *j)
{
  j->pool = r;
  j->prevj = &r->jobs;
  j->nextj = r->jobs.nextj;
  r->jobs.nextj->prevj = j;
  r->jobs.nextj = j;
  r->njobs++;
}

/* Make the call the job is for: the only blocking step (worker thread). */
static void resolve_call(lg_rjob *j)
{
  if (j->reverse)
    j->err = getnameinfo((struct sockaddr *)&j->sa, j->salen, j->name,
			 sizeof(j->name), NULL, 0, NI_NAMEREQD);
  else
    j->err = getaddrinfo(j->host, j->serv, &j->hints, &j->res);
  j->syserr = j->err == EAI_SYSTEM ? errno : 0;
}

/* -- Workers ---------------------------------------------------------------- */

static void resolve_destroy(lg_resolver *r)
{
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

static void *resolve_worker(void *arg)
{
  lg_resolver *r = (lg_resolver *)arg;
  lg_rjob *j;
  int last;
  pthread_mutex_lock(&r->mu);
  while (!r->closed) {
    if ((j = r->head) == NULL) {
      struct timespec until;
      int e;
      clock_gettime(CLOCK_MONOTONIC, &until);
      until.tv_sec += LG_RESOLVE_IDLE;
      r->nidle++;
      e = pthread_cond_timedwait(&r->cv, &r->mu, &until);
      r->nidle--;
      if (e == ETIMEDOUT && r->head == NULL) break;	/* idle too long */
      continue;
    }
    r->head = j->next;
    if (r->head == NULL) r->tail = NULL;
    r->nqueued--;
    j->state = LG_RJ_RUNNING;
    pthread_mutex_unlock(&r->mu);
    resolve_call(j);
    pthread_mutex_lock(&r->mu);
    if (j->abandoned || r->closed) {	/* nobody waits for it */
      resolve_freejob(r, j);
      continue;
    }
    j->state = LG_RJ_DONE;
    j->next = NULL;
    if (r->donetail) r->donetail->next = j;
    else r->done = j;
    r->donetail = j;
    ev_async_send(r->loop, &r->async);	/* coalesced by libev */
  }
  r->nthreads--;
  last = --r->refs == 0;
  pthread_mutex_unlock(&r->mu);
  if (last) resolve_destroy(r);	/* the hub closed: we were the last */
  return NULL;
}

/* Start a worker (mutex held).  It inherits a full signal mask, so no
** signal is ever delivered to it.  0 or an errno. */
static int resolve_spawn(lg_resolver *r)
{
  pthread_attr_t attr;
  pthread_t t;
  sigset_t all, old;
  int e;
  if ((e = pthread_attr_init(&attr)) != 0) return e;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  e = pthread_create(&t, &attr, resolve_worker, r);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (e == 0) {
    r->nthreads++;
    r->refs++;
  }
  return e;
}

/* Queue j, starting a worker if every live one is busy.  0, or an errno
** when no worker exists and none can start (j is the caller's then). */
static int resolve_submit(lg_resolver *r, lg_rjob *j)
{
  int e = 0;
  pthread_mutex_lock(&r->mu);
  resolve_linkjob(r, j);			/* on the list of jobs */
  if (r->nqueued + 1 > r->nidle && r->nthreads < LG_RESOLVE_THREADS)
    e = resolve_spawn(r);
  if (e != 0 && r->nthreads > 0) e = 0;	/* the live ones will get to it */
  if (e == 0) {
    j->state = LG_RJ_QUEUED;
    j->next = NULL;
    if (r->tail) r->tail->next = j;
    else r->head = j;
    r->tail = j;
    r->nqueued++;
    pthread_cond_signal(&r->cv);
  } else {
    j->prevj->nextj = j->nextj;		/* off the list, not freed */
    j->nextj->prevj = j->prevj;
    r->njobs--;
  }
  pthread_mutex_unlock(&r->mu);
  return e;
}

/* -- Loop side ------------------------------------------------------------ */

/* Workers finished jobs: hand each to its waiter (no Lua here). */
static void resolve_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
  lg_resolver *r = (lg_resolver *)w->data;
  lg_rjob *j, *next, *ready = NULL, **tail = &ready;
  (void)loop; (void)revents;
  pthread_mutex_lock(&r->mu);
  for (j = r->done; j; j = next) {
    next = j->next;
    if (j->abandoned) {
      resolve_freejob(r, j);
    } else {
      j->state = LG_RJ_DELIVERED;
      j->next = NULL;
      *tail = j;
      tail = &j->next;
    }
  }
  r->done = r->donetail = NULL;
  pthread_mutex_unlock(&r->mu);
  /* A delivered job is its waiter's; the waiter cannot run (and free it)
  ** before the hub resumes it, after this callback. */
  for (j = ready; j; j = j->next) lg_hub_notify(r->hub, j->waiter);
}

/* One more (d = 1) or one fewer (d = -1) lookup parked: the ev_async keeps
** the loop alive exactly while some lookup is parked. */
static void resolve_hold(lg_resolver *r, int d)
{
  if (d > 0 && r->nwaiting++ == 0) ev_ref(r->loop);
  if (d < 0 && --r->nwaiting == 0) ev_unref(r->loop);
}

static void resolve_fork(lg_hub *hub);
static void resolve_close(lg_hub *hub);

/* A new pool for the hub, or NULL without memory. */
static lg_resolver *resolve_new(lg_hub *hub)
{
  lg_resolver *r;
  pthread_condattr_t ca;
  if ((r = (lg_resolver *)calloc(1, sizeof(*r))) == NULL) return NULL;
  pthread_mutex_init(&r->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&r->cv, &ca);
  pthread_condattr_destroy(&ca);
  r->jobs.prevj = r->jobs.nextj = &r->jobs;
  r->refs = 1;
  r->loop = hub->loop;
  r->hub = hub;
  ev_async_init(&r->async, resolve_async_cb);
  r->async.data = r;
  ev_async_start(r->loop, &r->async);
  ev_unref(r->loop);				/* idle: does not hold the loop */
  hub->resolver = r;
  lg_hub_hook(hub, resolve_close, resolve_fork);	/* once per hub */
  return r;
}

/* The hub's pool, made on first use. */
static lg_resolver *resolve_get(lua_State *L, lg_hub *hub)
{
  lg_resolver *r = (lg_resolver *)hub->resolver;
  if (r == NULL && (r = resolve_new(hub)) == NULL)
    luaL_error(L, "not enough memory");
  return r;
}

/* A waiter's job, on the pool's list of waited jobs (loop thread). */
static void resolve_waitlink(lg_resolver *r, lg_rjob *j)
{
  j->nextw = r->waited;
  j->prevw = &r->waited;
  if (r->waited) r->waited->prevw = &j->nextw;
  r->waited = j;
}

static void resolve_waitunlink(lg_rjob *j)
{
  *j->prevw = j->nextw;
  if (j->nextw) j->nextw->prevw = j->prevw;
}

/* In a child after fork(): move the job of a parked lookup from the
** parent's pool to r (NULL: none could be made).  An answered job is
** handed over as it is; one in a queue or a call is run again, and if that
** cannot be, its waiter gets the error. */
static void resolve_adopt(lg_hub *hub, lg_resolver *r, lg_rjob *j)
{
  int e = ENOMEM;
  j->pool = r;			/* NULL: resolve_orphan frees it */
  if (r != NULL) {
    resolve_waitlink(r, j);
    resolve_hold(r, 1);
  }
  if (j->state != LG_RJ_DONE && j->state != LG_RJ_DELIVERED) {
    j->res = NULL;		/* what a call cut by the fork left: leaked */
    j->err = 0;
    if (r != NULL && (e = resolve_submit(r, j)) == 0) return;
    j->err = EAI_SYSTEM;		/* its waiter fails with e */
    j->syserr = e;
  }
  if (r != NULL) {		/* on r's list: its waiter frees it there */
    pthread_mutex_lock(&r->mu);
    resolve_linkjob(r, j);
    pthread_mutex_unlock(&r->mu);
  }
  j->state = LG_RJ_DELIVERED;
  lg_hub_notify(hub, j->waiter);
}

static void resolve_fork(lg_hub *hub)
{
  lg_resolver *old = (lg_resolver *)hub->resolver, *r;
  lg_rjob *j, *next;
  if (old == NULL) return;
  hub->resolver = NULL;
  if (old->nwaiting == 0) ev_ref(old->loop);	/* undo the unref, then stop */
  ev_async_stop(old->loop, &old->async);
  r = resolve_new(hub);
  for (j = old->waited; j; j = next) {
    next = j->nextw;
    resolve_adopt(hub, r, j);
  }
}

/* The hub's close hook: at its __gc, before its loop is destroyed.  Frees
** every job no worker runs; workers still inside a call free theirs when it
** returns, and the last one out frees the pool. */
static void resolve_close(lg_hub *hub)
{
  lg_resolver *r = (lg_resolver *)hub->resolver;
  lg_rjob *j, *next;
  int last;
  if (r == NULL) return;
  hub->resolver = NULL;
  if (r->nwaiting == 0) ev_ref(r->loop);	/* undo the unref, then stop */
  ev_async_stop(r->loop, &r->async);
  pthread_mutex_lock(&r->mu);
  r->closed = 1;
  for (j = r->jobs.nextj; j != &r->jobs; j = next) {
    next = j->nextj;
    if (j->state == LG_RJ_RUNNING) j->abandoned = 1;	/* its worker frees it */
    else resolve_freejob(r, j);
  }
  r->head = r->tail = r->done = r->donetail = NULL;
  r->nqueued = 0;
  pthread_cond_broadcast(&r->cv);		/* idle workers exit now */
  last = --r->refs == 0;
  pthread_mutex_unlock(&r->mu);
  if (last) resolve_destroy(r);
}

/* -- Bindings -------------------------------------------------------------- */

/* getaddrinfo's errors in LuaSocket 3's words (socket_gaistrerror), and
** their EAI_x names: the third value of the fail return. */
static const struct { int err; const char *name, *msg; } resolve_errs[] = {
  { EAI_AGAIN, "EAI_AGAIN", "temporary failure in name resolution" },
  { EAI_BADFLAGS, "EAI_BADFLAGS", "invalid value for ai_flags" },
  { EAI_FAIL, "EAI_FAIL", "non-recoverable failure in name resolution" },
  { EAI_FAMILY, "EAI_FAMILY", "ai_family not supported" },
  { EAI_MEMORY, "EAI_MEMORY", "memory allocation failure" },
  { EAI_NONAME, "EAI_NONAME", "host or service not provided, or not known" },
  { EAI_OVERFLOW, "EAI_OVERFLOW", "argument buffer overflow" },
  { EAI_SERVICE, "EAI_SERVICE", "service not supported for socket type" },
  { EAI_SOCKTYPE, "EAI_SOCKTYPE", "ai_socktype not supported" },
#ifdef EAI_NODATA		/* LuaSocket: gai_strerror's words for these */
  { EAI_NODATA, "EAI_NODATA", NULL },
#endif
#ifdef EAI_ADDRFAMILY		/* no address in the family asked for */
  { EAI_ADDRFAMILY, "EAI_ADDRFAMILY", NULL },
#endif
  { 0, NULL, NULL }
};

/* Push nil, message, name for what a call returned (lg_lib_fail's
** convention; EAI_SYSTEM is the errno it left). */
static int resolve_fail(lua_State *L, int err, int syserr)
{
  int i;
  if (err == EAI_SYSTEM) return lg_lib_fail(L, syserr);
  for (i = 0; resolve_errs[i].name; i++)
    if (resolve_errs[i].err == err)
      return lg_lib_failname(L, resolve_errs[i].msg ? resolve_errs[i].msg
			     : gai_strerror(err), resolve_errs[i].name);
  return lg_lib_failname(L, gai_strerror(err), "EAI_UNKNOWN");
}

/* Push the list of { family, addr, port, socktype } for res, and its
** canonical name if canon.  Nothing usable: fails as EAI_NONAME. */
static int resolve_pushlist(lua_State *L, const struct addrinfo *res, int canon)
{
  const struct addrinfo *ai;
  int n = 0;
  lua_newtable(L);					/* list */
  for (ai = res; ai; ai = ai->ai_next) {
    char addr[INET6_ADDRSTRLEN + 12];
    const char *family;
    int port;
    if (ai->ai_family == AF_INET) {
      const struct sockaddr_in *sin = (const struct sockaddr_in *)(void *)ai->ai_addr;
      inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
      port = ntohs(sin->sin_port);
      family = "inet";
    } else if (ai->ai_family == AF_INET6) {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(void *)ai->ai_addr;
      inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
      if (sin6->sin6_scope_id != 0)		/* link-local: keep the zone */
	snprintf(addr + strlen(addr), sizeof(addr) - strlen(addr), "%%%u",
		 (unsigned)sin6->sin6_scope_id);
      port = ntohs(sin6->sin6_port);
      family = "inet6";
    } else {
      continue;
    }
    lua_createtable(L, 0, 4);				/* list e */
    lua_pushstring(L, family);
    lua_setfield(L, -2, "family");
    lua_pushstring(L, addr);
    lua_setfield(L, -2, "addr");
    lua_pushinteger(L, port);
    lua_setfield(L, -2, "port");
    lua_pushstring(L, ai->ai_socktype == SOCK_DGRAM ? "dgram" : "stream");
    lua_setfield(L, -2, "socktype");
    lua_rawseti(L, -2, ++n);				/* list */
  }
  if (n == 0) {
    lua_pop(L, 1);
    return resolve_fail(L, EAI_NONAME, 0);
  }
  if (!canon) return 1;
  if (res->ai_canonname) lua_pushstring(L, res->ai_canonname);	/* list cn */
  else lua_pushnil(L);
  return 2;
}

/* The pool of the hub, for a lookup by the running greenlet. */
static lg_resolver *resolve_pool(lua_State *L, lg_hub *hub)
{
  if (hub->vm->current == hub->hubg)
    luaL_error(L, "the hub cannot wait for a lookup");
  lg_hub_checkfork(hub);		/* never the parent's pool in a child */
  return resolve_get(L, hub);
}

/* A lookup parked at a fork() whose child could not make a new pool: j is
** on no list.  Raise what broke the wait, or fail. */
static int resolve_orphan(lua_State *L, lg_rjob *j, int n)
{
  if (j->res) freeaddrinfo(j->res);
  free(j);
  if (n < 0) return lg_greenlet_raise(L);
  lua_settop(L, 0);
  lg_greenlet_resync(L);
  return lg_lib_failmsg(L, "not enough memory", ENOMEM);
}

/* Run j on the pool and park until it is answered or timeout seconds pass
** (the stack is empty).  Results like the bindings, or raises what broke
** the wait (a kill, a Timeout). */
static int resolve_lookup(lua_State *L, lg_resolver *r, lg_rjob *j,
			  double timeout, int canon)
{
  lg_hub *hub = r->hub;
  int n, e, delivered;
  if ((e = resolve_submit(r, j)) != 0) {
    free(j);
    return lg_lib_failmsg(L, lua_pushfstring(L, "cannot start a resolver "
					     "thread: %s", strerror(e)), e);
  }
  resolve_hold(r, 1);
  resolve_waitlink(r, j);
  n = lg_hub_wait(L, hub, timeout, &j->waiter);
  if ((r = j->pool) == NULL) return resolve_orphan(L, j, n);
  resolve_waitunlink(j);		/* r: another pool after a fork() */
  resolve_hold(r, -1);
  pthread_mutex_lock(&r->mu);
  delivered = j->state == LG_RJ_DELIVERED;	/* else give it up: */
  if (!delivered && j->state == LG_RJ_QUEUED) {
    lg_rjob **p = &r->head, *prev = NULL;
    while (*p != j) { prev = *p; p = &(*p)->next; }
    *p = j->next;
    if (r->tail == j) r->tail = prev;
    r->nqueued--;
    resolve_freejob(r, j);
  } else if (!delivered) {
    j->abandoned = 1;			/* RUNNING or DONE: freed there */
  }
  pthread_mutex_unlock(&r->mu);
  if (n < 0) {				/* killed, or a Timeout fired */
    if (delivered) {
      pthread_mutex_lock(&r->mu);
      resolve_freejob(r, j);
      pthread_mutex_unlock(&r->mu);
    }
    return lg_greenlet_raise(L);
  }
  /* Back from a switch: re-sync LuaJIT's cur_L before anything that may
  ** raise (DESIGN rule 2).  Should pushing fail for memory, the job stays
  ** on the list of jobs and is freed when the hub closes. */
  lua_settop(L, 0);
  lg_greenlet_resync(L);
  if (!delivered) {
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  if (j->err != 0) n = resolve_fail(L, j->err, j->syserr);
  else if (j->reverse) lua_pushstring(L, j->name), n = 1;
  else n = resolve_pushlist(L, j->res, canon);
  pthread_mutex_lock(&r->mu);
  resolve_freejob(r, j);
  pthread_mutex_unlock(&r->mu);
  return n;
}

/* A host getaddrinfo answers without looking anything up: none (passive
** or loopback), or an IPv4 or IPv6 address in text. */
static int resolve_isnumeric(const char *host)
{
  unsigned char buf[sizeof(struct in6_addr)];
  return host == NULL || inet_pton(AF_INET, host, buf) == 1 ||
	 inet_pton(AF_INET6, host, buf) == 1;
}

static int resolve_isport(const char *serv)
{
  if (serv == NULL) return 1;
  if (*serv == '\0') return 0;
  for (; *serv; serv++)
    if (*serv < '0' || *serv > '9') return 0;
  return 1;
}

static const char *const resolve_families[] = { "any", "inet", "inet6", NULL };
static const int resolve_afs[] = { AF_UNSPEC, AF_INET, AF_INET6 };
static const char *const resolve_socktypes[] = { "stream", "dgram", NULL };
static const int resolve_sts[] = { SOCK_STREAM, SOCK_DGRAM };

/* getaddrinfo(host, serv, family, socktype, passive, timeout, canon)
**   -> list [, canonname] | nil, err
** host: string or nil; serv: port or service name, or nil; family "any"
** (nil), "inet", "inet6"; socktype "stream" (nil) or "dgram"; timeout in
** seconds (nil: none). */
static int resolve_getaddrinfo(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  size_t hl = 0, sl = 0;
  const char *host = luaL_optlstring(L, 1, NULL, &hl);
  const char *serv = luaL_optlstring(L, 2, NULL, &sl);
  int family = resolve_afs[luaL_checkoption(L, 3, "any", resolve_families)];
  int socktype = resolve_sts[luaL_checkoption(L, 4, "stream", resolve_socktypes)];
  int passive = lua_toboolean(L, 5);
  double timeout = lg_lib_optseconds(L, 6);
  int canon = lua_toboolean(L, 7);
  struct addrinfo hints;
  lg_resolver *r;
  lg_rjob *j;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = family;
  hints.ai_socktype = socktype;
  hints.ai_flags = (passive ? AI_PASSIVE : 0) | (canon ? AI_CANONNAME : 0);
  if (resolve_isnumeric(host) && resolve_isport(serv)) {	/* no lookup */
    struct addrinfo *res;
    int err, n;
    hints.ai_flags |= AI_NUMERICSERV | (host ? AI_NUMERICHOST : 0);
    err = getaddrinfo(host, serv, &hints, &res);
    if (err != 0) return resolve_fail(L, err, errno);
    n = resolve_pushlist(L, res, canon);
    freeaddrinfo(res);
    return n;
  }
  r = resolve_pool(L, hub);
  j = (lg_rjob *)malloc(sizeof(lg_rjob) + hl + 1 + sl + 1);
  if (j == NULL) luaL_error(L, "not enough memory");
  memset(j, 0, sizeof(*j));
  j->hints = hints;
  if (host) j->host = memcpy(j->data, host, hl + 1);
  if (serv) j->serv = memcpy(j->data + hl + 1, serv, sl + 1);
  lua_settop(L, 0);
  return resolve_lookup(L, r, j, timeout, canon);
}

/* getnameinfo(addr [, timeout]) -> name | nil, err: the name of an IPv4 or
** IPv6 address in text (reverse lookup: /etc/hosts, then DNS). */
static int resolve_getnameinfo(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  const char *addr = luaL_checkstring(L, 1);
  double timeout = lg_lib_optseconds(L, 2);
  struct sockaddr_storage sa;
  socklen_t salen;
  lg_resolver *r;
  lg_rjob *j;
  memset(&sa, 0, sizeof(sa));
  if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)(void *)&sa)->sin_addr) == 1) {
    sa.ss_family = AF_INET;
    salen = sizeof(struct sockaddr_in);
  } else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)(void *)&sa)->sin6_addr) == 1) {
    sa.ss_family = AF_INET6;
    salen = sizeof(struct sockaddr_in6);
  } else {
    return luaL_argerror(L, 1, "IPv4 or IPv6 address expected");
  }
  r = resolve_pool(L, hub);
  j = (lg_rjob *)malloc(sizeof(lg_rjob));
  if (j == NULL) luaL_error(L, "not enough memory");
  memset(j, 0, sizeof(*j));
  j->reverse = 1;
  j->sa = sa;
  j->salen = salen;
  lua_settop(L, 0);
  return resolve_lookup(L, r, j, timeout, 0);
}

/* numeric(s) -> "inet" | "inet6" | nil: is s an address in text (no
** lookup needed)?  lgreen.socket asks it too. */
static int resolve_numeric(lua_State *L)
{
  const char *s = luaL_checkstring(L, 1);
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, s, buf) == 1) lua_pushliteral(L, "inet");
  else if (inet_pton(AF_INET6, s, buf) == 1) lua_pushliteral(L, "inet6");
  else lua_pushnil(L);
  return 1;
}

/* gethostname() -> this machine's name | nil, err */
static int resolve_gethostname(lua_State *L)
{
  char name[257];
  if (gethostname(name, sizeof(name) - 1) != 0) return lg_lib_fail(L, errno);
  name[sizeof(name) - 1] = '\0';
  lua_pushstring(L, name);
  return 1;
}

/* stats() -> { threads, idle, queued, jobs, waiting }: the hub's pool now. */
static int resolve_stats(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_resolver *r;
  int threads = 0, idle = 0, queued = 0, jobs = 0, waiting = 0;
  lg_hub_checkfork(hub);
  r = (lg_resolver *)hub->resolver;
  if (r) {
    pthread_mutex_lock(&r->mu);
    threads = r->nthreads;
    idle = r->nidle;
    queued = r->nqueued;
    jobs = r->njobs;
    pthread_mutex_unlock(&r->mu);
    waiting = r->nwaiting;
  }
  lua_createtable(L, 0, 5);				/* t */
  lua_pushinteger(L, threads);
  lua_setfield(L, -2, "threads");
  lua_pushinteger(L, idle);
  lua_setfield(L, -2, "idle");
  lua_pushinteger(L, queued);
  lua_setfield(L, -2, "queued");
  lua_pushinteger(L, jobs);
  lua_setfield(L, -2, "jobs");
  lua_pushinteger(L, waiting);
  lua_setfield(L, -2, "waiting");
  return 1;
}

static const luaL_Reg resolve_funcs[] = {
  { "getaddrinfo", resolve_getaddrinfo },
  { "getnameinfo", resolve_getnameinfo },
  { "numeric", resolve_numeric },
  { "gethostname", resolve_gethostname },
  { "stats", resolve_stats },
  { NULL, NULL }
};

/* Push the core.resolve table. */
void lg_open_resolve(lua_State *L)
{
  lg_lib_newtable(L, resolve_funcs);
}
