-- Switch ping-pong with the suspended side parked deep in C stack, per
-- stack kind (issue 9), against a LuaJIT coroutine resume/yield pair.
-- Usage: luajit bench/switch_deep.lua KIND [MIN_MS]
-- KIND: coroutine | only | shared | private (shared and private need an
-- lgreen with opts.stack; only is lgreen's one kind before that).
-- Green threads of KIND: a driver a and M = 16 partners b1..bM.  Each b
-- descends DEPTH bytes of C stack and parks there; a switches to b1, b1
-- back to a, then b2, and so on in turn.  Each round trip resumes and
-- suspends one b at DEPTH.  Why 16 partners and not one: lgreen may put a
-- and a lone b on two different shared stacks (the stacks branch picks
-- them round-robin from 4 and never the starter's own), and then nothing
-- is ever copied; with more partners than shared stacks, the b about to
-- run finds another b's slice on its stack, so each round trip copies a
-- DEPTH slice out and one in, as a server with many parked green threads
-- would.  Private stacks copy nothing at any M.
-- How the depth is made and measured: on LuaJIT, pcall and Lua calls use
-- no C stack; a table.sort comparator does (table.sort -> lua_call -> the
-- VM, one C frame chain per level), so b recurses through comparators.
-- stackdepth.sp() (bench/stackdepth.c, built by bench/run.sh) returns the
-- address of a local of its own frame.  Measured first: the C stack per
-- level (64 levels), and lgreen's entry frames (from the top of a KIND
-- green thread's stack to its body's first line; the top is the end of
-- the /proc/self/maps mapping that holds the body's sp, believed when
-- under 16 KiB away).  The level count for each target depth comes from
-- them, and the depth b actually parks at (top, or its body's first line
-- when no top is known, minus sp at the line that switches) is printed in
-- the note.  Not counted: the switch call's own frame and saved registers,
-- the same small amount at every depth.
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
  local n = 1024
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
  if not require("kinds").both() then error("this lgreen has no opts.stack") end
elseif kind ~= "only" then
  error("usage: switch_deep.lua coroutine|only|shared|private [MIN_MS]")
end

local perlevel = (sp() - sortrec(64, sp)) / 64

-- Bytes from the top of the stack that holds addr to addr, or nil when
-- the mapping that holds addr does not look like that stack's own.
local function fromtop(addr)
  for line in io.lines("/proc/self/maps") do
    local lo, hi = line:match("^(%x+)-(%x+)")
    lo, hi = tonumber(lo, 16), tonumber(hi, 16)
    if addr >= lo and addr < hi then
      return hi - addr < 16384 and hi - addr or nil
    end
  end
end

-- lgreen's entry frames of a KIND green thread, in bytes, or nil.
local function entrysize()
  local e
  greenlet.new(function() e = fromtop(sp()) end, greenlet.getcurrent(), opts):switch()
  return e
end
local entry = entrysize()

-- ping-pong of a with M partners parked `levels` comparators deep: ns
-- per round trip, measured depth.
local M = 16
local function pingpong(levels)
  local main = greenlet.getcurrent()
  local a, bs, depth = nil, {}, nil
  local function partner()
    local base = sp()
    local e = entry and (fromtop(base) or entry) or 0
    sortrec(levels, function()
      depth = e + base - sp()
      local ga = a
      while true do ga:switch() end
    end)
  end
  for i = 1, M do bs[i] = greenlet.new(partner, main, opts) end
  a = greenlet.new(function()
    for i = 1, M do bs[i]:switch() end	-- each descends, parks, comes back
    return rate(function(n)
      local t = clock()
      for _ = 1, n / M do
	for i = 1, M do bs[i]:switch() end
      end
      return clock() - t
    end)
  end, main, opts)
  local ok, ns = pcall(a.switch, a)
  for i = 1, M do			-- unwind their comparators
    if not bs[i].dead then bs[i]:throw() end
  end
  if not ok then return nil, ns end
  return ns, depth
end

local name = kind == "only" and "g:switch" or ("g:switch(%s)"):format(kind)
for _, d in ipairs(DEPTHS) do
  local levels = math.max(0, math.floor((d[1] - (entry or 0)) / perlevel + 0.5))
  local ns, depth = pingpong(levels)
  if ns then
    print(("%s@%s %.1f # %d partners parked %d B deep: %s%d x %d B of table.sort comparators"):format(
      name, d[2], ns, M, depth, entry and ("%d B lgreen entry + "):format(entry) or
      "from its body, lgreen's entry not known, + ", levels, perlevel))
  else
    print(("%s@%s # failed: %s"):format(name, d[2], tostring(depth):gsub("%s+", " ")))
  end
end
