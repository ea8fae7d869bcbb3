-- Green threads on the hub (eventlet.greenthread): spawn, spawn_n,
-- spawn_after, GreenThread:wait/link/unlink/kill/cancel.
local core = require "lgreen.core"
local Waiters = require "lgreen.waiters"
local args = require "lgreen.args"
require "lgreen.greenlet"	-- g.dead, g.name...: greenlets' fields

local G, H = core.greenlet, core.hub
local newgreenlet, getcurrent, Exit = G.new, G.getcurrent, G.GreenletExit
local schedule, schedule_after, throw, site = H.schedule, H.schedule_after, H.throw, H.site
local sleep = H.sleep
local hubgreenlet = H.greenlet()	-- parent of every greenthread
local xpcall, pcall, error, select, type, tostring, setmetatable, getmetatable =
  xpcall, pcall, error, select, type, tostring, setmetatable, getmetatable
local traceback = debug.traceback
local getinfo = debug.getinfo
local unpack = unpack or table.unpack
local stderr = io.stderr

-- Does xpcall pass arguments (LuaJIT, 5.2+)?  PUC 5.1's does not.
local xpcall_args = select(2, xpcall(function(a) return a end, traceback, true)) == true

local GreenThread = {}
local name_of

-- An uncaught error travels to the report wrapped with its traceback.
-- One caught already (re-raised by lgreen's own wrappers, lg.serve's)
-- keeps the traceback of where it was first raised.
local Caught = {}
local function on_error(err)
  if err == Exit or getmetatable(err) == Caught then return err end
  local tb = traceback(tostring(err), 2)
  -- the frames below the greenthread's function are lgreen's, not the user's
  tb = tb:gsub("\n%s*%[C%]: in function 'xpcall'.*$", "")
  return setmetatable({ err = err, tb = tb }, Caught)
end

local function where(fn, line)
  if not fn then return "?" end
  local src = getinfo(fn, "S").short_src
  return src .. ":" .. tostring(line)
end

-- How every report names a thread (a greenlet): 0x55d1... or
-- 'name' (0x55d1...).
local function label(g)
  local addr = tostring(g):match("0x%x+") or "?"
  local n = g.name
  if n then return ("'%s' (%s)"):format(n, addr) end
  return addr
end

-- The program's handler of uncaught errors (lg.on_error), or nil.
local handler = nil

local function default_report(what, name, at, tb)
  stderr:write(("lgreen: uncaught error in %s %s spawned at %s:\n%s\n")
    :format(what, name, at, tb))
  stderr:flush()
end

-- Once, to the handler, else to stderr, naming the thread (a GreenThread,
-- or the greenlet spawn_n returned) and where it was spawned.  A handler
-- that fails falls back to stderr: the error is never lost.
local function report_error(what, thread, g, fn, line, caught)
  local name, at = label(g), where(fn, line)
  local h = handler
  if h then
    local ok, herr = pcall(h, caught.err, caught.tb, thread, name, at)
    if ok then return end
    default_report(what, name, at, caught.tb)
    local _, msg = pcall(tostring, herr)
    stderr:write(("lgreen: the lg.on_error handler failed: %s\n"):format(msg))
    stderr:flush()
    return
  end
  default_report(what, name, at, caught.tb)
end

local function report(gt, caught)
  return report_error("greenthread", gt, gt.greenlet, gt.site_fn, gt.site_line, caught)
end

local function callable(fn)
  if type(fn) == "function" then return true end
  local mt = getmetatable(fn)
  return mt ~= nil and type(mt) == "table" and mt.__call ~= nil
end

local function run_links(gt)
  local links = gt.links
  gt.links = false
  for i = 1, #links do
    local l = links[i]
    local ok, err = xpcall(function() return l[1](gt, unpack(l, 2, l.n)) end, on_error)
    if not ok and getmetatable(err) == Caught then
      report_error("a link of greenthread", gt, gt.greenlet, gt.site_fn, gt.site_line, err)
    end
  end
end

-- The greenthread is over: keep its outcome, wake waiters, call links.
local function finish(gt, ok, ...)
  gt.dead = true
  if ok then
    gt.n, gt.results = select("#", ...), { ... }
  else
    local err = ...
    if getmetatable(err) == Caught then
      local owner = gt.owner	-- a TaskGroup takes its members' errors
      if not (owner and owner:_claim(gt, err.err, err.tb)) then report(gt, err) end
      err = err.err
    end
    gt.failed, gt.error = true, err
  end
  if gt.waiters then gt.waiters:wake_all() end
  if gt.links then run_links(gt) end
