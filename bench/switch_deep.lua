-- Switch ping-pong with the suspended side parked deep in C stack, per
-- stack kind (issue 9), against a LuaJIT coroutine resume/yield pair.
-- Usage: luajit bench/switch_deep.lua KIND [MIN_MS]
-- KIND: coroutine | only | shared | private (shared and private need an
-- lgreen with opts.stack; only is lgreen's one kind before that).
-- Two green threads of KIND, a and b: b descends DEPTH bytes of C stack
-- and parks there; a switches to b and b back to a, in a loop.  So every
-- switch suspends one side and resumes the other, and each round trip
-- suspends and resumes b at DEPTH: with shared stacks, that is the live
-- slice copied out and back.
-- How the depth is made and measured: on LuaJIT, pcall and Lua calls use
-- no C stack; a table.sort comparator does (table.sort -> lua_call -> the
-- VM, one C frame chain per level), so b recurses through comparators.
-- stackdepth.sp() (bench/stackdepth.c, built by bench/run.sh) returns the
-- address of a local of its own frame: the C stack used per level is
-- measured first (64 levels), the level count for each target depth is
-- chosen from it, and the depth b actually parks at (sp at its body's
-- first line minus sp at the line that switches) is printed in the note.
-- lgreen's own frames below the body (entry, pcall, the switch call) come
-- on top of it, the same few hundred bytes at every depth.
-- Prints "<name> <ns per round trip> [# note]": the round trip is two
-- one-way switches (resume+yield for the coroutine); CPU time; n doubled
-- until one run takes MIN_MS (default 50), then the best of 5 runs of n.
local greenlet = require "lgreen.greenlet"
local sp = require("stackdepth").sp

local kind, MIN = arg[1], (tonumber(arg[2]) or 50) / 1000
local clock = os.clock
local DEPTHS = { { 512, "0.5KiB" }, { 8192, "8KiB" }, { 65536, "64KiB" } }

-- ns per operation of run(n), which does n of them and returns seconds.
local function rate(run)
  local n = 1000
  while run(n) < MIN do n = n * 2 end
  local b = math.huge
  for _ = 1, 5 do b = math.min(b, run(n)) end
  return b / n * 1e9
end

-- sortrec(k, f): f() called k table.sort comparators deep; its result.
local function sortrec(k, f)
  if k == 0 then return f() end
  local r
  table.sort({ 1, 2 }, function(x, y)
    if r == nil then r = sortrec(k - 1, f) end
    return x < y
  end)
  return r
end

if kind == "coroutine" then
  local resume, yield = coroutine.resume, coroutine.yield
  local co = coroutine.create(function() while true do yield() end end)
  print(("coroutine.resume/yield %.1f"):format(rate(function(n)
    local t = clock()
    for _ = 1, n do resume(co) end
    return clock() - t
  end)))
  return
end

local opts
if kind == "shared" or kind == "private" then
  opts = { stack = kind }
  local ok, err = pcall(greenlet.new, function() end, greenlet.getcurrent(), opts)
  if not ok then error("this lgreen has no opts.stack: " .. tostring(err)) end
elseif kind ~= "only" then
  error("usage: switch_deep.lua coroutine|only|shared|private [MIN_MS]")
end

local top = sp()
local perlevel = (top - sortrec(64, sp)) / 64

-- ping-pong with b parked `levels` comparators deep: ns, measured depth.
local function pingpong(levels)
  local main = greenlet.getcurrent()
  local a, b, depth
  b = greenlet.new(function()
    local base = sp()
    sortrec(levels, function()
      depth = base - sp()
      local ga = a
      while true do ga:switch() end
    end)
  end, main, opts)
  a = greenlet.new(function()
    b:switch()			-- b descends, parks, and switches back
    return rate(function(n)
      local t = clock()
      for _ = 1, n do b:switch() end
      return clock() - t
    end)
  end, main, opts)
  local ok, ns = pcall(a.switch, a)
  if not b.dead then b:throw() end	-- unwinds b's comparators
  if not ok then return nil, ns end
  return ns, depth
end

local name = kind == "only" and "g:switch" or ("g:switch(%s)"):format(kind)
for _, d in ipairs(DEPTHS) do
  local levels = math.max(0, math.floor(d[1] / perlevel + 0.5))
  local ns, depth = pingpong(levels)
  if ns then
    print(("%s@%s %.1f # parked %d B deep: %d sort levels of %d B"):format(
      name, d[2], ns, depth, levels, perlevel))
  else
    print(("%s@%s # failed: %s"):format(name, d[2], tostring(depth):gsub("%s+", " ")))
  end
end
