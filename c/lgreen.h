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

#define LGREEN_VERSION "0.1.0"

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

#endif
