/*
** host_loop.c — a C host that runs its own libev loop (lgreen_setloop):
** it only calls ev_run, and lgreen keeps its green threads going; what
** lua_close leaves on that loop; lgreen_step's answer; main blocking from
** a host callback; clashing signal watchers; the switch hook; version and
** loop getter.  TAP; non-zero exit on failure.  Crash cases run in a child.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>
#include "testvm.h"

#include <lgreen.h>

static const char *cpath;
static int run(lua_State *L, const char *chunk);

/* A VM with lgreen opened from the library this host links (lgreen_getloop
** registers it as lgreen.core: require finds it, not a core.so). */
static lua_State *libvm(void)
{
  lua_State *L = test_newvm(cpath);
  lgreen_getloop(L);
  run(L, "lg = require 'lgreen'");
  return L;
}

/* Run chunk in L; 1 if it ran.  Its error goes to the TAP log. */
static int run(lua_State *L, const char *chunk)
{
  if (luaL_dostring(L, chunk) == 0) return 1;
  printf("# %s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
  return 0;
}

/* The boolean the expression expr has in L. */
static int truth(lua_State *L, const char *expr)
{
  char buf[512];
  int r;
  snprintf(buf, sizeof(buf), "return %s", expr);
  if (luaL_dostring(L, buf) != 0) {
    printf("# %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 0;
  }
  r = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return r;
}

static lua_State *hostvm(struct ev_loop *loop)
{
  lua_State *L = test_newvm(cpath);
  if (lgreen_setloop(L, loop) != 0) printf("# lgreen_setloop failed\n");
  run(L, "lg = require 'lgreen'");
  return L;
}

/* The host only runs ev_run: green threads sleep, yield and finish, and
** ev_run returns once nothing of theirs is left. */
static void only_ev_run(void)
{
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  lua_State *L = hostvm(loop);
  run(L, "R = {}\n"
	 "for i = 3, 1, -1 do lg.spawn_n(function() lg.sleep(0.01 * i) R[#R + 1] = i end) end\n"
	 "lg.spawn_n(function() for _ = 1, 5 do lg.sleep(0) end R.y = 5 end)");
  ev_run(loop, 0);
  ok(truth(L, "R[1] == 1 and R[2] == 2 and R[3] == 3 and #R == 3 and R.y == 5"),
     "ev_run alone runs green threads to the end, in deadline order");
  ok(lgreen_getloop(L) == loop, "lgreen_getloop returns the host's loop");
  lua_close(L);
  ev_loop_destroy(loop);
}

/* The old advice: lgreen_step from an ev_check.  The check runs before
** lgreen's timer callbacks of its iteration; it must not stall. */
static lua_State *checkL;
static void check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
  (void)loop; (void)w; (void)revents;
  lgreen_step(checkL);
}

static void step_from_check(void)
{
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  lua_State *L = hostvm(loop);
  ev_check chk;
  checkL = L;
  ev_check_init(&chk, check_cb);
  ev_check_start(loop, &chk);
  ev_unref(loop);
  run(L, "N = 0\n"
	 "lg.spawn_n(function() for _ = 1, 3 do lg.sleep(0.005) N = N + 1 end end)");
  ev_run(loop, 0);
  ok(truth(L, "N == 3"), "lgreen_step from an ev_check does not stall green threads");
  ev_ref(loop);
  ev_check_stop(loop, &chk);
  lua_close(L);
  ev_loop_destroy(loop);
}

/* A host callback spawns: the loop neither blocks nor ends before the
** green thread runs; and blocking main there is refused. */
static lua_State *cbL;
static int blockerr;
static void spawn_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)loop; (void)w; (void)revents;
  run(cbL, "lg.spawn_n(function() DONE = 'ran' end)");
  if (luaL_dostring(cbL, "lg.sleep(0.001)") != 0) {
    blockerr = strstr(lua_tostring(cbL, -1), "cannot block the main greenlet "
		      "inside the host's loop; spawn a green thread") != NULL;
    lua_pop(cbL, 1);
  }
}

static void spawn_from_callback(void)
{
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  lua_State *L = hostvm(loop);
  ev_timer t;
  cbL = L;
  ev_timer_init(&t, spawn_cb, 0.001, 0.);
  ev_timer_start(loop, &t);
  ev_run(loop, 0);
  ok(truth(L, "DONE == 'ran'"), "a green thread spawned by a host callback runs in that ev_run");
  ok(blockerr, "blocking main from a host callback: a clear error, no re-entry");
  ok(run(L, "lg.sleep(0.001) return true"), "main may block outside the host's ev_run");
  lua_close(L);
  ev_loop_destroy(loop);
}

/* lgreen_step's "more to wait for": a green thread waits on an fd only
** (no timer) on a host's loop, then on lgreen's own loop. */
static void step_counts_io(void)
{
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  lua_State *L = hostvm(loop), *L2 = libvm();
  int fds[2], fds2[2], r1, r2, r3;
  char buf[200];
  if (pipe(fds) != 0 || pipe(fds2) != 0) abort();
  snprintf(buf, sizeof(buf), "lg.spawn_n(function() GOT = lg.wait_read(%d) end)", fds[0]);
  run(L, buf);
  r1 = lgreen_step(L);
  ok(r1 == 1, "host's loop: lgreen_step is 1 while a green thread waits on an fd");
  if (write(fds[1], "x", 1) != 1) abort();
  ev_run(loop, 0);
  r2 = lgreen_step(L);
  ok(truth(L, "GOT == true") && r2 == 0, "... and 0 once it is done");
  snprintf(buf, sizeof(buf), "lg.spawn_n(function() GOT = lg.wait_read(%d) end)", fds2[0]);
  run(L2, buf);
  r3 = lgreen_step(L2);
  ok(r3 == 1, "own loop: lgreen_step is 1 while a green thread waits on an fd");
  if (write(fds2[1], "x", 1) != 1) abort();
  while (lgreen_step(L2) > 0) ;
  ok(truth(L2, "GOT == true"), "... and it ran");
  lua_close(L);
  lua_close(L2);
  ev_loop_destroy(loop);
  close(fds[0]); close(fds[1]); close(fds2[0]); close(fds2[1]);
}

