-- Spawn + finish per green thread, one at a time and in a burst, against
-- Lua coroutines in the same process (issue 9).
-- Usage: luajit bench/spawn_burst.lua [N]
-- One at a time: create one, let it run to its end, repeat N times.
-- Burst: create all N first, none of them started, then run them all
-- (for lgreen: N lg.spawn_n calls, then lg.run()).
-- Prints "<name> <ns one at a time> <ns in a burst> [# note]"; wall clock,
-- best of 5 runs each after a full collection.  The private-stack rows
-- appear when lgreen offers both kinds (see bench/scale.lua).
local lg = require "lgreen"
local greenlet = require "lgreen.greenlet"

local N = tonumber(arg and arg[1]) or 200000
local now = lg.now

local function best(f)
  local b = math.huge
  for _ = 1, 5 do
    collectgarbage("collect")
    local t = now()
    f()
    b = math.min(b, now() - t)
  end
  return b / N * 1e9
end

local function noop() end
local create, resume, wrap = coroutine.create, coroutine.resume, coroutine.wrap

local rows = {}
-- row(name, one, burst [, note]): one() and burst() each do N green threads.
local function row(name, one, burst, note)
  rows[#rows + 1] = ("%s %.0f %.0f%s"):format(name, best(one), best(burst),
    note and " # " .. note or "")
end

row("coroutine.wrap+call", function()
  for _ = 1, N do wrap(noop)() end
end, function()
  local t = {}
  for i = 1, N do t[i] = wrap(noop) end
  for i = 1, N do t[i]() end
end)

row("coroutine.create+resume", function()
  for _ = 1, N do resume(create(noop)) end
end, function()
  local t = {}
  for i = 1, N do t[i] = create(noop) end
  for i = 1, N do resume(t[i]) end
end)

-- The core, without the hub: opts nil or {stack = ...}.
local function greenlets(name, opts, note)
  local main = greenlet.getcurrent()
  row(name, function()
    for _ = 1, N do greenlet.new(noop, main, opts):switch() end
  end, function()
    local t = {}
    for i = 1, N do t[i] = greenlet.new(noop, main, opts) end
    for i = 1, N do t[i]:switch() end
  end, note)
end

-- On the hub: spawn(fn) starts one green thread.  One at a time, sleep(0)
-- lets it run to its end (main -> hub -> it -> hub -> main).
local function spawns(name, spawn, note)
  local sleep, run = lg.sleep, lg.run
  row(name, function()
    for _ = 1, N do spawn(noop) sleep(0) end
  end, function()
    for _ = 1, N do spawn(noop) end
    run()
  end, note)
end

local both = lg.spawn_with ~= nil and
  (pcall(greenlet.new, noop, greenlet.getcurrent(), { stack = "private" }))
if both then
  local S, P = { stack = "shared" }, { stack = "private" }
  local spawn_with = lg.spawn_with
  spawns("lg.spawn_n+finish", lg.spawn_n, "default stack kind")
  spawns("lg.spawn_with(shared)", function(f) return spawn_with(S, f) end)
  spawns("lg.spawn_with(private)", function(f) return spawn_with(P, f) end)
  greenlets("greenlet.new+switch", nil, "default stack kind; no hub")
  greenlets("greenlet.new(private)", P, "no hub")
else
  spawns("lg.spawn_n+finish", lg.spawn_n, "lgreen's only stack kind")
  greenlets("greenlet.new+switch", nil, "lgreen's only stack kind; no hub")
end
for _, r in ipairs(rows) do print(r) end
