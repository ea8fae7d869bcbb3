-- lgreen.debug: see inside a running hub.
--
--   local dbg = require "lgreen.debug"
--   dbg.threads()            -- every green thread: state, what it waits on, where
--   dbg.traceback(gt)        -- where a green thread is parked, and its spawn site
--   dbg.dump([file])         -- all of them, grouped by where they wait (Go style)
--   dbg.dump_on_signal(sig)  -- dump to stderr on a signal (env: LGREEN_DUMP_SIGNAL)
--   dbg.watch_blocking(ms [, fn])  -- report whoever runs ms without switching
--   dbg.top([seconds])       -- CPU time and switches per green thread
--
-- Loading this module turns accounting on for the VM: from then on each
-- switch reads the monotonic clock once, to charge running time ("cpu") to
-- the green thread that ran and to date state changes.  Without it, lgreen
-- keeps only its registry of green threads, which costs no clock reads.
local core = require "lgreen.core"
local G = core.greenlet
local gthread = require "lgreen.greenthread"

local D, H = core.debug, core.hub
local GreenThread = gthread.GreenThread
local getinfo, getlocal, dtraceback = debug.getinfo, debug.getlocal, debug.traceback
local error, pcall, type, tostring, pairs, ipairs, getmetatable, setmetatable =
  error, pcall, type, tostring, pairs, ipairs, getmetatable, setmetatable
local concat, sort, floor = table.concat, table.sort, math.floor
local fmt = string.format

local M = {}

-- lgreen's own Lua files live next to this one: their frames are the
-- library's, not the user's, and are left out of "where".
local libdir = getinfo(1, "S").source:match("^(@.*[/\\])[^/\\]*$") or ""
D.enable(libdir)

