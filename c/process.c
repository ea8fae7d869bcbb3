/*
** process.c — core.process: spawn a child with pipes, wait for exactly that
** child without blocking the hub, signal it; watch signals.
**
** Why not libev's ev_child: it works only in libev's default loop, and its
** SIGCHLD handler reaps every child of the process (waitpid(-1)), stealing
** the exit statuses of io.popen, os.execute and the host's own children;
** each hub has a loop of its own.  So a child is watched through a pidfd
** (pidfd_open, Linux 5.3), which turns readable when the child exits, with
** an ev_io on the hub, and reaped with waitpid(pid): that pid only.  Where
** there is no pidfd (ENOSYS, a seccomp filter), a backoff timer polls
** waitpid(pid, WNOHANG).
**
** A child's pid is ours until we reap it; after that kill() refuses rather
** than signal whatever process got the pid next.  A child collected without
** having been waited for is reaped at a later spawn (the orphans table).
**
** Signals: an ev_signal per watched signal, in a userdata; its callback
** only counts and wakes the greenlet waiting in signal_wait (no Lua API in
** a libev callback).  libev allows one loop per signal per process: two
** VMs must not watch the same signal at once.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>	/* environ, under _GNU_SOURCE: declared before
			   lib.h makes what follows hidden */

#include "lib.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434	/* one number on every architecture */
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal	424
#endif

#define LG_CHILD_META	"lgreen.Child"
#define LG_SIGNAL_META	"lgreen.Signal"
#define LG_ORPHANS	"lgreen.orphans"	/* registry: pid -> true */
#define LG_POLL_MIN	0.001	/* seconds: first waitpid poll without pidfd */
#define LG_POLL_MAX	0.1	/* the backoff stops doubling here */

/* lg_child.state */
enum { LG_CH_RUNNING, LG_CH_REAPED, LG_CH_LOST };

typedef struct lg_child {
  pid_t pid;			/* the child; ours while LG_CH_RUNNING */
  int pidfd;			/* its pidfd, or -1: poll waitpid instead */
  int status;			/* wait status, once LG_CH_REAPED */
  int nwait;			/* greenlets in wait: the pidfd stays open */
  unsigned char state;		/* LG_CH_x; LOST: reaped by someone else */
  unsigned char leader;		/* leads a session (setsid): kill the group */
} lg_child;

typedef struct lg_signal {
  ev_signal w;			/* the watcher; w.data: this */
  lg_hub *hub;			/* the hub whose loop runs it */
  lg_hubnode *waiter;		/* the greenlet in signal_wait, or NULL */
  struct sigaction old;		/* disposition before us: restored at stop */
  unsigned count;		/* deliveries signal_wait has not taken */
  unsigned char active;		/* started, not stopped yet */
} lg_signal;

/* -- Children ------------------------------------------------------------- */

static lg_child *child_check(lua_State *L, int idx)
{
  return (lg_child *)luaL_checkudata(L, idx, LG_CHILD_META);
}

/* Reap c if it has exited: 1 (c holds the outcome: REAPED or LOST), 0 if
** it runs still.  Only its own pid: other children are not ours to reap. */
static int child_reap(lg_child *c)
{
  int st;
  pid_t r;
  if (c->state != LG_CH_RUNNING) return 1;
  do r = waitpid(c->pid, &st, WNOHANG); while (r < 0 && errno == EINTR);
  if (r == 0) return 0;
  if (r < 0) {			/* ECHILD: a waitpid(-1) elsewhere took it */
    c->state = LG_CH_LOST;
    return 1;
  }
  c->status = st;
  c->state = LG_CH_REAPED;
  return 1;
}

/* Close the pidfd once it has served: reaped, and no ev_io watches it. */
static void child_release(lg_child *c)
{
  if (c->state != LG_CH_RUNNING && c->nwait == 0 && c->pidfd >= 0) {
    close(c->pidfd);
    c->pidfd = -1;
  }
}

/* Push the outcome: code, "exit" | signo, "signal" | fail(ECHILD). */
static int child_push(lua_State *L, lg_child *c)
{
  if (c->state == LG_CH_LOST) return lg_lib_fail(L, ECHILD);
  if (WIFEXITED(c->status)) {
    lua_pushinteger(L, WEXITSTATUS(c->status));
    lua_pushliteral(L, "exit");
  } else {
    lua_pushinteger(L, WTERMSIG(c->status));
    lua_pushliteral(L, "signal");
  }
  return 2;
}

