-- luv (libuv for Lua, run under LuaJIT): N sleepers, each a random
-- 0-100 ms (the PRNG sequence of every other sleepers benchmark).
-- Usage: luajit lua_luv.lua sleepers N timer|coroutine
-- timer: one uv timer and its callback per sleeper, the plain libuv way.
-- coroutine: one coroutine per sleeper, blocked in a sleep(ms) that
-- starts a uv timer whose callback resumes it.
-- uv timers count whole milliseconds: each delay is rounded to one.
-- Prints "<name> <N> <wall ms> <peak RSS KiB>".
local uv = require "luv"
local status = require("benchlib").status

local mode, N, how = arg[1], tonumber(arg[2]) or 100000, arg[3] or "timer"
if mode ~= "sleepers" or (how ~= "timer" and how ~= "coroutine") then
  error("usage: lua_luv.lua sleepers N timer|coroutine")
end

local function timer(ms)
  local t = uv.new_timer()
  t:start(ms, 0, function() t:close() end)
end

local running, resume, yield = coroutine.running, coroutine.resume, coroutine.yield
local function sleep(ms)
  local co, t = running(), uv.new_timer()
  t:start(ms, 0, function()
    t:close()
    assert(resume(co))
  end)
  yield()
end

local start = how == "timer" and timer or function(ms) coroutine.wrap(sleep)(ms) end
local name = how == "timer" and "uv.new_timer():start" or "coroutine+uv_timer"
local seed = 1
local t0 = uv.hrtime()
for _ = 1, N do
  seed = (seed * 16807) % 2147483647
  start(math.floor((seed % 100001) / 1000 + 0.5))
end
uv.run()
local wall = (uv.hrtime() - t0) / 1e6
print(("%s %d %.0f %d"):format(name, N, wall, status("VmHWM")))
