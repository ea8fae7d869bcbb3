/*
** exdata.c — forget a host's per-thread pointer in a greenlet's lua_State.
**
** OpenResty's LuaJIT keeps one "exdata" pointer per lua_State, and
** lua_newthread copies the parent's.  ngx_lua stores the current request
** there, and every request API (ngx.var, ngx.say, ngx.sleep...) finds "its"
** request through the running state.  A greenlet's thread created from a
** request coroutine, or from a main state that ran init_worker_by_lua (its
** fake request is freed afterwards), would carry a request that is gone by
** the time the green thread runs: the request APIs would use freed memory.
** Cleared, they raise ngx_lua's "no request found" instead.
**
** The function exists only in OpenResty's LuaJIT: found at run time, so one
** core.so serves Debian's LuaJIT and PUC Lua too (there it does nothing).
*/
#include <dlfcn.h>
#include <stddef.h>

#include "greenlet.h"

typedef void (*lg_setexdata_fn)(lua_State *L, void *exdata);

/* Resolved once per process; the same value for every VM and thread, so a
** race only repeats the lookup.  (void *)-1: looked up, absent. */
static void *lg_setexdata_sym;

void lg_exdata_clear(lua_State *T)
{
  void *f = __atomic_load_n(&lg_setexdata_sym, __ATOMIC_RELAXED);
  if (f == NULL) {
    f = dlsym(RTLD_DEFAULT, "lua_setexdata");
    if (f == NULL) f = (void *)-1;
    __atomic_store_n(&lg_setexdata_sym, f, __ATOMIC_RELAXED);
  }
  if (f != (void *)-1) ((lg_setexdata_fn)f)(T, NULL);
}
