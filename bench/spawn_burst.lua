-- Spawn + finish per green thread, one at a time and in a burst, against
-- Lua coroutines in the same run (issue 9).
-- Usage: luajit bench/spawn_burst.lua coroutine [N]
--        luajit bench/spawn_burst.lua lgreen [N] [default|private]
-- One at a time: create one, let it run to its end, repeat N times.
-- Burst: create all N first, none of them started, then run them all
-- (for lgreen: N spawns, then lg.run()).  lgreen is measured on the hub
-- (spawned as bench/kinds.lua's spawner says for the kind) and on the
-- core alone (greenlet.new, opts.stack = "private" for private).
-- Prints "<name> <ns one at a time> <ns in a burst> [# note]"; wall clock,
-- best of 5 runs each after a full collection.
local lg = require "lgreen"
local greenlet = require "lgreen.greenlet"
local kinds = require "kinds"

local what, kind = arg[1], arg[3] or "default"
local N = tonumber(arg[2]) or 200000
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
-- A run that raises (private stacks past vm.max_map_count, say) leaves
-- its column empty and says why in the note.
local function row(name, one, burst, note)
  local ok1, t1 = pcall(best, one)
  local ok2, t2 = pcall(best, burst)
  local why = {}
  if note then why[#why + 1] = note end
  if not ok1 then why[#why + 1] = "one at a time failed: " .. tostring(t1) end
  if not ok2 then why[#why + 1] = "burst failed: " .. tostring(t2) end
  rows[#rows + 1] = ("%s %s %s%s"):format(name,
    ok1 and ("%.0f"):format(t1) or "", ok2 and ("%.0f"):format(t2) or "",
    #why > 0 and " # " .. table.concat(why, "; "):gsub("%s+", " ") or "")
end

if what == "coroutine" then
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
elseif what == "lgreen" and (kind == "default" or kind == "private") then
  -- On the hub: one at a time, sleep(0) lets it run to its end
  -- (main -> hub -> it -> hub -> main).
  local ok, spawn, label, note = pcall(kinds.spawner, kind)
  if ok then
    local sleep, run = lg.sleep, lg.run
    row(label("noop"), function()
      for _ = 1, N do spawn(noop) sleep(0) end
    end, function()
      for _ = 1, N do spawn(noop) end
      run()
    end, note)
  else
    rows[#rows + 1] = ("lg.spawn(%s,noop) # failed: %s"):format(kind,
      (tostring(spawn):gsub("%s+", " ")))
  end
  -- The core alone, no hub.
  local main, opts = greenlet.getcurrent(), nil
  if kind == "private" then opts = { stack = "private" } end
  local name = opts and "greenlet.new(private)+switch" or "greenlet.new+switch"
  if opts and not kinds.both() then
    rows[#rows + 1] = name .. " # failed: this lgreen has no opts.stack"
  else
    row(name, function()
      for _ = 1, N do greenlet.new(noop, main, opts):switch() end
    end, function()
      local t = {}
      for i = 1, N do t[i] = greenlet.new(noop, main, opts) end
      for i = 1, N do t[i]:switch() end
    end, "no hub")
  end
else
  error("usage: spawn_burst.lua coroutine [N] | lgreen [N] [default|private]")
end
for _, r in ipairs(rows) do print(r) end