/* Reap what the orphans table holds, where it has exited. */
static void child_reaporphans(lua_State *L)
{
  lua_getfield(L, LUA_REGISTRYINDEX, LG_ORPHANS);	/* O */
  lua_pushnil(L);					/* O nil */
  while (lua_next(L, -2)) {				/* O pid true */
    pid_t pid = (pid_t)lua_tointeger(L, -2), r;
    lua_pop(L, 1);					/* O pid */
    do r = waitpid(pid, NULL, WNOHANG); while (r < 0 && errno == EINTR);
    if (r != 0) {		/* reaped, or not ours any more */
      lua_pushvalue(L, -1);				/* O pid pid */
      lua_pushnil(L);					/* O pid pid nil */
      lua_rawset(L, -4);				/* O pid */
    }
  }
  lua_pop(L, 1);
}

/* __gc: close the pidfd; a child still running becomes an orphan, reaped
** at a later spawn (not waited for here: no switch in a finalizer). */
static int child_gc(lua_State *L)
{
  lg_child *c = (lg_child *)lua_touserdata(L, 1);
  if (c->pidfd >= 0) {
    close(c->pidfd);
    c->pidfd = -1;
  }
  if (c->pid > 0 && !child_reap(c)) {
    lua_getfield(L, LUA_REGISTRYINDEX, LG_ORPHANS);	/* O */
    lua_pushboolean(L, 1);				/* O true */
    lua_rawseti(L, -2, (int)c->pid);			/* O */
    lua_pop(L, 1);
    c->state = LG_CH_LOST;
  }
  return 0;
}

/* Push a Child not yet started (nothing to reap) for a fork() that
** workers.c is about to make: allocated first, so that no Lua error can
** come between the fork and the child's being watched. */
lg_child *lg_process_newchild(lua_State *L)
{
  lg_child *c = (lg_child *)lua_newuserdata(L, sizeof(lg_child));	/* c */
  memset(c, 0, sizeof(*c));	/* every field, present and future: zero */
  c->pid = -1;
  c->pidfd = -1;
  c->state = LG_CH_LOST;
  luaL_getmetatable(L, LG_CHILD_META);
  lua_setmetatable(L, -2);
  return c;
}

/* c now stands for pid, a child that fork() made: wait and kill work on
** it as on a spawned one (pidfd, else polling). */
void lg_process_setchild(lg_child *c, pid_t pid)
{
  c->pid = pid;
  c->state = LG_CH_RUNNING;
  c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);	/* CLOEXEC */
  if (c->pidfd < 0) c->pidfd = -1;
}

/* -- spawn ---------------------------------------------------------------- */

/* How a child's fd 0, 1 or 2 is set up. */
enum { LG_IO_INHERIT, LG_IO_PIPE, LG_IO_NULL, LG_IO_FD, LG_IO_STDOUT };

static int stdio_check(lua_State *L, int idx, int target, int *fd)
{
  static const char *const modes[] = { "inherit", "pipe", "null", NULL };
  const char *s;
  if (lua_isnoneornil(L, idx)) return LG_IO_INHERIT;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, idx);
    if (n < 0 || n != (lua_Number)(int)n)
      luaL_argerror(L, idx, "file descriptor expected");
    *fd = (int)n;
    return LG_IO_FD;
  }
  s = luaL_checkstring(L, idx);
  if (target == 2 && !strcmp(s, "stdout")) return LG_IO_STDOUT;
  return luaL_checkoption(L, idx, NULL, modes);
}

/* Fill vec with the strings of the array at idx, NULL-terminated; the
** array keeps them alive (no Lua runs before spawn is done with them). */
static void strings_get(lua_State *L, int idx, const char **vec, size_t n,
			const char *what)
{
  size_t i, len;
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, idx, (int)i + 1);			/* s */
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, idx, lua_pushfstring(L, "%s[%d] is not a string",
					    what, (int)i + 1));
    vec[i] = lua_tolstring(L, -1, &len);
    if (strlen(vec[i]) != len)
      luaL_argerror(L, idx, lua_pushfstring(L, "%s[%d] contains a zero byte",
					    what, (int)i + 1));
    lua_pop(L, 1);
  }
  vec[n] = NULL;
}