local function ours(ar)
  return ar.currentline <= 0 or (libdir ~= "" and ar.source:sub(1, #libdir) == libdir)
end

local function callable(fn)
  if type(fn) == "function" then return true end
  local mt = getmetatable(fn)
  return type(mt) == "table" and mt.__call ~= nil
end

-- -- Stacks ------------------------------------------------------------------

-- The frames of thread co (nil: the running one, from the caller of frames).
local function frames(co)
  local t, level = {}, co and 0 or 2
  while true do
    local ar
    if co then ar = getinfo(co, level, "Slnf") else ar = getinfo(level, "Slnf") end
    if not ar then return t end
    t[#t + 1] = ar
    level = level + 1
  end
end

local function frameline(ar)
  local s = ar.short_src .. ":" .. (ar.currentline > 0 and ar.currentline .. ":" or "")
  if ar.name then return s .. " in function '" .. ar.name .. "'" end
  if ar.what == "main" then return s .. " in main chunk" end
  if ar.what == "C" then return s .. " in ?" end
  return s .. " in function <" .. ar.short_src .. ":" .. ar.linedefined .. ">"
end

-- The user's part of a stack: from the first frame that is not lgreen's
-- (or C) to the last one, lgreen's spawn wrappers at the bottom left out.
-- Returns those frames' lines and the index of the first in fs.
local function userpart(fs)
  local first, last = 1, #fs
  while first <= last and ours(fs[first]) do first = first + 1 end
  while last >= first and ours(fs[last]) do last = last - 1 end
  local lines = {}
  for i = first, last do lines[#lines + 1] = frameline(fs[i]) end
  return lines, first
end

-- Labels of lgreen's modules, for "what it waits on".
local modlabel = {
  ["queue.lua"] = "Queue", ["event.lua"] = "Event", ["semaphore.lua"] = "Semaphore",
  ["greenthread.lua"] = "GreenThread", ["pool.lua"] = "GreenPool",
  ["socket.lua"] = "socket", ["ssl.lua"] = "ssl", ["http.lua"] = "http",
  ["resolve.lua"] = "resolve", ["process.lua"] = "process",
  ["signal.lua"] = "signal", ["waiters.lua"] = "Waiters", ["init.lua"] = "lgreen",
  ["debug.lua"] = "lgreen.debug",
}

-- Public methods of lgreen's classes, and the Lua helpers they call (their
-- upvalues): function -> "Class:method".  A method that ends in a tail
-- call (GreenPool:spawn) leaves a helper's frame, without a name on PUC Lua.
local publics

local function ourfn(f)
  if type(f) ~= "function" then return false end
  local ar = getinfo(f, "S")
  return ar.what == "Lua" and libdir ~= "" and ar.source:sub(1, #libdir) == libdir
end

local function publicmap()
  if publics then return publics end
  publics = {}
  local pool = require "lgreen.pool"
  local classes = {
    { "Queue", getmetatable(require("lgreen.queue").Queue()) },
    { "Event", getmetatable(require("lgreen.event")()) },
    { "Semaphore", getmetatable(require("lgreen.semaphore").Semaphore()) },
    { "GreenPool", getmetatable(pool.GreenPool(0)) },
    { "GreenPile", getmetatable(pool.GreenPile(0)) },
    { "GreenThread", GreenThread },
  }
  for _, c in ipairs(classes) do
    local label, mt = c[1], c[2]
    local t = type(mt) == "table" and (type(mt.__index) == "table" and mt.__index or mt) or {}
    local names = {}
    for k, v in pairs(t) do
      if type(k) == "string" and not k:match("^_") and ourfn(v) then names[#names + 1] = k end
    end
    sort(names)
    for _, k in ipairs(names) do publics[t[k]] = publics[t[k]] or label .. ":" .. k end
    for _, k in ipairs(names) do
      local i = 1
      while true do
        local n, u = debug.getupvalue(t[k], i)
        if not n then break end
        if publics[u] == nil and ourfn(u) then publics[u] = label .. ":" .. k end
        i = i + 1
      end
    end
  end
  return publics
end

-- What a parked green thread waits on, from the lgreen call its code made
-- (the frame just inside the library): "Queue:get", "sleep", "socket:receive".
-- With no code of its own (lgreen's signal dispatcher), from the innermost
-- frames: "signal.signal_wait".
local function waitlabel(fs, first)
  local api = first <= #fs and fs[first - 1]
  if not api then
    api = fs[1]
    local lua = fs[2]
    if not api then return "?" end
    if api.what ~= "C" or not lua then lua = api end
    local label = modlabel[lua.source:match("([^/\\]+)$") or ""]
    return (label and (label .. ".") or "") .. (api.name or "?")
  end
  if api.what == "tail" and fs[first - 2] then api = fs[first - 2] end	-- PUC 5.1
  local public = publicmap()[api.func]
  if public then return public end
  local name = api.name or "?"
  if api.what == "C" then return name end
  local label = modlabel[api.source:match("([^/\\]+)$") or ""]
  if not label then return name end
  return label .. (api.namewhat == "method" and ":" or ".") .. name
end

-- -- Records ---------------------------------------------------------------------

-- The deepest frame of co: lgreen's run wrapper, whose first locals say who
-- it runs (a GreenThread, or spawn_n's site).
local function spawner(co)
  local level = 0
  while getinfo(co, level + 1, "l") do level = level + 1 end
  local _, a = getlocal(co, level, 1)
  local _, b = getlocal(co, level, 2)
  return a, b
end

local function site(fn, line)
  if type(fn) ~= "function" then return nil end
  return getinfo(fn, "S").short_src .. ":" .. tostring(line)
end

local function seconds(s)
  if s < 10 then return fmt("%.2f s", s) end
  return fmt("%.0f s", s)
end

-- Fill in thread, greenlet and spawned_at of a record from list().
local function identify(r)
  local a, b
  if r.arg1 ~= nil or r.arg2 ~= nil then
    a, b = r.arg1, r.arg2
  elseif r.co then
    a, b = spawner(r.base or r.co)
  end
  r.arg1, r.arg2, r.base = nil, nil, nil
  if getmetatable(a) == GreenThread then
    r.thread, r.greenlet = a, a.greenlet
    r.spawned_at = site(a.site_fn, a.site_line)
  else
    r.thread = r.greenlet
    if type(a) == "function" and type(b) == "number" then r.spawned_at = site(a, b) end
  end
  return r
end

-- Fill in the rest: stack, where, waiting; since becomes a duration.
local function complete(r, now)
  if r.since then r.since = now - r.since end
  local fs
  if r.state == "running" then fs = frames(nil)
  elseif r.co then fs = frames(r.co)
  else fs = {} end
  local lines, first = userpart(fs)
  r.stack = lines
  r.where = lines[1] and lines[1]:match("^(.-:%d+):") or nil
  local w
  if r.hub then w = "the hub loop"
  elseif r.state == "running" then w = "running"
  elseif r.state == "new" then w = "not started yet"
  elseif r.state == "scheduled" then w = "spawned to start later"
  elseif r.state == "ready" then w = "ready to run"
  elseif r.state == "suspended" then w = "suspended by a switch"
  else
    w = waitlabel(fs, first)
    if r.io and not w:find("[:.]") then w = "socket:" .. w end	-- a C method
    if r.main then w = "main, in " .. w end
  end
  r.waiting = w
  r.co = nil
  return r
end

-- threads() -> { record... }, one per green thread (greenlets included),
-- by id.  A record: thread (the GreenThread, or the greenlet), greenlet,
-- id, name, parent (the id of the green thread that spawned it), state
-- ("running", "ready", "parked", "suspended", "new", "scheduled"),
-- waiting (what it waits on: "Queue:get", "sleep", "socket:receive"...),
-- fd and io ("read", "write") for a wait on a file descriptor, timeout
-- (seconds left), where ("file:line" of its own code it waits at), stack
-- (its own frames), spawned_at ("file:line"), since (seconds in this
-- state), switches and cpu (seconds it ran), and hub / main for those two.
function M.threads()
  local list, now = D.list(), D.clock()
  for i = 1, #list do complete(identify(list[i]), now) end
  sort(list, function(x, y) return x.id < y.id end)
  return list
end

local function findrecord(list, x)
  for _, r in ipairs(list) do
    if r.thread == x or r.greenlet == x then return r end
  end
end

local function whois(r)
  if not r then return "?" end
  return r.name and fmt("'%s' (id %d)", r.name, r.id) or fmt("id %d", r.id)
end

-- traceback(gt) -> string: where the green thread (GreenThread or
-- greenlet) is (the whole Lua traceback, lgreen's frames included), and
-- where it was spawned.
function M.traceback(gt)
  local g = gt
  if getmetatable(gt) == GreenThread then g = gt.greenlet end
  if type(g) ~= "userdata" or not pcall(function() return g.dead end) then
    error(("bad argument #1 to 'traceback' (GreenThread or greenlet expected, got %s)")
      :format(type(gt)), 2)
  end
  if g.dead then return "dead" end
  local list, now = D.list(), D.clock()
  local raw, T = nil, D.thread_of(g)
  for _, r in ipairs(list) do
    local own = r.base or r.co
    if identify(r).greenlet == g or (T and own == T) then raw = r end
  end
  if not raw then
    if getmetatable(gt) == GreenThread then
      return "not started yet\nspawned at " .. tostring(site(gt.site_fn, gt.site_line))
    end
    return "not started yet"
  end
  local co = raw.co
  local r = complete(raw, now)
  local byid = {}
  for _, x in ipairs(list) do byid[x.id] = x end
  local head = fmt("green thread %s: %s", whois(r), r.waiting)
  local tb
  if r.state == "running" then tb = dtraceback("", 2):gsub("^\n", "")
  elseif co then tb = dtraceback(co, "", 0):gsub("^\n", "")
  else tb = "stack traceback:\n\t(not started)" end
  local spawned = r.spawned_at and ("\nspawned at " .. r.spawned_at
    .. (r.parent and (" by " .. whois(byid[r.parent] or { id = r.parent })) or "")) or ""
  return head .. "\n" .. tb .. spawned
end

-- -- dump ------------------------------------------------------------------------

-- "3-6, 9, 12" from a sorted list of ids.
local function idranges(ids)
  local out, i = {}, 1
  while i <= #ids do
    local j = i
    while j < #ids and ids[j + 1] == ids[j] + 1 do j = j + 1 end
    out[#out + 1] = j > i and (ids[i] .. "-" .. ids[j]) or tostring(ids[i])
    i = j + 1
    if #out == 8 and i <= #ids then out[#out + 1] = "..." break end
  end
  return concat(out, ", ")
end

local function groupkey(r)
  return concat({ r.state, r.waiting, r.io or "", r.spawned_at or "", r.parent or "",
    concat(r.stack, "\n") }, "\0")
end

-- format() -> the dump as a string (what dump writes).
function M.format()
  local list = M.threads()
  local byid, groups, order = {}, {}, {}
  for _, r in ipairs(list) do byid[r.id] = r end
  for _, r in ipairs(list) do
    local k = groupkey(r)
    local g = groups[k]
    if not g then
      g = { first = r, members = {} }
      groups[k] = g
      order[#order + 1] = g
    end
    g.members[#g.members + 1] = r
  end
  sort(order, function(x, y)
    if #x.members ~= #y.members then return #x.members > #y.members end
    return x.first.id < y.first.id
  end)
  local out = { fmt("lgreen: %d green thread%s in %d group%s, largest first", #list,
    #list == 1 and "" or "s", #order, #order == 1 and "" or "s") }
  for _, g in ipairs(order) do
    local r, ms = g.first, g.members
    local ids, names, lo, hi = {}, {}, math.huge, -math.huge
    for _, m in ipairs(ms) do
      ids[#ids + 1] = m.id
      if m.name and #names < 3 then names[#names + 1] = "'" .. m.name .. "'" end
      if m.since then lo, hi = math.min(lo, m.since), math.max(hi, m.since) end
    end
    local head = fmt("%d %s", #ms, r.state == "parked" and ("parked on " .. r.waiting)
      or r.waiting)
    if r.io then
      local fds = {}
      for _, m in ipairs(ms) do fds[#fds + 1] = m.fd end
      sort(fds)
      head = head .. fmt(" (%s, fd %s)", r.io, idranges(fds))
    end
    if lo <= hi then
      head = head .. (lo < hi - 0.005 and fmt(" for %s to %s", seconds(lo), seconds(hi))
        or fmt(" for %s", seconds(hi)))
    end
    out[#out + 1] = ""
    out[#out + 1] = head
    out[#out + 1] = fmt("  %s %s%s", #ids == 1 and "id" or "ids", idranges(ids),
      #names > 0 and ("  " .. concat(names, " ") .. (#names < #ms and " ..." or "")) or "")
    for _, line in ipairs(r.stack) do out[#out + 1] = "  " .. line end
    if r.spawned_at then
      out[#out + 1] = "  spawned at " .. r.spawned_at
        .. (r.parent and (" by " .. whois(byid[r.parent] or { id = r.parent })) or "")
    end
  end
  return concat(out, "\n") .. "\n"
end

-- dump([file]): write format() to file (default io.stderr).
function M.dump(file)
  file = file or io.stderr
  if io.type(file) ~= "file" then
    error(("bad argument #1 to 'dump' (file expected, got %s)"):format(type(file)), 2)
  end
  file:write(M.format())
  file:flush()
end

-- dump_on_signal(sig) -> handler: dump to stderr each time sig arrives
-- (a number, "SIGUSR1" or "USR1"); the program goes on.  handler:cancel()
-- stops it.  LGREEN_DUMP_SIGNAL=USR1 in the environment does the same for
-- a program that loads lgreen, without changing it.
function M.dump_on_signal(sig)
  local signal = require "lgreen.signal"
  local ok, h = pcall(signal.signal, sig, function() M.dump(io.stderr) end)
  if not ok then error((tostring(h):gsub("'signal'", "'dump_on_signal'")), 2) end
  return h
end

-- -- watch_blocking ------------------------------------------------------------

local reporter, report_fn

local function deliver()
  while true do
    local r = D.next_report()
    local list = M.threads()
    for _, x in ipairs(list) do
      if x.id == r.id then r.thread = x.thread end
    end
    local ok, err = pcall(report_fn, r)
    if not ok then
      io.stderr:write("lgreen.debug: error in the watch_blocking function: ",
        tostring(err), "\n")
    end
  end
end

-- watch_blocking(ms [, fn]) / watch_blocking(false): report a green thread
-- (or main, or the hub's callbacks) that runs ms milliseconds without
-- switching.  A watchdog thread prints one line to stderr while it still
-- runs (name, id, how long, where it was resumed); when it switches out, a
-- second report gives the total and the traceback where it switched out.
-- With fn, nothing is printed: fn(report) is called for both, in a green
-- thread of its own once the blocker switched out; report has phase
-- ("blocking" or "blocked"), id, name, thread, ms, resumed_at and (second
-- report) traceback.
function M.watch_blocking(ms, fn)
  if ms == false then
    D.watch(0, false)
    return
  end
  if type(ms) ~= "number" or not (ms > 0) or ms > 1e9 then
    error("bad argument #1 to 'watch_blocking' (milliseconds > 0 or false expected)", 2)
  end
  if fn ~= nil and not callable(fn) then
    error(("bad argument #2 to 'watch_blocking' (function expected, got %s)"):format(type(fn)), 2)
  end
  report_fn = fn
  if fn and not reporter then
    reporter = G.new(deliver, H.greenlet(), { name = "lgreen.debug reporter" })
    H.schedule(reporter)
  end
  D.watch(ms, fn ~= nil)
end

-- -- top -----------------------------------------------------------------------

local function fmt_top(t)
  local out = { fmt("lgreen top: %.2f s; the hub waited in the loop %.1f%%, "
    .. "ran callbacks and scheduling %.1f%%", t.elapsed, t.loop_wait / t.elapsed * 100,
    t.hub / t.elapsed * 100),
    fmt("  %8s %7s %9s  %s", "id", "cpu %", "switches", "name / waiting") }
  for _, r in ipairs(t) do
    out[#out + 1] = fmt("  %8d %7.1f %9d  %s%s", r.id, r.share * 100, r.switches,
      r.name and ("'" .. r.name .. "' ") or "", r.waiting or "")
  end
  return concat(out, "\n") .. "\n"
end

-- top([seconds]) -> table: sleeps seconds (default 1) in the calling green
-- thread, then returns every green thread's CPU time (cpu, in seconds, and
-- share of the interval) and switches over it, busiest first (array
-- part), with elapsed, loop_wait (seconds the hub waited in the loop) and
-- hub (seconds it ran callbacks and scheduled); tostring() formats it.
function M.top(s)
  if s == nil then s = 1 end
  if type(s) ~= "number" or not (s > 0) or s > 1e9 then
    error("bad argument #1 to 'top' (seconds > 0 expected)", 2)
  end
  local before, s0 = {}, D.stats()
  for _, r in ipairs(D.list()) do before[r.id] = r end
  H.sleep(s)
  local list, s1 = M.threads(), D.stats()
  local t = { elapsed = s1.clock - s0.clock, loop_wait = s1.loopwait - s0.loopwait }
  for _, r in ipairs(list) do
    local b = before[r.id]
    local cpu = r.cpu - (b and b.cpu or 0)
    local row = { id = r.id, name = r.name, thread = r.thread, waiting = r.waiting,
      cpu = cpu, switches = r.switches - (b and b.switches or 0) }
    if r.hub then	-- its running time includes the loop's wait
      row.cpu = cpu - t.loop_wait
      t.hub = row.cpu
    end
    row.share = row.cpu / t.elapsed
    t[#t + 1] = row
  end
  t.hub = t.hub or 0
  sort(t, function(x, y)
    if x.cpu ~= y.cpu then return x.cpu > y.cpu end
    return x.id < y.id
  end)
  return setmetatable(t, { __tostring = fmt_top })
end

-- -- The environment -------------------------------------------------------------

local envsig = os.getenv("LGREEN_DUMP_SIGNAL")
if envsig and envsig ~= "" then
  local ok, err = pcall(M.dump_on_signal, envsig)
  if not ok then
    error("LGREEN_DUMP_SIGNAL: " .. (tostring(err):match("%((.*)%)$") or tostring(err)), 0)
  end
end

return M