static int ticks;
static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)revents;
  if (++ticks == 20) ev_timer_stop(loop, w);
}

/* In a child: close the VM with green threads parked on every kind of
** watcher, then the host runs its loop on. */
static void close_parked_child(void)
{
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  lua_State *L = hostvm(loop);
  ev_timer tick;
  int ok1 = run(L,
    "local srv = lg.listen('127.0.0.1', 0)\n"
    "KEEP = srv\n"
    "lg.spawn_n(function() lg.sleep(10) end)\n"
    "lg.spawn_after(10, function() end)\n"
    "lg.spawn_n(function() srv:accept() end)\n"
    "lg.spawn_n(function() lg.with_timeout(10, lg.sleep, 20) end)\n"
    "lg.spawn_n(function() lg.resolve.getaddrinfo('localhost', 80) end)\n"
    "CAT = lg.process({ 'cat' }, { stdin = 'pipe' })\n"
    "lg.spawn_n(function() CAT:wait() end)\n"
    "HANDLER = lg.signal('USR2', function() end)\n");
  lgreen_step(L);
  ev_run(loop, EVRUN_NOWAIT);
  lgreen_step(L);
  lua_close(L);
  ev_timer_init(&tick, tick_cb, 0.001, 0.001);
  ev_timer_start(loop, &tick);
  ev_run(loop, 0);		/* returns: nothing of lgreen's holds it */
  ev_loop_destroy(loop);
  printf("%s\n", ok1 && ticks == 20 ? "survived" : "bad setup");
  exit(0);
}

/* Run fn in a child; its one line of stdout into out. */
static int in_child(void (*fn)(void), char *out, size_t size)
{
  int p[2], status;
  ssize_t n;
  pid_t pid;
  fflush(stdout);
  if (pipe(p) != 0) return -1;
  if ((pid = fork()) == 0) {
    dup2(p[1], 1);
    close(p[0]);
    fn();
    _exit(0);
  }
  close(p[1]);
  n = read(p[0], out, size - 1);
  out[n > 0 ? n : 0] = 0;
  close(p[0]);
  waitpid(pid, &status, 0);
  return status;
}

static void close_parked(void)
{
  char out[512];
  int status = in_child(close_parked_child, out, sizeof(out));
  if (strstr(out, "survived") == NULL)
    printf("# status %d, output: %s\n", status, out);
  ok(status == 0 && strstr(out, "survived") != NULL,
     "lua_close with green threads parked on timers, sockets, Timeouts, "
     "lookups, a process and signals: the host's loop runs on");
}

/* In a child: the host's ev_signal on the default loop, lg.signal on the
** same signal with lgreen's own loop. */
static void sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
  (void)loop; (void)w; (void)revents;
}

static void sigclash_child(void)
{
  struct ev_loop *def = ev_default_loop(0);
  lua_State *L;
  ev_signal s;
  ev_signal_init(&s, sig_cb, SIGUSR1);
  ev_signal_start(def, &s);
  L = libvm();
  if (luaL_dostring(L, "lg.signal('USR1', function() end)") != 0)
    printf("error: %s\n", lua_tostring(L, -1));
  else
    printf("no error\n");
  lua_close(L);
  exit(0);
}

static void sigclash(void)
{
  char out[512];
  int status = in_child(sigclash_child, out, sizeof(out));
  if (strstr(out, "another libev loop") == NULL)
    printf("# status %d, output: %s\n", status, out);
  ok(status == 0 && strstr(out, "another libev loop") != NULL,
     "a host's ev_signal and lg.signal on the same signal: a Lua error, no abort");
}

/* The switch hook sees each greenlet's own state as it is switched in. */
static int nswitch, sawthread;
static lua_State *seen[64];
static void onswitch(lua_State *G, void *ud)
{
  (void)ud;
  if (nswitch < 64) seen[nswitch] = G;
  nswitch++;
}

static void switch_hook(void)
{
  lua_State *L = libvm(), *T;
  int i, before;
  lgreen_onswitch(L, onswitch, NULL);
  run(L, "lg.spawn(function() T = coroutine.running() lg.sleep(0) end):wait()");
  lua_getglobal(L, "T");
  T = lua_tothread(L, -1);
  lua_pop(L, 1);
  for (i = 0; i < nswitch && i < 64; i++)
    if (seen[i] == T && T != NULL) sawthread = 1;
  ok(sawthread, "lgreen_onswitch: called with the greenlet's lua_State");
  lgreen_onswitch(L, NULL, NULL);
  before = nswitch;
  run(L, "lg.spawn(function() lg.sleep(0) end):wait()");
  ok(nswitch == before, "lgreen_onswitch(L, NULL): no more calls");
  lua_close(L);
}

int main(int argc, char **argv)
{
  cpath = argc > 1 ? argv[1] : "build/5.1/?.so";
  ok(lgreen_version() == LGREEN_VERSION_NUM, "lgreen_version() is the header's LGREEN_VERSION_NUM");
  only_ev_run();
  step_from_check();
  spawn_from_callback();
  step_counts_io();
  close_parked();
  sigclash();
  switch_hook();
  return tap_done();
}