/* Move fd to 3 or above, close-on-exec: a dup2 onto 0-2 in the child must
** not clobber another of the fds it dups.  -1 with errno on failure. */
static int fd_lift(int fd)
{
  int nfd, e;
  if (fd > 2 || fd < 0) return fd;
  nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  e = errno;
  close(fd);
  errno = e;
  return nfd;
}

/* A copy of ufd for the child, close-on-exec, at 3 or above.  A pipe end
** in non-blocking mode (a green pipe of ours, handed on to a pipeline) is
** reopened through /proc: a new open file description, so the child gets
** a blocking fd without changing ours (most programs fail on EAGAIN).
** Without /proc, the child shares our O_NONBLOCK.  -1 with errno. */
static int fd_forchild(int ufd)
{
  struct stat st;
  int fl = fcntl(ufd, F_GETFL), nfd;
  if (fl < 0) return -1;
  if ((fl & O_NONBLOCK) && fstat(ufd, &st) == 0 && S_ISFIFO(st.st_mode)) {
    char path[32];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", ufd);
    /* O_NONBLOCK: a write end whose reader is gone fails (ENXIO) at once
    ** instead of hanging in open; it is cleared on the new fd below. */
    nfd = fd_lift(open(path, (fl & O_ACCMODE) | O_CLOEXEC | O_NONBLOCK));
    if (nfd >= 0) {
      if (fcntl(nfd, F_SETFL, fl & ~O_NONBLOCK) == 0) return nfd;
      close(nfd);
    }
  }
  return fcntl(ufd, F_DUPFD_CLOEXEC, 3);
}

