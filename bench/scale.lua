-- lgreen with many green threads at once, per stack kind (issue 9).
-- Usage: luajit bench/scale.lua kinds
--        luajit bench/scale.lua idle N [default|private]
--        luajit bench/scale.lua sleepers N [default|private]
-- kinds prints "both" when lgreen offers shared and private stacks
-- (greenlet.new takes opts.stack and lg.spawn_with exists), else "one".
-- default spawns with lg.spawn_n; private with
-- lg.spawn_with({stack = "private"}, ...).
-- idle prints "<name> <N> <bytes per parked green thread> # <note>", or
-- "<name> <N> # failed: <why>" when not all N could park (for instance
-- private stacks past vm.max_map_count): the error is caught, not fatal.
-- sleepers prints "<name> <N> <wall ms> <peak RSS KiB>".
local lg = require "lgreen"
local greenlet = require "lgreen.greenlet"
local benchlib = require "benchlib"

local mode, N, kind = arg[1], tonumber(arg[2]), arg[3] or "default"

local function noop() end

local function both_kinds()
  return lg.spawn_with ~= nil and
    (pcall(greenlet.new, noop, greenlet.getcurrent(), { stack = "private" }))
end

-- The spawner of a kind and the name of its rows.
local function spawner(what)
  if kind == "default" then return lg.spawn_n, ("lg.spawn_n(%s)"):format(what) end
  if kind ~= "private" then error("kind must be default or private, got " .. kind) end
  if not both_kinds() then
    error("this lgreen has no opts.stack / lg.spawn_with: only one stack kind")
  end
  local spawn_with, P = lg.spawn_with, { stack = "private" }
  return function(f, ...) return spawn_with(P, f, ...) end,
    ("lg.spawn_with(private,%s)"):format(what)
end

-- Let every ready green thread run until none is left to start.
local function settle(count)
  repeat
    local c = count()
    lg.sleep(0)
  until count() == c
end

if mode == "kinds" then
  print(both_kinds() and "both" or "one")
elseif mode == "idle" then
  N = N or 100000
  local spawn, name = spawner("Event:wait")
  local ev, parked, finished = lg.Event(), 0, 0
  local function park()
    parked = parked + 1
    ev:wait()
    finished = finished + 1
  end
  spawn(noop)				-- hub, loop and a first stack exist
  lg.sleep(0)
  local before = benchlib.rss()
  local ok, err = pcall(function() for _ = 1, N do spawn(park) end end)
  settle(function() return parked end)
  local after = benchlib.rss()
  local t0 = lg.now()
  ev:send()
  lg.run()
  local woke = lg.now() - t0
  if parked < N then
    print(("%s %d # failed: %d of %d parked (%s)"):format(name, N, parked, N,
      ok and "no error raised" or tostring(err):gsub("%s+", " ")))
  else
    print(("%s %d %.0f # %.0f MiB in all; %s in %.2f s"):format(name, N,
      (after - before) / N, (after - before) / 2^20,
      finished == N and "all woken and finished" or
        ("only %d of %d finished"):format(finished, N), woke))
  end
elseif mode == "sleepers" then
  -- as bench/sleepers.lua: the same PRNG sequence as every peer's
  N = N or 100000
  local spawn, name = spawner("lg.sleep")
  local sleep, seed = lg.sleep, 1
  local t0 = lg.now()
  for _ = 1, N do
    seed = (seed * 16807) % 2147483647
    spawn(sleep, (seed % 100001) / 1e6)
  end
  lg.run()
  local wall = (lg.now() - t0) * 1000
  print(("%s %d %.0f %d"):format(name, N, wall, benchlib.status("VmHWM")))
else
  error("usage: scale.lua kinds | idle N [default|private] | sleepers N [default|private]")
end
