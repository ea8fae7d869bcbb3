/*
** workers.c — core.workers: what lgreen.workers needs from the OS and Lua
** cannot do: fork with signals held and the child tied to its parent's
** life, the number of online CPUs, _exit.
**
** fork is made for a process whose hub is running: the child goes on in
** the greenlet that called fork, with a copy of every other greenlet, and
** gets a loop and resolver pool of its own at its first use of the hub
** (hub.c, lg_hub_checkfork).  Until the child's Lua code has stopped the
** parent's signal watchers and set up its own, the signals that those
** watch must not be delivered to it: fork blocks every signal around the
** fork, and the child keeps the ones it is given blocked until unblock.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib.h"

/* The signal numbers at idx, idx+1, ... top into set. */
static void sigs_get(lua_State *L, int idx, sigset_t *set)
{
  int i, top = lua_gettop(L);
  sigemptyset(set);
  for (i = idx; i <= top; i++) {
    lua_Integer sig = luaL_checkinteger(L, i);
    if (sig <= 0 || sig >= NSIG) luaL_argerror(L, i, "invalid signal number");
    sigaddset(set, (int)sig);
  }
}

/* fork(deathsig, held...) -> child, pid (parent) | false (child) | nil,
** msg, errname.  child: a core.process Child, for wait and kill.  In the
** child, deathsig (0: none) is sent to it when the parent dies
** (PR_SET_PDEATHSIG; if the parent died already, the child exits 1 at
** once), and the signals held stay blocked until unblock.  C stdio is
** flushed first: what was buffered would be written twice. */
static int wk_fork(lua_State *L)
{
  lua_Integer death = luaL_checkinteger(L, 1);
  sigset_t held, all, old;
  lg_child *c;
  pid_t parent = getpid(), pid;
  if (death < 0 || death >= NSIG) luaL_argerror(L, 1, "invalid signal number");
  sigs_get(L, 2, &held);
  c = lg_process_newchild(L);				/* .. c */
  fflush(NULL);
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  pid = fork();
  if (pid == 0) {
    if (death > 0) {
      prctl(PR_SET_PDEATHSIG, (unsigned long)death);
      if (getppid() != parent) _exit(1);	/* it died before the prctl */
    }
    for (int s = 1; s < NSIG; s++)
      if (sigismember(&held, s) == 1) sigaddset(&old, s);
    sigprocmask(SIG_SETMASK, &old, NULL);
    lua_pushboolean(L, 0);
    return 1;
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (pid < 0) {
    int e = errno;
    lua_pushnil(L);
    lua_pushstring(L, strerror(e));
    lua_pushstring(L, e == EAGAIN ? "EAGAIN" : e == ENOMEM ? "ENOMEM" : "EFORK");
    return 3;
  }
  lg_process_setchild(c, pid);
  lua_pushinteger(L, pid);				/* .. c pid */
  return 2;
}

/* unblock(sig...): let the signals fork held come in now. */
static int wk_unblock(lua_State *L)
{
  sigset_t set;
  sigs_get(L, 1, &set);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  return 0;
}

/* ncpu() -> the number of CPUs online (at least 1) */
static int wk_ncpu(lua_State *L)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n > 0 ? n : 1);
  return 1;
}

/* exit(code): flush C stdio and _exit: a worker leaves without running
** the atexit handlers and finalizers of the process it was forked from. */
static int wk_exit(lua_State *L)
{
  lua_Integer code = luaL_checkinteger(L, 1);
  fflush(NULL);
  _exit((int)(code & 0xff));
  return 0;
}

static const luaL_Reg workers_funcs[] = {
  { "fork", wk_fork }, { "unblock", wk_unblock }, { "ncpu", wk_ncpu },
  { "exit", wk_exit },
  { NULL, NULL }
};

/* Push the core.workers table. */
void lg_open_workers(lua_State *L)
{
  lg_lib_newtable(L, workers_funcs);
}