static void fds_close(int *fds, int n)
{
  int i;
  for (i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

/* Set up fd target (0-2) of the child as mode says.  parent[target] gets
** our end of a pipe, child[target] an fd we close after the spawn.  0 or
** an errno. */
static int stdio_plan(posix_spawn_file_actions_t *fa, int target, int mode,
		      int ufd, int *parent, int *child)
{
  int p[2];
  switch (mode) {
  case LG_IO_PIPE:
    if (pipe2(p, O_CLOEXEC) < 0) return errno;
    if ((p[0] = fd_lift(p[0])) < 0 || (p[1] = fd_lift(p[1])) < 0) {
      int e = errno;
      fds_close(p, 2);
      return e;
    }
    parent[target] = p[target == 0 ? 1 : 0];
    child[target] = p[target == 0 ? 0 : 1];
    if (fcntl(parent[target], F_SETFL, O_NONBLOCK) < 0) return errno;
    return posix_spawn_file_actions_adddup2(fa, child[target], target);
  case LG_IO_NULL:
    return posix_spawn_file_actions_addopen(fa, target, "/dev/null",
					    target == 0 ? O_RDONLY : O_WRONLY, 0);
  case LG_IO_FD:		/* a copy: fds given for 0-2 may overlap */
    if ((child[target] = fd_forchild(ufd)) < 0) return errno;
    return posix_spawn_file_actions_adddup2(fa, child[target], target);
  case LG_IO_STDOUT:		/* after fd 1 is set up: its actions are first */
    return posix_spawn_file_actions_adddup2(fa, 1, 2);
  default:
    return 0;
  }
}

/* spawn(argv, env, cwd, stdin, stdout, stderr [, nopidfd [, setsid]]) ->
** child, pid, in, out, err | nil, msg, errname.  argv: array of strings; env: nil
** (inherit) or an array of "K=V"; each stdio: nil/"inherit", "pipe",
** "null", an fd, or "stdout" (stderr only).  in/out/err: our pipe ends
** (non-blocking, close-on-exec) or false.  nopidfd: wait by polling, as
** without pidfds.  setsid: the child starts a new session, so it leads a
** process group of its own (pgid = pid) that kill signals whole.  A failed exec is a failed spawn (glibc's posix_spawn
** reports it), not a child exiting 127. */
static int proc_spawn(lua_State *L)
{
  int mode[3], ufd[3] = { -1, -1, -1 };
  int parent[3] = { -1, -1, -1 }, child[3] = { -1, -1, -1 };
  size_t argc, envc = 0;
  const char **argv, **envp = NULL, *cwd;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none, dfl;
  lg_child *c;
  pid_t pid;
  int i, e, nopidfd = lua_toboolean(L, 7), setsid = lua_toboolean(L, 8);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  luaL_checktype(L, 1, LUA_TTABLE);
  argc = lua_rawlen(L, 1);
  if (argc == 0) luaL_argerror(L, 1, "argv is empty");
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    envc = lua_rawlen(L, 2);
  }
  cwd = luaL_optstring(L, 3, NULL);
  for (i = 0; i < 3; i++) mode[i] = stdio_check(L, 4 + i, i, &ufd[i]);
  lua_settop(L, 6);
  argv = (const char **)lua_newuserdata(L, (argc + envc + 2) * sizeof(char *));
  strings_get(L, 1, argv, argc, "argv");		/* .. vec */
  if (!lua_isnil(L, 2)) {
    envp = argv + argc + 1;
    strings_get(L, 2, envp, envc, "env");
  }
  c = (lg_child *)lua_newuserdata(L, sizeof(lg_child));	/* .. vec c */
  c->pid = -1;
  c->pidfd = -1;
  c->status = 0;
  c->nwait = 0;
  c->state = LG_CH_LOST;	/* nothing to reap until the spawn succeeds */
  c->leader = (unsigned char)setsid;
  luaL_getmetatable(L, LG_CHILD_META);
  lua_setmetatable(L, -2);
  child_reaporphans(L);
  /* No Lua error from here on: fds are open. */
  if ((e = posix_spawn_file_actions_init(&fa)) != 0) return lg_lib_fail(L, e);
  if ((e = posix_spawnattr_init(&attr)) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return lg_lib_fail(L, e);
  }
  /* The child starts with no signal blocked, and SIGPIPE and SIGXFSZ at
  ** their defaults even if we ignore them (as Python's subprocess does). */
  sigemptyset(&none);
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGPIPE);
  sigaddset(&dfl, SIGXFSZ);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &dfl);
  if (setsid) {
#ifdef POSIX_SPAWN_SETSID	/* glibc 2.26 */
    flags |= POSIX_SPAWN_SETSID;
#else				/* a group of its own, in our session */
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, 0);
#endif
  }
  posix_spawnattr_setflags(&attr, flags);
  for (i = 0, e = 0; i < 3 && e == 0; i++)
    e = stdio_plan(&fa, i, mode[i], ufd[i], parent, child);
  if (e == 0 && cwd) e = posix_spawn_file_actions_addchdir_np(&fa, cwd);
  if (e == 0) {
    char *const *av = (char *const *)argv;
    char *const *ev = envp ? (char *const *)envp : environ;
    e = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], &fa, &attr, av, ev)
			     : posix_spawnp(&pid, argv[0], &fa, &attr, av, ev);
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  fds_close(child, 3);
  if (e != 0) {
    fds_close(parent, 3);
    return lg_lib_fail(L, e);
  }
  c->pid = pid;
  c->state = LG_CH_RUNNING;
  /* Not reaped yet, so the pid cannot be recycled under pidfd_open. */
  if (!nopidfd) c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* CLOEXEC */
  if (c->pidfd < 0) c->pidfd = -1;			/* poll waitpid */
  lua_pushinteger(L, pid);				/* .. vec c pid */
  for (i = 0; i < 3; i++) {
    if (parent[i] >= 0) lua_pushinteger(L, parent[i]);
    else lua_pushboolean(L, 0);
  }							/* .. c pid in out err */
  return 5;
}

/* -- wait, kill ----------------------------------------------------------- */

