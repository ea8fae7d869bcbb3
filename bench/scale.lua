-- lgreen with many green threads at once, per stack kind (issue 9).
-- Usage: luajit bench/scale.lua kinds
--        luajit bench/scale.lua idle N [default|private]
--        luajit bench/scale.lua sleepers N [default|private]
-- kinds prints "both" when greenlet.new takes opts.stack (shared and
-- private stacks), else "one"; then the kind lg.spawn_n's green threads
-- run on, or "?" when lgreen does not say.  default spawns with
-- lg.spawn_n; private as bench/kinds.lua's spawner says.
-- idle prints "<name> <N> <bytes per parked green thread> # <note>", or
-- "<name> <N> # failed: <why>" when not all N could park (for instance
-- private stacks past vm.max_map_count): the error is caught, not fatal.
-- sleepers prints "<name> <N> <wall ms> <peak RSS KiB> # <note>".
local lg = require "lgreen"
local benchlib = require "benchlib"
local kinds = require "kinds"

local mode, N, kind = arg[1], tonumber(arg[2]) or 100000, arg[3] or "default"

local function noop() end

-- kinds.spawner(kind), or a row saying why not and exit.
local function spawner(what)
  local ok, spawn, label, note = pcall(kinds.spawner, kind)
  if not ok then
    print(("lg.spawn(%s,%s) %d # failed: %s"):format(kind, what, N,
      (tostring(spawn):gsub("%s+", " "))))
    os.exit(0)
  end
  return spawn, label(what), note
end

-- Let every ready green thread run until none is left to start.
local function settle(count)
  repeat
    local c = count()
    lg.sleep(0)
  until count() == c
end

if mode == "kinds" then
  print(kinds.both() and "both" or "one", kinds.kindof(lg.spawn_n) or "?")
elseif mode == "idle" then
  local spawn, name, note = spawner("Event:wait")
  local ev, parked, finished = lg.Event(), 0, 0
  local function park()
    parked = parked + 1
    ev:wait()
    finished = finished + 1
  end
  spawn(noop)				-- hub, loop and a first stack exist
  lg.sleep(0)
  local before = benchlib.rss()
  -- A stack that cannot be had raises from spawn, or, when stacks are
  -- taken as green threads start, from the sleep that starts them.
  local spawned = 0
  local ok, err = pcall(function()
    for i = 1, N do
      spawn(park)
      spawned = i
    end
    settle(function() return parked end)
  end)
  local after = benchlib.rss()
  if not ok or parked < N then
    print(("%s %d # failed: %d spawned, %d parked of %d (%s)"):format(name, N,
      spawned, parked, N, ok and "no error raised" or (tostring(err):gsub("%s+", " "))))
    io.stdout:flush()
    os.exit(0)			-- the hub may be left half-way: no wake
  end
  local t0 = lg.now()
  ev:send()
  lg.run()
  local woke = lg.now() - t0
  print(("%s %d %.0f # %s%.0f MiB in all; %s in %.2f s"):format(name, N,
    (after - before) / N, note and note .. "; " or "", (after - before) / 2^20,
    finished == N and "all woken and finished" or
      ("only %d of %d finished"):format(finished, N), woke))
elseif mode == "sleepers" then
  -- as bench/sleepers.lua: the same PRNG sequence as every peer's
  local spawn, name, note = spawner("lg.sleep")
  local sleep, seed = lg.sleep, 1
  local t0 = lg.now()
  local ok, err = pcall(function()
    for _ = 1, N do
      seed = (seed * 16807) % 2147483647
      spawn(sleep, (seed % 100001) / 1e6)
    end
    lg.run()
  end)
  if not ok then
    print(("%s %d # failed: %s"):format(name, N, (tostring(err):gsub("%s+", " "))))
    io.stdout:flush()
    os.exit(0)			-- the hub may be left half-way
  end
  local wall = (lg.now() - t0) * 1000
  print(("%s %d %.0f %d%s"):format(name, N, wall, benchlib.status("VmHWM"),
    note and " # " .. note or ""))
else
  error("usage: scale.lua kinds | idle N [default|private] | sleepers N [default|private]")
end
