/*
** host.c — the embedding API (lgreen.h) and the hub's side of a host's
** event loop: the watchers lgreen puts on a libev loop it is handed
** (lgreen_setloop), and what undoes them at lua_close.
**
** On a host's loop the hub runs no loop of its own: the host runs ev_run,
** libev callbacks queue greenlets, and an ev_prepare here runs them before
** the loop next polls (the prepare: an ev_check would run before the
** callbacks of its own iteration, which libev invokes last-queued first).
** While greenlets are queued an ev_idle keeps the loop from blocking or
** ending (ready greenlets are work); the prepare is unref'd: it keeps no
** ev_run alive by itself.
**
** A host with another poller watches the hub's own epoll fd and wakes by
** the deadlines tracked here (lgreen_backend_fd, lgreen_next_timeout).
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lgreen.h"
#include "lib.h"

typedef struct lg_hostw {
  ev_prepare prepare;		/* runs the ready greenlets */
  ev_idle idle;			/* active while some are ready */
} lg_hostw;

/* -- Embedding API ------------------------------------------------------------ */

/* Open lgreen.core in L's VM if it is not yet. */
static void host_require(lua_State *L)
{
  if (lg_hub_find(L) != NULL) return;
  lua_pushcfunction(L, luaopen_lgreen_core);
  lua_call(L, 0, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");	/* M loaded */
  if (lua_istable(L, -1)) {
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "lgreen.core");
  }
  lua_pop(L, 2);
}

/* The hub of L's VM, with its loop, for a host's call. */
static lg_hub *host_hub(lua_State *L)
{
  lg_hub *hub;
  host_require(L);
  hub = lg_hub_find(L);
  lg_hub_ready(L, hub);
  return hub;
}

static int host_step_c(lua_State *L)
{
  lg_hub *hub = lg_hub_find(L);
  int n;
  lg_hub_ready(L, hub);
  n = lg_hub_step(L, hub);
  return lg_lib_ret(L, n);
}

LGREEN_API int lgreen_step(lua_State *L)
{
  int more;
  host_require(L);
  lua_pushcfunction(L, host_step_c);
  if (lua_pcall(L, 0, 1, 0) != 0) return -1;	/* message on top */
  more = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return more;
}

LGREEN_API int lgreen_backend_fd(lua_State *L)
{
  return lg_host_backend_fd(host_hub(L));
}

LGREEN_API double lgreen_next_timeout(lua_State *L)
{
  return lg_host_next_timeout(host_hub(L));
}

LGREEN_API struct ev_loop *lgreen_getloop(lua_State *L)
{
  return host_hub(L)->loop;
}

LGREEN_API int lgreen_version(void)
{
  return LGREEN_VERSION_NUM;
}

LGREEN_API void lgreen_onswitch(lua_State *L, lgreen_SwitchFn fn, void *ud)
{
  lg_vm *vm;
  host_require(L);
  vm = lg_hub_find(L)->vm;
  vm->onswitch = NULL;		/* never the old function with the new ud */
  vm->onswitch_ud = ud;
  vm->onswitch = fn;
}

/* -- A foreign poller: deadlines and the backend fd ------------------------ */

/* libev does not tell when its next timer is due, so a host polling our
** backend fd learns it from a heap of the deadlines we set.  A stopped
** timer's deadline stays until it passes: at worst one early wake-up. */
void lg_host_track(lg_hub *hub, double after)
{
  size_t i;
  double at;
  if (!hub->hostmode) return;
  if (hub->ndeadlines == hub->deadlinescap) {
    size_t cap = hub->deadlinescap ? hub->deadlinescap * 2 : 64;
    double *d = realloc(hub->deadlines, cap * sizeof(double));
    if (d == NULL) return;	/* the host wakes at its own pace then */
    hub->deadlines = d;
    hub->deadlinescap = cap;
  }
  at = ev_now(hub->loop) + after;
  for (i = hub->ndeadlines++; i > 0 && hub->deadlines[(i - 1) / 2] > at; i = (i - 1) / 2)
    hub->deadlines[i] = hub->deadlines[(i - 1) / 2];
  hub->deadlines[i] = at;
}

