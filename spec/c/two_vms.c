/*
** two_vms.c — independent Lua VMs in independent OS threads, each switching
** greenlets at full speed: no shared mutable C state.  Also checks that a
** greenlet smuggled from one VM into another through C is refused.
** Prints TAP; exits non-zero on failure.
** Build: see spec/run.sh (against LuaJIT and against Lua 5.4).
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testvm.h"

#if LUA_VERSION_NUM >= 502
#define lua_objlen lua_rawlen
#endif

#define NSWITCH "200000"

static const char *chunk =
  "local greenlet = require 'lgreen.greenlet'\n"
  "local seed, n = ...\n"
  "local ping, pong\n"
  "ping = greenlet.new(function()\n"
  "  local acc = seed\n"
  "  for i = 1, n do acc = (acc * 31 + pong:switch(i)) % 1000003 end\n"
  "  return acc\n"
  "end)\n"
  "pong = greenlet.new(function(x)\n"
  "  while true do x = ping:switch(x + seed) end\n"
  "end, ping)\n"
  "return ping:switch()\n";

/* The same computation without greenlets. */
static long expected(long seed, long n)
{
  long acc = seed, i;
  for (i = 1; i <= n; i++) acc = (acc * 31 + (i + seed)) % 1000003;
  return acc;
}


typedef struct job {
  const char *cpath;
  long seed;
  long result;
  char err[256];
} job;

static void *run(void *arg)
{
  job *j = (job *)arg;
  lua_State *L = test_newvm(j->cpath);
  int rounds;
  j->result = -1;
  for (rounds = 0; rounds < 5; rounds++) {
    if (luaL_loadstring(L, chunk) != 0) break;
    lua_pushinteger(L, j->seed);
    lua_pushinteger(L, atol(NSWITCH));
    if (lua_pcall(L, 2, 1, 0) != 0) {
      snprintf(j->err, sizeof(j->err), "%s", lua_tostring(L, -1));
      break;
    }
    j->result = (long)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  lua_close(L);
  return NULL;
}



/* A greenlet of VM a, copied by C into a greenlet of VM b, must be refused
** by b with a clear error, not switched to. */
static void smuggle(const char *cpath)
{
  lua_State *a = test_newvm(cpath), *b = test_newvm(cpath);
  void *ga, *gb;
  char saved[1024];
  size_t sz;
  int rc;
  luaL_dostring(a, "local gl = require 'lgreen.greenlet'\n"
		   "G = gl.new(function() gl.getcurrent().parent:switch() end)\n"
		   "G:switch() return G");
  luaL_dostring(b, "local gl = require 'lgreen.greenlet'\n"
		   "G = gl.new(function() end) return G");
  ga = lua_touserdata(a, -1);
  gb = lua_touserdata(b, -1);
  sz = lua_objlen(b, -1);
  memcpy(saved, gb, sz);
  memcpy(gb, ga, sz);
  rc = luaL_dostring(b, "return pcall(G.switch, G)");
  ok(rc == 0 && !lua_toboolean(b, -2) &&
     strstr(lua_tostring(b, -1), "greenlet belongs to another Lua VM") != NULL,
     "a greenlet of another VM is refused");
  memcpy(gb, saved, sz);
  lua_close(b);
  lua_close(a);
}

int main(int argc, char **argv)
{
  const char *cpath = argc > 1 ? argv[1] : "build/5.1/?.so";
  job jobs[2] = { { cpath, 7, 0, "" }, { cpath, 11, 0, "" } };
  pthread_t th[2];
  int i;
  for (i = 0; i < 2; i++) pthread_create(&th[i], NULL, run, &jobs[i]);
  for (i = 0; i < 2; i++) pthread_join(th[i], NULL);
  for (i = 0; i < 2; i++) {
    char what[128];
    if (jobs[i].err[0]) fprintf(stderr, "# %s\n", jobs[i].err);
    snprintf(what, sizeof(what), "VM %d in its own thread: %s switches, "
	     "exact result", i + 1, NSWITCH);
    ok(jobs[i].result == expected(jobs[i].seed, atol(NSWITCH)), what);
  }
  smuggle(cpath);
  return tap_done();
}
