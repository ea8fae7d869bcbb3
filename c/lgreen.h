/*
** lgreen.h — embedding API.
**
** A C host that runs Lua (LuaJIT, PUC 5.1 or 5.4) needs nothing but this
** header to make lgreen available to its scripts.
**
** Greenlet state belongs to one lua_State's VM: nothing in lgreen is shared
** between VMs, so independent VMs may run in different OS threads at the same
** time.  Greenlets of one VM must all run on the OS thread that created the
** first of them, and the VM must be closed (lua_close) from that thread too.
*/
#ifndef LGREEN_H
#define LGREEN_H

#include <lua.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LGREEN_VERSION "0.1.0"
/* major * 10000 + minor * 100 + patch; lgreen_version() is the library's */
#define LGREEN_VERSION_NUM 100

#if defined(__GNUC__)
#define LGREEN_API __attribute__((visibility("default")))
#else
#define LGREEN_API
#endif

/* Open the core module for the VM of L and push its table, like
** require "lgreen.core" does.  The state that first calls it becomes the
** main greenlet's state: call it from the host's own C stack, before any
** greenlet runs.  Calling it again returns the same table. */
LGREEN_API int luaopen_lgreen_core(lua_State *L);

/* -- Running the hub inside a host's event loop ----------------------------
**
** By default the hub owns a libev loop and runs it whenever a greenlet
** blocks.  A host with an event loop of its own has two ways in:
**
** 1. It runs libev: hand the hub that loop with lgreen_setloop before
**    anything in the VM uses the hub.  lgreen's watchers then live in the
**    host's loop, and so does an ev_prepare of lgreen's that runs the
**    greenlets they made ready before each poll: the host only runs
**    ev_run, which returns once neither it nor lgreen has work left.
**    (Calling lgreen_step after ev_run returns is harmless.)  Blocking
**    calls (lg.sleep...) in the main greenlet from a host callback, while
**    ev_run runs, raise "cannot block the main greenlet inside the host's
**    loop; spawn a green thread".  lua_close stops every watcher lgreen
**    put on the loop: the loop outlives the VM.
** 2. It runs another poller: watch lgreen_backend_fd for readability, wait
**    at most lgreen_next_timeout seconds, and call lgreen_step after either.
**
** All of these must be called from the host's own C stack, the VM's main
** greenlet, never from inside a greenlet.
**
** A host linked with liblgreen (pkg-config lgreen, or lgreen-5.4) calls
** one of them (or lgreen_getloop) before its scripts require "lgreen":
** that registers this copy as lgreen.core in package.loaded.
*/

struct ev_loop;

/* Use the host's libev loop.  Opens lgreen.core in L's VM if needed.  0 on
** success, -1 if the hub already has a loop (it was used before). */
LGREEN_API int lgreen_setloop(lua_State *L, struct ev_loop *loop);

/* Run every greenlet that is ready, and (own loop) poll it without
** blocking, until nothing more is ready.  Returns 1 if timers or watchers
** of lgreen are still active (call again later), 0 if the hub is idle (no
** greenlet waits on a timer, an fd or a C-side event), -1 on an error
** (its message is left on top of L's stack). */
LGREEN_API int lgreen_step(lua_State *L);

/* The epoll fd of the hub's own loop, readable when lgreen_step has work;
** -1 with a host's loop or a backend other than epoll. */
LGREEN_API int lgreen_backend_fd(lua_State *L);

/* Seconds until lgreen_step is due at the latest (0: now), or -1 when no
** timer is pending.  Deadlines are tracked from the first call of this or
** lgreen_backend_fd on; a cancelled timer may cause one early wake-up. */
LGREEN_API double lgreen_next_timeout(lua_State *L);

/* -- Seeing inside ------------------------------------------------------------
**
** Push the report of lgreen.debug.dump (every green thread, grouped by
** where it waits) as a string onto L's stack and return 0, or push an
** error message and return -1.  Call it from the host's own C stack, like
** the functions above; it loads lgreen.debug (and with it accounting) on
** first use. */
LGREEN_API int lgreen_dump(lua_State *L);

/* The hub's libev loop: the host's (lgreen_setloop), or its own, made now
** if need be. */
LGREEN_API struct ev_loop *lgreen_getloop(lua_State *L);

/* LGREEN_VERSION_NUM of the library linked (the header's may differ). */
LGREEN_API int lgreen_version(void);

/* Call fn(G, ud) each time a greenlet is switched in, G its lua_State
** (the VM's main state for the main greenlet), before it runs on: where a
** host sets per-greenlet context (the state's "current request").  fn runs
** on the C stack of the greenlet leaving: it must not raise, nor call Lua
** that could switch.  NULL removes it; unset, the cost is one branch. */
typedef void (*lgreen_SwitchFn)(lua_State *G, void *ud);
LGREEN_API void lgreen_onswitch(lua_State *L, lgreen_SwitchFn fn, void *ud);

#ifdef __cplusplus
}
#endif

#endif