static void host_untrack_top(lg_hub *hub)
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

double lg_host_next_timeout(lg_hub *hub)
{
  double now;
  hub->hostmode = 1;
  if (hub->head) return 0;
  ev_now_update(hub->loop);
  now = ev_now(hub->loop);
  while (hub->ndeadlines > 0 && hub->deadlines[0] <= now) host_untrack_top(hub);
  if (hub->ndeadlines == 0) return hub->nparked > 0 ? 0.05 : -1;
  return hub->deadlines[0] - now;
}

static void host_noio(struct ev_loop *loop, ev_io *w, int revents)
{
  (void)loop; (void)w; (void)revents;
}

/* The epoll fd of our loop: the one eventpoll fd of this process that
** already holds an fd we just gave our loop (adding it again: EEXIST). */
int lg_host_backend_fd(lg_hub *hub)
{
  int efd, found = -1;
  ev_io probe;
  DIR *d;
  struct dirent *e;
  hub->hostmode = 1;
  lg_hub_checkfork(hub);
  if (hub->backendfd >= 0 || !hub->ownloop) return hub->backendfd;
  if (ev_backend(hub->loop) != EVBACKEND_EPOLL) return -1;
  if ((efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) return -1;
  ev_io_init(&probe, host_noio, efd, EV_READ);
  ev_io_start(hub->loop, &probe);
  ev_run(hub->loop, EVRUN_NOWAIT);	/* libev adds efd to its epoll set */
  if ((d = opendir("/proc/self/fd")) != NULL) {
    while (found < 0 && (e = readdir(d)) != NULL) {
      char path[300], link[64];
      ssize_t n;
      int fd = atoi(e->d_name);
      struct epoll_event ev;
      snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
      n = readlink(path, link, sizeof(link) - 1);
      if (n <= 0) continue;
      link[n] = 0;
      if (strcmp(link, "anon_inode:[eventpoll]") != 0) continue;
      memset(&ev, 0, sizeof(ev));
      if (epoll_ctl(fd, EPOLL_CTL_ADD, efd, &ev) == 0)
	epoll_ctl(fd, EPOLL_CTL_DEL, efd, &ev);	/* not ours: undo */
      else if (errno == EEXIST)
	found = fd;
    }
    closedir(d);
  }
  ev_io_stop(hub->loop, &probe);
  ev_run(hub->loop, EVRUN_NOWAIT);
  close(efd);
  hub->backendfd = found;
  return found;
}

/* -- The host's libev loop -------------------------------------------------- */

/* Before the host's loop polls: run what its callbacks made ready.  Only
** from main (a greenlet that runs ev_run itself gets no step). */
static void host_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
  lg_hub *hub = (lg_hub *)w->data;
  lg_hostw *h = (lg_hostw *)hub->host;
  lua_State *L = hub->vm->main->L;
  (void)revents;
  if (hub->head == NULL || hub->vm->current != hub->vm->main || hub->stepping)
    return;
  if (lgreen_step(L) < 0) {
    fprintf(stderr, "lgreen: %s\n", lua_tostring(L, -1));
    fflush(stderr);
    lua_pop(L, 1);
  }
  if (hub->head == NULL) ev_idle_stop(loop, &h->idle);
}

/* The loop did not block: the prepare runs the queue next; nothing here. */
static void host_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
  lg_hub *hub = (lg_hub *)w->data;
  (void)revents;
  if (hub->head == NULL) ev_idle_stop(loop, w);
}

void lg_host_kick(lg_hub *hub)
{
  lg_hostw *h = (lg_hostw *)hub->host;
  if (!ev_is_active(&h->idle)) ev_idle_start(hub->loop, &h->idle);
}

