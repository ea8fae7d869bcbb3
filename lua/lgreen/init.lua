-- lgreen: green threads on a libev hub, with eventlet's vocabulary.
-- The hub starts on first use: a blocking call anywhere, the main script
-- included, runs the loop until that caller is woken.
-- This façade only re-exports (as eventlet's __init__ does): every name
-- lives in a module of its own, which lgreen's modules require directly.
local core = require "lgreen.core"
local greenlet = require "lgreen.greenlet"
local gthread = require "lgreen.greenthread"
local sem = require "lgreen.semaphore"
local queue = require "lgreen.queue"
local pool = require "lgreen.pool"
local hub = require "lgreen.hub"
local timeout = require "lgreen.timeout"

local lg = {
  _VERSION = core._VERSION,
  greenlet = greenlet,
  GreenletExit = greenlet.GreenletExit,
  getcurrent = greenlet.getcurrent,

  spawn = gthread.spawn,
  spawn_n = gthread.spawn_n,
  spawn_after = gthread.spawn_after,
  spawn_with = gthread.spawn_with,	-- spawn_with(opts, fn, ...): name, stack, stack_size
  kill = gthread.kill,
  wait_any = gthread.wait_any,
  on_error = gthread.on_error,
  GreenThread = gthread.GreenThread,

  sleep = hub.sleep,	-- sleep([seconds]); 0 or none: yield to all ready
  now = hub.now,	-- the hub's clock, in seconds
  run = hub.run,	-- from main: until nothing is ready or waited for
  step = hub.step,	-- from main: run what is ready, never block

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

-- wait_read(fd [, timeout]), wait_write(fd [, timeout]): lgreen.hub's.
lg.wait_read, lg.wait_write = hub.wait_read, hub.wait_write

-- backend_fd(), next_timeout(): lgreen.hub's, for a foreign event loop that
-- drives the hub with step() (lgreen.luv does it for luv).
lg.backend_fd, lg.next_timeout = hub.backend_fd, hub.next_timeout

-- Timeout(seconds [, err]), with_timeout(seconds, fn, ...): lgreen.timeout's.
lg.Timeout, lg.with_timeout = timeout.Timeout, timeout.with_timeout

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

-- LGREEN_DUMP_SIGNAL=USR1: dump every green thread to stderr on SIGUSR1.
if (os.getenv("LGREEN_DUMP_SIGNAL") or "") ~= "" then require "lgreen.debug" end

return lg