end

local run
if xpcall_args then
  run = function(gt, fn, ...)
    return finish(gt, xpcall(fn, on_error, ...))
  end
else
  run = function(gt, fn, ...)
    local n, args = select("#", ...), { ... }
    return finish(gt, xpcall(function() return fn(unpack(args, 1, n)) end, on_error))
  end
end

-- The GreenThread of greenlet g spawned at sf:sl, with every field it will
-- ever hold, so the table is sized once.
local function handle(g, sf, sl)
  return setmetatable({ greenlet = g, dead = false, site_fn = sf,
    site_line = sl, n = false, results = false, failed = false,
    error = false, waiters = false, links = false }, GreenThread)
end

-- Run fn(...) here and now; a dead GreenThread holding its outcome (for a
-- pool member spawning into its own full pool).
local function M_inline(fn, ...)
  local t = handle(getcurrent(), site(3))
  run(t, fn, ...)
  -- GreenletExit here was a kill of the caller (a pool's killall): it goes
  -- on, so the caller dies instead of carrying on after the spawn
  if t.failed and t.error == Exit then error(Exit, 0) end
  return t
end

local function new(fn, level, name, sf, sl)
  if not callable(fn) then
    args.argerror(1, name, "function expected, got " .. type(fn), level + 1)
  end
  local g = newgreenlet(run, hubgreenlet)
  if not sf then sf, sl = site(level + 1) end
  return handle(g, sf, sl), g
end

local M = { inline = M_inline, callable = callable }

function M.spawn(fn, ...)
  local gt, g = new(fn, 2, "spawn")
  schedule(g, gt, fn, ...)
  return gt
end

-- spawn, reported as spawned at the site sf, sl (GreenPool calls it under
-- pcall, to free its slot if spawning fails).
function M.spawn_at(sf, sl, fn, ...)
  local gt, g = new(fn, 2, "spawn", sf, sl)
  schedule(g, gt, fn, ...)
  return gt
end

-- spawn_with(opts, fn, ...): spawn with greenlet options: name, stack
-- ("shared" or "private"), stack_size (bytes, a private stack).
function M.spawn_with(opts, fn, ...)
  if type(opts) ~= "table" then
    args.argerror(1, "spawn_with", "options table expected, got " .. type(opts))
  end
  if not callable(fn) then
    args.argerror(2, "spawn_with", "function expected, got " .. type(fn))
  end
  local ok, g = pcall(newgreenlet, run, hubgreenlet, opts)
  if not ok then
    local why = tostring(g):match("%((.*)%)$") or tostring(g)
    args.argerror(1, "spawn_with", why)
  end
  local gt = handle(g, site(2))
  schedule(g, gt, fn, ...)
  return gt
end

function M.spawn_after(seconds, fn, ...)
  if seconds == nil then args.argerror(1, "spawn_after", "seconds expected, got nil") end
  args.check_seconds(seconds, 1, "spawn_after")
  local gt, g = new(fn, 2, "spawn_after")
  schedule_after(seconds, g, gt, fn, ...)
  return gt
end

-- spawn_n: no GreenThread kept; errors are reported the same way.
local function run_n(site_fn, site_line, fn, ...)
  local ok, err
  if xpcall_args then
    ok, err = xpcall(fn, on_error, ...)
  else
    local n, args = select("#", ...), { ... }
    ok, err = xpcall(function() return fn(unpack(args, 1, n)) end, on_error)
  end
  if not ok and getmetatable(err) == Caught then
    local g = getcurrent()
    report_error("greenthread", g, g, site_fn, site_line, err)
  end
end

local function spawn_n(sf, sl, fn, ...)
  if not callable(fn) then
    args.argerror(1, "spawn_n", "function expected, got " .. type(fn), 3)
  end
  local g = newgreenlet(run_n, hubgreenlet)
  if not sf then sf, sl = site(3) end
  schedule(g, sf, sl, fn, ...)
  return g
end

function M.spawn_n(fn, ...)
  local g = spawn_n(nil, nil, fn, ...)	-- not a tail call: site(3) is our caller
  return g
end

-- spawn_n, reported as spawned at the site sf, sl.
function M.spawn_n_at(sf, sl, fn, ...)
  return spawn_n(sf, sl, fn, ...)
end

-- A spawn_n member of a group (GreenPool): owner:_done(g) runs when fn
-- ends, however it ends, before its error is reported (with the traceback
-- of where it was raised); and, if g is killed before it ever started,
-- in the killer (throw_g).
local members_n = setmetatable({}, { __mode = "k" })	-- greenlet -> owner

local function run_member(site_fn, site_line, owner, fn, ...)
  local ok, err
  if xpcall_args then
    ok, err = xpcall(fn, on_error, ...)
  else
    local n, args = select("#", ...), { ... }
    ok, err = xpcall(function() return fn(unpack(args, 1, n)) end, on_error)
  end
  local g = getcurrent()
  members_n[g] = nil
  owner:_done(g)
  if not ok and getmetatable(err) == Caught then
    report_error("greenthread", g, g, site_fn, site_line, err)
  end
end

function M.spawn_member_n(sf, sl, owner, fn, ...)
  local g = newgreenlet(run_member, hubgreenlet)
  schedule(g, sf, sl, owner, fn, ...)
  members_n[g] = owner
  return g
end

-- What an inline spawn_n returns: a greenlet that is over (killing it does
-- nothing), made once.
local finished_g
function M.finished()
  if not finished_g then
    finished_g = newgreenlet(function() end)
    finished_g:switch()
  end
  return finished_g
end

-- The message handler that wraps an error with its traceback, for lgreen's
-- own wrappers that must clean up and raise it again (lg.serve's).
M.catch = on_error

-- gt.name: its greenlet's name (read and write); other keys as usual.
GreenThread.__index = function(gt, k)
  local m = GreenThread[k]
  if m ~= nil then return m end
  if k == "name" then return gt.greenlet.name end
  return nil
end

GreenThread.__newindex = function(gt, k, v)
  if k == "name" then
    if type(v) ~= "string" then
      error(("bad value for 'name' (string expected, got %s)"):format(type(v)), 2)
    end
    gt.greenlet.name = v
  else
    rawset(gt, k, v)
  end
end

-- The name in reports and tostring: one format for every thread.
function name_of(gt)
  return label(gt.greenlet)
end

-- Results of the function, or its error raised again (same value).  A
-- killed greenthread raises what killed it (GreenletExit by default).
function GreenThread:wait()
  while not self.dead do
    if getcurrent() == self.greenlet then
      error("GreenThread:wait(): a greenthread cannot wait for itself", 2)
    end
    self.waiters = self.waiters or Waiters.new()
    self.waiters:wait()
  end
  if self.failed then error(self.error, 0) end
  return unpack(self.results, 1, self.n)
end

-- Call fn(gt, ...) when it ends (now, if it has).
function GreenThread:link(fn, ...)
  if not callable(fn) then
    args.argerror(1, "link", "function expected, got " .. type(fn))
  end
  local l = { n = select("#", ...) + 1, fn, ... }
  self.links = self.links or {}
  self.links[#self.links + 1] = l
  if self.dead then run_links(self) end
end

function GreenThread:unlink(fn)
  local links = self.links
  if not links then return false end
  for i = #links, 1, -1 do
    if links[i][1] == fn then
      table.remove(links, i)
      return true
    end
  end
  return false
end

-- Raise err in gt (not the running one) where it is blocked, without
-- yielding: "thrown" (the caller may yield so it dies now), "cancelled"
-- (it had not started: it never will, and is over already) or nil (it is
-- not blocked in the hub).
local function throw_gt(gt, err)
  local what = throw(gt.greenlet, err)
  if what == "cancelled" then finish(gt, false, err) end
  return what
end

-- The same for a greenlet of the hub (what spawn_n returns).
local function throw_g(g, err)
  local what = throw(g, err)
  local owner = what == "cancelled" and members_n[g]
  if owner then
    members_n[g] = nil
    owner:_done(g)
  end
  return what
end

-- The end of GreenThread:kill and kill: raise err (default GreenletExit)
-- in x, whose greenlet is g: at once if g is the running one, else where
-- it is blocked, through thrower (throw_gt or throw_g), and yield so it
-- dies now.  who names the kill in the error if it is not blocked in the
-- hub (level 3: the caller of the kill; call this as a statement, not a
-- tail call).
local function kill_with(thrower, x, g, err, who)
  if err == nil then err = Exit end
  if g == getcurrent() then error(err, 0) end
  local what = thrower(x, err)
  if what == "thrown" then
    sleep(0)
  elseif what ~= "cancelled" then
    error(who .. ": it is not blocked in the hub", 3)
  end
end

-- Raise err (default GreenletExit) in it wherever it is blocked; if it has
-- not started, it never will.  The caller yields so it can die now.
function GreenThread:kill(err)
  if self.dead then return end
  kill_with(throw_gt, self, self.greenlet, err, "GreenThread:kill()")
end

-- Kill it only if it has not started yet.
function GreenThread:cancel(err)
  if not self.dead and not self.greenlet.started then self:kill(err) end
end

function GreenThread:__tostring()
  return ("GreenThread %s (%s)"):format(name_of(self), self.dead and "dead" or "alive")
end

M.GreenThread = GreenThread

local field = G._field
local function is_greenlet(x)
  return type(x) == "userdata" and (pcall(field, x, "dead"))
end

-- kill(x [, err]): x is a GreenThread or what spawn_n returns.
function M.kill(x, err)
  if getmetatable(x) == GreenThread then return x:kill(err) end
  if not is_greenlet(x) or (not x.dead and x.parent ~= hubgreenlet) then
    args.argerror(1, "kill", "GreenThread or greenlet of spawn_n expected, got "
      .. (is_greenlet(x) and "another greenlet" or type(x)))
  end
  if x.dead then return end
  kill_with(throw_g, x, x, err, "kill()")
end

-- Raise err in x (a GreenThread or a greenlet of the hub, not the
-- running one) without yielding, for group kills: "thrown", "cancelled",
-- or nil if x is over or not blocked in the hub.
function M.throw(x, err)
  if x.dead then return nil end
  if getmetatable(x) == GreenThread then return throw_gt(x, err) end
  return throw_g(x, err)
end

-- on_error(fn): uncaught errors of green threads go to
-- fn(err, traceback, thread, name, site) instead of stderr; nil restores
-- the default report.
function M.on_error(fn)
  if fn ~= nil and not callable(fn) then
    args.argerror(1, "on_error", "function or nil expected, got " .. type(fn))
  end
  handler = fn
end

-- wait_any(gt1, gt2, ...) or wait_any({gt1, ...}): the first of them to
-- end, followed by what its wait() returns (its error raised again).
local function threads_of(...)
  local first, n = ..., select("#", ...)
  if n == 1 and type(first) == "table" and getmetatable(first) ~= GreenThread then
    for i = 1, #first do
      if getmetatable(first[i]) ~= GreenThread then
        args.argerror(1, "wait_any", ("GreenThread expected at index %d, got %s")
          :format(i, type(first[i])), 3)
      end
    end
    if #first == 0 then args.argerror(1, "wait_any", "no GreenThread given", 3) end
    return first, #first
  end
  local list = { ... }
  for i = 1, n do
    if getmetatable(list[i]) ~= GreenThread then
      args.argerror(i, "wait_any", "GreenThread expected, got " .. type(list[i]), 3)
    end
  end
  if n == 0 then args.argerror(1, "wait_any", "GreenThread expected, got no value", 3) end
  return list, n
end

local function first_dead(list, n)
  for i = 1, n do
    if list[i].dead then return list[i] end
  end
end

function M.wait_any(...)
  local list, n = threads_of(...)
  local winner = first_dead(list, n)
  if not winner then
    local me = getcurrent()
    for i = 1, n do
      if list[i].greenlet == me then
        error("wait_any(): a greenthread cannot wait for itself", 2)
      end
    end
    local w = Waiters.new()
    local function wake() w:wake_one() end
    for i = 1, n do list[i]:link(wake) end
    local ok, err = pcall(function()
      repeat w:wait() until first_dead(list, n)
    end)
    for i = 1, n do list[i]:unlink(wake) end
    if not ok then error(err, 0) end
    winner = first_dead(list, n)
  end
  return winner, winner:wait()
end

return M
