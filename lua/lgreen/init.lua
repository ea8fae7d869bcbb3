-- lgreen: green threads on a libev hub, with eventlet's vocabulary.
-- The hub starts on first use: a blocking call anywhere, the main script
-- included, runs the loop until that caller is woken.
local core = require "lgreen.core"
local greenlet = require "lgreen.greenlet"
local gthread = require "lgreen.greenthread"
local sem = require "lgreen.semaphore"
local queue = require "lgreen.queue"
local pool = require "lgreen.pool"

local H = core.hub
local error, pcall, select, type = error, pcall, select, type

local lg = {
  _VERSION = core._VERSION,
  greenlet = greenlet,
  GreenletExit = greenlet.GreenletExit,
  getcurrent = greenlet.getcurrent,

  spawn = gthread.spawn,
  spawn_n = gthread.spawn_n,
  spawn_after = gthread.spawn_after,
  kill = gthread.kill,
  wait_any = gthread.wait_any,
  on_error = gthread.on_error,
  GreenThread = gthread.GreenThread,

  sleep = H.sleep,	-- sleep([seconds]); 0 or none: yield to all ready
  now = H.now,		-- the hub's clock, in seconds
  run = H.run,		-- from main: until nothing is ready or waited for
  step = H.step,	-- from main: run what is ready, never block

  GreenPool = pool.GreenPool,
  GreenPile = pool.GreenPile,
  TaskGroup = pool.TaskGroup,
  Event = require "lgreen.event",
  Semaphore = sem.Semaphore,
  BoundedSemaphore = sem.BoundedSemaphore,
  Lock = sem.Lock,
  Queue = queue.Queue,
  LightQueue = queue.LightQueue,
  PriorityQueue = queue.PriorityQueue,
  LifoQueue = queue.LifoQueue,
}

-- wait_read(fd [, timeout]), wait_write(fd [, timeout]): park this
-- greenthread until fd is readable (writable); true, or nil, "timeout"
-- (or "closed": fd was closed while we waited).
-- Any non-blocking fd works: a LuaSocket socket's getfd(), a pipe...
lg.wait_read, lg.wait_write = H.wait_read, H.wait_write

-- Timeout(seconds [, err]): raises err (default: the Timeout itself) in the
-- running greenthread when it next blocks after seconds, unless cancelled;
-- it is cancelled when that greenthread ends.
-- Timeout(nil) never fires.
local Never = { pending = false }
function Never.cancel() return false end

function lg.Timeout(seconds, err)
  if seconds == nil then return Never end
  return H.timeout(seconds, err)
end

local function settle(t, ok, ...)
  t:cancel()
  if ok then return ... end
  if (...) == t then return nil, "timeout" end
  error((...), 0)
end

-- with_timeout(seconds, fn, ...): fn's results, or nil, "timeout".
function lg.with_timeout(seconds, fn, ...)
  if type(fn) ~= "function" then
    error("bad argument #2 to 'with_timeout' (function expected)", 2)
  end
  local t = lg.Timeout(seconds)
  return settle(t, pcall(fn, ...))
end

-- The I/O parts load on first use, so a script that only spawns and
-- sleeps never loads them.
local lazy = {	-- field = { module, its field (nil: the module) }
  socket = { "lgreen.socket" }, connect = { "lgreen.socket", "connect" },
  listen = { "lgreen.socket", "listen" }, serve = { "lgreen.socket", "serve" },
  resolve = { "lgreen.resolve" }, process = { "lgreen.process" },
  signal = { "lgreen.signal", "signal" },
  monkey_patch = { "lgreen.patch", "monkey_patch" },
  workers = { "lgreen.workers" },
}
setmetatable(lg, { __index = function(t, k)
  local where = lazy[k]
  if where == nil then return nil end
  local v = require(where[1])
  if where[2] then v = v[where[2]] end
  rawset(t, k, v)
  return v
end })

return lg
