/*
** posix_shim.c — for spec/40-fork_spec.lua on a VM that Debian ships no
** lua-posix for (Lua 5.4): the calls the spec needs, with
** lua-posix's names and results.  Built by the spec:
**
**   cc -shared -fPIC -I/usr/include/lua5.4 -o posix_shim.so spec/c/posix_shim.c
*/
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

static int fail(lua_State *L)
{
  lua_pushnil(L);
  lua_pushstring(L, strerror(errno));
  return 2;
}

/* fork() -> pid (0 in the child) | nil, err */
static int shim_fork(lua_State *L)
{
  pid_t pid = fork();
  if (pid < 0) return fail(L);
  lua_pushinteger(L, pid);
  return 1;
}

/* _exit(code): ends the process at once */
static int shim_exit(lua_State *L)
{
  _exit((int)luaL_optinteger(L, 1, 0));
  return 0;
}

/* wait(pid) -> pid, "exited" | "killed", code | nil, err */
static int shim_wait(lua_State *L)
{
  int st;
  pid_t pid = waitpid((pid_t)luaL_checkinteger(L, 1), &st, 0);
  if (pid < 0) return fail(L);
  lua_pushinteger(L, pid);
  lua_pushstring(L, WIFEXITED(st) ? "exited" : "killed");
  lua_pushinteger(L, WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
  return 3;
}

/* socketpair() -> fd, fd | nil, err: a Unix stream pair */
static int shim_socketpair(lua_State *L)
{
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return fail(L);
  lua_pushinteger(L, sv[0]);
  lua_pushinteger(L, sv[1]);
  return 2;
}

/* kill(pid, sig) -> 0 | nil, err */
static int shim_kill(lua_State *L)
{
  if (kill((pid_t)luaL_checkinteger(L, 1), (int)luaL_checkinteger(L, 2)) < 0)
    return fail(L);
  lua_pushinteger(L, 0);
  return 1;
}

static const luaL_Reg shim_funcs[] = {
  { "fork", shim_fork }, { "_exit", shim_exit }, { "wait", shim_wait },
  { "socketpair", shim_socketpair }, { "kill", shim_kill },
  { NULL, NULL }
};

int luaopen_posix_shim(lua_State *L)
{
  luaL_newlib(L, shim_funcs);
  return 1;
}
