/*
** host.c — a C host that owns the event loop (lgreen.h): once running
** libev itself (lgreen_setloop + lgreen_step), once with poll(2) on
** lgreen_backend_fd and lgreen_next_timeout.  TAP; non-zero exit on failure.
*/
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include "testvm.h"

#include "../../c/lgreen.h"



static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *chunk =
  "local lg = require 'lgreen'\n"
  "RESULT = {}\n"
  "for i = 3, 1, -1 do\n"
  "  lg.spawn_n(function() lg.sleep(0.01 * i) RESULT[#RESULT + 1] = i end)\n"
  "end\n"
  "lg.spawn_n(function() for _ = 1, 5 do lg.sleep(0) end RESULT.yields = 5 end)\n";


/* RESULT is {1, 2, 3, yields = 5}? */
static int result_ok(lua_State *L)
{
  int good = luaL_dostring(L, "return RESULT[1] == 1 and RESULT[2] == 2 and "
			   "RESULT[3] == 3 and #RESULT == 3 and RESULT.yields == 5") == 0;
  good = good && lua_toboolean(L, -1);
  lua_pop(L, 1);
  return good;
}

static int ticks;
static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
  (void)loop; (void)w; (void)revents;
  ticks++;
}

static void host_runs_libev(const char *cpath)
{
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  lua_State *L = test_newvm(cpath);
  ev_timer tick;
  int more, rc, iterations = 0;
  ok(lgreen_setloop(L, loop) == 0, "lgreen_setloop before first use");
  ev_timer_init(&tick, tick_cb, 0.002, 0.002);	/* the host's own work */
  ev_timer_start(loop, &tick);
  rc = luaL_dostring(L, chunk);
  if (rc) fprintf(stderr, "# %s\n", lua_tostring(L, -1));
  more = lgreen_step(L);
  while (more > 0 && iterations++ < 10000) {
    ev_run(loop, EVRUN_ONCE);
    more = lgreen_step(L);
  }
  ok(rc == 0 && more == 0, "host's libev loop: lgreen_step until idle");
  ok(result_ok(L), "greenthreads ran in deadline order in the host's loop");
  ok(ticks > 0, "the host's own watchers ran in the same loop");
  ok(lgreen_setloop(L, loop) == -1, "lgreen_setloop after use is refused");
  ev_timer_stop(loop, &tick);
  lua_close(L);
  ev_loop_destroy(loop);
}

static void host_runs_poll(const char *cpath)
{
  lua_State *L = test_newvm(cpath);
  struct pollfd pfd;
  struct sigaction sa;
  int more, wakeups = 0, rc;
  double t0 = now(), t;
  pfd.fd = lgreen_backend_fd(L);
  pfd.events = POLLIN;
  ok(pfd.fd >= 0, "lgreen_backend_fd names the loop's epoll fd");
  sigaction(SIGINT, NULL, &sa);
  ok(sa.sa_handler == SIG_DFL, "the hub's own loop leaves a C host's SIGINT alone");
  rc = luaL_dostring(L, chunk);
  if (rc) fprintf(stderr, "# %s\n", lua_tostring(L, -1));
  more = lgreen_step(L);
  while (more > 0 && wakeups < 1000) {
    t = lgreen_next_timeout(L);
    poll(&pfd, 1, t < 0 ? -1 : (int)(t * 1000) + 1);
    wakeups++;
    more = lgreen_step(L);
  }
  ok(rc == 0 && more == 0, "foreign poller: lgreen_step until idle");
  ok(result_ok(L), "greenthreads ran in deadline order");
  ok(now() - t0 >= 0.03, "the last sleep ended after its 30 ms");
  ok(wakeups <= 12, "the poller slept until the next deadline (no busy loop)");
  lua_close(L);
}

int main(int argc, char **argv)
{
  const char *cpath = argc > 1 ? argv[1] : "build/5.1/?.so";
  host_runs_libev(cpath);
  host_runs_poll(cpath);
  return tap_done();
}
