-- Green threads on the hub (eventlet.greenthread): spawn, spawn_n,
-- spawn_after, GreenThread:wait/link/unlink/kill/cancel.
local core = require "lgreen.core"
local Waiters = require "lgreen.waiters"

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
local Caught = {}
local function on_error(err)
  if err == Exit then return err end
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

-- Printed once, to stderr, naming the greenthread and where it was spawned.
local function report(name, fn, line, caught)
  stderr:write(("lgreen: uncaught error in greenthread %s spawned at %s:\n%s\n")
    :format(name, where(fn, line), caught.tb))
  stderr:flush()
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
      report("link of " .. name_of(gt), gt.site_fn, gt.site_line, err)
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
      report(name_of(gt), gt.site_fn, gt.site_line, err)
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

-- Run fn(...) here and now; a dead GreenThread holding its outcome (for a
-- pool member spawning into its own full pool).
local function M_inline(fn, ...)
  local sf, sl = site(3)
  local t = setmetatable({ greenlet = getcurrent(), dead = false, site_fn = sf,
    site_line = sl, n = false, results = false, failed = false,
    error = false, waiters = false, links = false }, GreenThread)
  run(t, fn, ...)
  return t
end

local function new(fn, level, name)
  if not callable(fn) then
    error(("bad argument #1 to '%s' (function expected, got %s)"):format(name, type(fn)), level + 1)
  end
  local g = newgreenlet(run, hubgreenlet)
  local sf, sl = site(level + 1)
  -- every field it will ever hold, so the table is sized once
  local gt = setmetatable({ greenlet = g, dead = false, site_fn = sf,
    site_line = sl, n = false, results = false, failed = false,
    error = false, waiters = false, links = false }, GreenThread)
  return gt, g
end

local M = { inline = M_inline }

function M.spawn(fn, ...)
  local gt, g = new(fn, 2, "spawn")
  schedule(g, gt, fn, ...)
  return gt
end

-- spawn_with(opts, fn, ...): spawn with greenlet options: name, stack
-- ("shared" or "private"), stack_size (bytes, a private stack).
function M.spawn_with(opts, fn, ...)
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'spawn_with' (options table expected, got %s)")
      :format(type(opts)), 2)
  end
  if not callable(fn) then
    error(("bad argument #2 to 'spawn_with' (function expected, got %s)"):format(type(fn)), 2)
  end
  local ok, g = pcall(newgreenlet, run, hubgreenlet, opts)
  if not ok then
    local why = tostring(g):match("%((.*)%)$") or tostring(g)
    error("bad argument #1 to 'spawn_with' (" .. why .. ")", 2)
  end
  local sf, sl = site(2)
  local gt = setmetatable({ greenlet = g, dead = false, site_fn = sf,
    site_line = sl, n = false, results = false, failed = false,
    error = false, waiters = false, links = false }, GreenThread)
  schedule(g, gt, fn, ...)
  return gt
end

function M.spawn_after(seconds, fn, ...)
  if type(seconds) ~= "number" or seconds < 0 then
    error("bad argument #1 to 'spawn_after' (seconds must be a number >= 0)", 2)
  end
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
    report(tostring(getcurrent()), site_fn, site_line, err)
  end
end

function M.spawn_n(fn, ...)
  if not callable(fn) then
    error(("bad argument #1 to 'spawn_n' (function expected, got %s)"):format(type(fn)), 2)
  end
  local g = newgreenlet(run_n, hubgreenlet)
  local sf, sl = site(2)
  schedule(g, sf, sl, fn, ...)
  return g
end

GreenThread.__index = GreenThread

-- The name in reports: "'name'" if gt.greenlet.name is set, else its address.
function name_of(gt)
  local n = gt.greenlet.name
  return n and ("'" .. n .. "'") or tostring(gt.greenlet):match("0x%x+") or "?"
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
    error(("bad argument #1 to 'link' (function expected, got %s)"):format(type(fn)), 2)
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

-- Raise err (default GreenletExit) in it wherever it is blocked; if it has
-- not started, it never will.  The caller yields so it can die now.
function GreenThread:kill(err)
  if self.dead then return end
  if err == nil then err = Exit end
  local g = self.greenlet
  if g == getcurrent() then error(err, 0) end
  local what = throw(g, err)
  if what == "cancelled" then
    finish(self, false, err)
  elseif what == "thrown" then
    sleep(0)
  else
    error("GreenThread:kill(): it is not blocked in the hub", 2)
  end
end

-- Kill it only if it has not started yet.
function GreenThread:cancel(err)
  if not self.dead and not self.greenlet.started then self:kill(err) end
end

function GreenThread:__tostring()
  return ("GreenThread %s (%s)"):format(name_of(self), self.dead and "dead" or "alive")
end

M.GreenThread = GreenThread

function M.kill(gt, err)
  if getmetatable(gt) ~= GreenThread then
    error("bad argument #1 to 'kill' (GreenThread expected)", 2)
  end
  return gt:kill(err)
end

return M
