-- cqueues (run under LuaJIT): spawn+finish per coroutine, N sleepers, idle
-- memory per parked coroutine.  cqueues threads are plain Lua coroutines
-- driven by a controller (cq:loop / cq:step).
-- Usage: luajit lua_cqueues.lua spawn [N] | sleepers [N] | idle [N]
local cqueues = require "cqueues"
local condition = require "cqueues.condition"

local mode, N = arg[1], tonumber(arg[2])
local now = cqueues.monotime

local benchlib = require "benchlib"
local status = benchlib.status
local function best(f, n) return benchlib.best(f, n, now) end

local rss = benchlib.rss

local function noop() end

if mode == "spawn" then
  N = N or 100000
  local cq, B = cqueues.new(), math.min(N, 1000)
  -- In batches of B alive at once, as bench/spawn.lua does.
  print(("cq:wrap+loop %.0f ns"):format(best(function()
    for _ = 1, N / B do
      for _ = 1, B do cq:wrap(noop) end
      assert(cq:loop())
    end
  end, N - N % B)))
elseif mode == "sleepers" then
  N = N or 100000
  local cq, seed, sleep = cqueues.new(), 1, cqueues.sleep
  local t0 = now()
  for _ = 1, N do
    seed = (seed * 16807) % 2147483647
    cq:wrap(sleep, (seed % 100001) / 1e6)
  end
  assert(cq:loop())
  local wall = (now() - t0) * 1000
  print(("cq:wrap(cqueues.sleep) %d %.0f %d"):format(N, wall, status("VmHWM")))
elseif mode == "idle" then
  N = N or 20000
  local cq, cond = cqueues.new(), condition.new()
  cq:wrap(noop)
  assert(cq:step(0))
  local before = rss()
  for _ = 1, N do cq:wrap(cond.wait, cond) end
  assert(cq:step(0))			-- all of them start and park
  local after = rss()
  print(("cqueues.condition:wait %d %.0f"):format(N, (after - before) / N))
  cond:signal()
  assert(cq:loop())
else
  error("usage: lua_cqueues.lua spawn|sleepers|idle [N]")
end
