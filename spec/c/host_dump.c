/*
** host_dump.c — a C host asks for the dump (lgreen_dump) while three green
** threads wait on an Event, and prints it: spec/64 checks what it says.
**   host_dump CPATH
*/
#include <stdio.h>

#include "testvm.h"

#include "../../c/lgreen.h"

static const char *chunk =
  "local lg = require 'lgreen'\n"
  "EV = lg.Event()\n"
  "for _ = 1, 3 do lg.spawn(function() EV:wait() end) end\n";

int main(int argc, char **argv)
{
  lua_State *L = test_newvm(argc > 1 ? argv[1] : "build/5.1/?.so");
  int rc = luaL_dostring(L, chunk);
  ok(rc == 0, "the chunk runs");
  ok(lgreen_step(L) == 0, "the green threads park: the hub is idle");
  rc = lgreen_dump(L);
  ok(rc == 0 && lua_type(L, -1) == LUA_TSTRING, "lgreen_dump pushes a string");
  if (rc == 0) fputs(lua_tostring(L, -1), stderr);
  else fprintf(stderr, "lgreen_dump: %s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
  ok(luaL_dostring(L, "EV:send()") == 0 && lgreen_step(L) == 0,
     "the host goes on: they finish");
  lua_close(L);
  return tap_done();
}