/* wait(child [, timeout]) -> code, "exit" | signo, "signal" | nil, "timeout"
** | nil, msg, errname.  Parks only the caller: on the pidfd, or on a
** backoff timer polling waitpid.  Any number of greenlets may wait. */
static int proc_wait(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_child *c = child_check(L, 1);
  double t = lg_lib_optseconds(L, 2), deadline = 0, poll = LG_POLL_MIN;
  int done;
  lua_settop(L, 1);		/* c stays here: alive while we wait */
  if (t >= 0) {
    ev_now_update(hub->loop);
    deadline = ev_now(hub->loop) + t;
  }
  c->nwait++;
  while (!(done = child_reap(c))) {
    double left = -1;
    int n;
    if (t >= 0) {
      ev_now_update(hub->loop);
      if ((left = deadline - ev_now(hub->loop)) <= 0) break;
    }
    if (c->pidfd >= 0) {
      n = lg_hub_wait_io(L, hub, c->pidfd, EV_READ, left);
    } else {
      n = lg_hub_park(L, hub, left >= 0 && left < poll ? left : poll);
      if ((poll *= 2) > LG_POLL_MAX) poll = LG_POLL_MAX;
    }
    if (n < 0) {		/* killed, or a Timeout: error on top */
      c->nwait--;
      child_release(c);
      return lg_greenlet_raise(L);
    }
    lua_settop(L, 1);		/* what the wake left */
    lg_greenlet_resync(L);	/* child_push allocates */
  }
  c->nwait--;
  child_release(c);
  if (!done) {
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  return child_push(L, c);
}

/* kill(child, signo) -> true | nil, msg, errname (ESRCH once reaped).  A
** session leader's whole group gets the signal: until the leader is
** reaped its pid cannot be reused, so -pid is still its group. */
static int proc_kill(lua_State *L)
{
  lg_child *c = child_check(L, 1);
  lua_Integer sig = luaL_checkinteger(L, 2);
  long r;
  if (sig < 0 || sig >= NSIG) luaL_argerror(L, 2, "invalid signal number");
  if (c->state != LG_CH_RUNNING) return lg_lib_fail(L, ESRCH);
  if (c->leader) {
    r = kill(-c->pid, (int)sig);
  } else if (c->pidfd >= 0) {
    r = syscall(SYS_pidfd_send_signal, c->pidfd, (int)sig, NULL, 0);
    if (r < 0 && errno == ENOSYS) r = kill(c->pid, (int)sig);
  } else {
    r = kill(c->pid, (int)sig);
  }
  if (r < 0) return lg_lib_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}

/* killpid(pid, signo) -> true | nil, msg, errname: kill(2) as it is */
static int proc_killpid(lua_State *L)
{
  lua_Integer pid = luaL_checkinteger(L, 1);
  lua_Integer sig = luaL_checkinteger(L, 2);
  if (pid != (pid_t)pid) luaL_argerror(L, 1, "invalid pid");
  if (sig < 0 || sig >= NSIG) luaL_argerror(L, 2, "invalid signal number");
  if (kill((pid_t)pid, (int)sig) < 0) return lg_lib_fail(L, errno);
  lua_pushboolean(L, 1);
  return 1;
}

/* environ() -> { "K=V", ... }: this process's environment, as a child
** inherits it (what os.getenv reads, with setenv's changes). */
static int proc_environ(lua_State *L)
{
  int i;
  lua_newtable(L);					/* E */
  for (i = 0; environ[i]; i++) {
    lua_pushstring(L, environ[i]);			/* E s */
    lua_rawseti(L, -2, i + 1);				/* E */
  }
  return 1;
}

/* getpid() -> this process's pid */
static int proc_getpid(lua_State *L)
{
  lua_pushinteger(L, getpid());
  return 1;
}

/* info(child) -> pid, pidfd | nil (for tests and reports) */
static int proc_info(lua_State *L)
{
  lg_child *c = child_check(L, 1);
  lua_pushinteger(L, c->pid);
  if (c->pidfd >= 0) lua_pushinteger(L, c->pidfd);
  else lua_pushnil(L);
  return 2;
}

/* -- Signals -------------------------------------------------------------- */

static lg_signal *signal_check(lua_State *L, int idx)
{
  return (lg_signal *)luaL_checkudata(L, idx, LG_SIGNAL_META);
}

/* libev callback: count, wake the waiter.  No Lua. */
static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
  lg_signal *s = (lg_signal *)w->data;
  (void)loop; (void)revents;
  s->count++;
  lg_hub_notify(s->hub, s->waiter);
}

/* Stop watching; the old disposition comes back (libev would leave
** SIG_DFL).  The watcher was unref'd: ref it first, as libev asks. */
static void signal_stop(lg_signal *s)
{
  if (!s->active) return;
  s->active = 0;
  s->hub->sigours[s->w.signum]--;
  if (s->hub->loop) {		/* NULL: lua_close destroyed the loop first */
    ev_ref(s->hub->loop);
    ev_signal_stop(s->hub->loop, &s->w);
  }
  sigaction(s->w.signum, &s->old, NULL);
  if (s->w.signum == SIGINT) lg_hub_sigintusers(s->hub, -1);
}