LGREEN_API int lgreen_setloop(lua_State *L, struct ev_loop *loop)
{
  lg_hub *hub;
  lg_hostw *h;
  host_require(L);
  if (lg_hub_setloop(L, loop) < 0) return -1;
  hub = lg_hub_find(L);
  if ((h = (lg_hostw *)calloc(1, sizeof(*h))) == NULL) return -1;
  ev_prepare_init(&h->prepare, host_prepare_cb);
  h->prepare.data = hub;
  ev_prepare_start(loop, &h->prepare);
  ev_unref(loop);
  ev_idle_init(&h->idle, host_idle_cb);
  h->idle.data = hub;
  hub->host = h;
  hub->hostkick = 1;
  return 0;
}

void lg_host_checkblock(lua_State *L, lg_hub *hub)
{
  if (hub->loop != NULL && ev_depth(hub->loop) > 0 &&
      hub->vm->current == hub->vm->main)
    luaL_error(L, "lgreen: cannot block the main greenlet inside the host's "
	       "loop; spawn a green thread");
}

/* Without a loop of our own, ev_run cannot tell: what waits on a watcher
** (timers, I/O and C-side waits, Timeouts) is ours to count. */
int lg_host_alive(lg_hub *hub)
{
  return hub->nparked > 0 || hub->nwaits > 0 || hub->timeouts != NULL;
}

/* Stop the watchers of the greenlets anchored in the hub (a park's timer,
** a wait_io's ev_io).  The sockets' and signals' own __gc stop theirs. */
static void host_stopnodes(lua_State *L, lg_hub *hub)
{
  lua_rawgeti(L, LUA_REGISTRYINDEX, hub->anchors);	/* A */
  lua_pushnil(L);					/* A k */
  while (lua_next(L, -2)) {				/* A k v */
    lg_greenlet *g = lg_greenlet_test(L, -1);
    lg_hubnode *n = g ? lg_node(g) : NULL;
    if (n != NULL && n->g == g) {
      if (ev_is_active(&n->timer)) ev_timer_stop(hub->loop, &n->timer);
      if (ev_is_active(&n->io)) ev_io_stop(hub->loop, &n->io);
    }
    lua_pop(L, 1);					/* A k */
  }
  lua_pop(L, 1);
}

/* At the hub's __gc: nothing of ours may stay on the host's loop, which
** goes on running after lua_close. */
void lg_host_close(lua_State *L, lg_hub *hub)
{
  lg_hostw *h = (lg_hostw *)hub->host;
  lg_timeout *t;
  hub->hostkick = 0;
  if (h != NULL) {
    ev_ref(hub->loop);
    ev_prepare_stop(hub->loop, &h->prepare);
    ev_idle_stop(hub->loop, &h->idle);
    free(h);
    hub->host = NULL;
  }
  for (t = hub->timeouts; t != NULL; t = t->next)
    if (ev_is_active(&t->timer)) ev_timer_stop(hub->loop, &t->timer);
  host_stopnodes(L, hub);
}

/* libev keeps one loop per signal, and aborts when a second one asks.  Is
** sig's handler libev's, and ours (an lg.signal watcher, the hub's Ctrl-C)
** not the reason?  On a host's loop it may be the host's watcher in that
** same loop, which libev allows: no check there. */
int lg_host_sigclash(lg_hub *hub, int sig)
{
  struct sigaction cur;
  Dl_info info;
  void *at;
  if (!hub->ownloop || hub->sigours[sig] > 0) return 0;
  if (sig == SIGINT && ev_is_active(&hub->sigint)) return 0;
  if (sigaction(sig, NULL, &cur) != 0) return 0;
  at = (cur.sa_flags & SA_SIGINFO) ? (void *)cur.sa_sigaction : (void *)cur.sa_handler;
  if (cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN) return 0;
  if (!dladdr(at, &info) || info.dli_fname == NULL) return 0;
  return strstr(info.dli_fname, "libev") != NULL;
}
