-- Tarantool fibers: spawn+finish per fiber, N sleepers, idle memory per
-- parked fiber.  Runs without box.cfg: only the fiber scheduler is used.
-- Usage: tarantool tnt_fiber.lua spawn [N] | sleepers [N] | idle [N]
local fiber = require "fiber"
local clock = require "clock"

local mode, N = arg[1], tonumber(arg[2])

-- run.sh puts bench/ on LUA_PATH, as for the other Lua benchmarks
local benchlib = require "benchlib"
local status = benchlib.status
local function best(f, n) return benchlib.best(f, n, clock.monotonic) end

local rss = benchlib.rss

local function noop() end

if mode == "spawn" then
  N = N or 100000
  -- fiber.create runs the new fiber at once, so a no-op one has finished
  -- (and gone back to the fiber cache) when create returns.
  print(("fiber.create %.0f ns"):format(best(function()
    for _ = 1, N do fiber.create(noop) end
  end, N)))
  -- In batches of B alive at once, as bench/spawn.lua does.  (A finished
  -- joinable fiber keeps its stack, an mmap plus a guard page, until
  -- joined, and vm.max_map_count would cap one batch of all N.)
  local B = math.min(N, 1000)
  print(("fiber.new+join %.0f ns"):format(best(function()
    local t = {}
    for _ = 1, N / B do
      for i = 1, B do
        t[i] = fiber.new(noop)
        t[i]:set_joinable(true)
      end
      for i = 1, B do t[i]:join() end
    end
  end, N - N % B)))
elseif mode == "sleepers" then
  N = N or 100000
  local done, cond, seed = 0, fiber.cond(), 1
  local function sleeper(d)
    fiber.sleep(d)
    done = done + 1
    if done == N then cond:signal() end
  end
  local t0 = clock.monotonic()
  for _ = 1, N do
    seed = (seed * 16807) % 2147483647
    fiber.create(sleeper, (seed % 100001) / 1e6)
  end
  while done < N do cond:wait() end
  local wall = (clock.monotonic() - t0) * 1000
  print(("fiber.create(fiber.sleep) %d %.0f %d"):format(N, wall, status("VmHWM")))
elseif mode == "idle" then
  N = N or 20000
  local cond = fiber.cond()
  fiber.create(noop)
  local before = rss()
  -- Each fiber stack is two mappings: past vm.max_map_count, fiber.create
  -- raises; that is reported as a row, not a crash.
  local made = 0
  local ok, err = pcall(function()
    for i = 1, N do
      fiber.create(cond.wait, cond)	-- it runs and parks
      made = i
    end
  end)
  local after = rss()
  if ok then
    print(("fiber.cond:wait %d %.0f"):format(N, (after - before) / N))
  else
    print(("fiber.cond:wait %d # failed: %d of %d fibers created (%s)"):format(
      N, made, N, (tostring(err):gsub("%s+", " "))))
  end
  cond:broadcast()
  fiber.sleep(0)
else
  error("usage: tnt_fiber.lua spawn|sleepers|idle [N]")
end
os.exit(0)