/* signal_watch(signo) -> watcher.  Like gevent's signal_handler, it does
** not keep run() alive: ev_unref once started. */
static int proc_signal_watch(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lua_Integer sig = luaL_checkinteger(L, 1);
  lg_signal *s;
  if (sig <= 0 || sig >= NSIG) luaL_argerror(L, 1, "invalid signal number");
  if (sig == SIGKILL || sig == SIGSTOP)
    luaL_argerror(L, 1, "SIGKILL and SIGSTOP cannot be caught");
  if (lg_host_sigclash(hub, (int)sig))
    luaL_error(L, "lgreen: signal %d is watched by another libev loop "
	       "(the host's?): libev allows one loop per signal", (int)sig);
  s = (lg_signal *)lua_newuserdata(L, sizeof(lg_signal));	/* s */
  memset(s, 0, sizeof(*s));
  luaL_getmetatable(L, LG_SIGNAL_META);
  lua_setmetatable(L, -2);
  s->hub = hub;
  if (sig == SIGINT) lg_hub_sigintusers(hub, 1);	/* not main's now */
  if (sigaction((int)sig, NULL, &s->old) < 0) {
    if (sig == SIGINT) lg_hub_sigintusers(hub, -1);
    return lg_lib_fail(L, errno);
  }
  ev_signal_init(&s->w, signal_cb, (int)sig);
  s->w.data = s;
  ev_signal_start(hub->loop, &s->w);
  ev_unref(hub->loop);
  hub->sigours[sig]++;
  s->active = 1;
  return 1;
}

/* signal_wait(watcher [, timeout]) -> count | false (timed out) | nil
** (stopped).  count: deliveries since the last call (libev coalesces). */
static int proc_signal_wait(lua_State *L)
{
  lg_hub *hub = lg_lib_hub(L);
  lg_signal *s = signal_check(L, 1);
  double t = lg_lib_optseconds(L, 2);
  lua_settop(L, 1);		/* s stays here: alive while we wait */
  if (s->count == 0 && s->active) {
    int n;
    if (s->waiter != NULL)
      luaL_argerror(L, 1, "another greenlet waits on this signal");
    n = lg_hub_wait(L, hub, t, &s->waiter);
    if (n < 0) return lg_greenlet_raise(L);
    lua_settop(L, 1);
  }
  if (s->count == 0) {
    if (!s->active) return 0;
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushinteger(L, (lua_Integer)s->count);
  s->count = 0;
  return 1;
}

/* signal_stop(watcher): its waiter returns nil */
static int proc_signal_stop(lua_State *L)
{
  lg_signal *s = signal_check(L, 1);
  signal_stop(s);
  lg_hub_notify(s->hub, s->waiter);
  return 0;
}

static int signal_gc(lua_State *L)
{
  signal_stop((lg_signal *)lua_touserdata(L, 1));
  return 0;
}

/* Signal numbers by name, without "SIG": this platform's numbers. */
static const struct { const char *name; int num; } proc_signals[] = {
  { "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
  { "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
  { "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
  { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
  { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
  { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
  { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
  { "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
  { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
  { "IO", SIGIO }, { "SYS", SIGSYS },
  { NULL, 0 }
};

static const luaL_Reg process_funcs[] = {
  { "spawn", proc_spawn }, { "wait", proc_wait }, { "kill", proc_kill },
  { "killpid", proc_killpid }, { "getpid", proc_getpid },
  { "info", proc_info }, { "environ", proc_environ },
  { "signal_watch", proc_signal_watch }, { "signal_wait", proc_signal_wait },
  { "signal_stop", proc_signal_stop },
  { NULL, NULL }
};

/* Push the core.process table; its `signals` field maps names to numbers. */
void lg_open_process(lua_State *L)
{
  int i;
  luaL_newmetatable(L, LG_CHILD_META);			/* mt */
  lua_pushcfunction(L, child_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, LG_SIGNAL_META);			/* mt */
  lua_pushcfunction(L, signal_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_newtable(L);					/* O */
  lua_setfield(L, LUA_REGISTRYINDEX, LG_ORPHANS);
  lg_lib_newtable(L, process_funcs);			/* P */
  lua_newtable(L);					/* P sigs */
  for (i = 0; proc_signals[i].name; i++) {
    lua_pushinteger(L, proc_signals[i].num);
    lua_setfield(L, -2, proc_signals[i].name);
  }
  lua_setfield(L, -2, "signals");			/* P */
}
