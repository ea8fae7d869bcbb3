-- GreenPool and GreenPile (eventlet.greenpool).  A pool of size n runs at
-- most n greenthreads; spawn/spawn_n block the caller while it is full.
local gt = require "lgreen.greenthread"
local Waiters = require "lgreen.waiters"
local Queue = require("lgreen.queue").LightQueue

local spawn, spawn_at, spawn_n_at, callable = gt.spawn, gt.spawn_at, gt.spawn_n_at, gt.callable
local core = require "lgreen.core"
local getcurrent, site = core.greenlet.getcurrent, core.hub.site
local error, type, select, setmetatable, getmetatable, pcall =
  error, type, select, setmetatable, getmetatable, pcall
local unpack = unpack or table.unpack

local GreenPool = {}
GreenPool.__index = GreenPool

local function check_size(n, level)
  if type(n) ~= "number" or n < 0 or n % 1 ~= 0 then
    error("bad argument #1 to 'GreenPool' (size must be a whole number >= 0)", level + 1)
  end
end

-- A freed slot goes straight to the first waiting spawner (it stays
-- counted in nrunning), unless the pool shrank below nrunning.
local function pass_slot(pool)
  if pool.nrunning <= pool.size and pool.slots.n > 0 and pool.slots:wake_one() then
    return
  end
  pool.nrunning = pool.nrunning - 1
  if pool.nrunning == 0 then pool.idle:wake_all() end
end

-- A spawner killed (or hit by a Timeout) after it was handed a slot
-- passes the slot on: the next spawner must not wait forever.
local function refund_slot(pool, node)
  if Waiters.handed(node) then pass_slot(pool) end
end

local function Pool(size)
  if size == nil then size = 1000 end
  check_size(size, 2)
  local pool = setmetatable({ size = size, nrunning = 0, members = {},
    slots = false, idle = Waiters.new() }, GreenPool)
  pool.slots = Waiters.new(pool, refund_slot)
  return pool
end

-- Take a free slot, or wait (FIFO among spawners) until one is handed to us.
local function take(pool)
  if pool.nrunning < pool.size then
    pool.nrunning = pool.nrunning + 1
  else
    pool.slots:wait()
  end
end

local function give(pool, g)
  pool.members[g] = nil
  pass_slot(pool)
end

local function done(gthread, pool)
  give(pool, gthread.greenlet)
end

-- A member spawning into its own full pool would wait for itself: run the
-- function in the caller instead (as eventlet does).
local function inline(pool)
  return pool.nrunning >= pool.size and pool.members[getcurrent()]
end

local function check_fn(fn, what)
  if not callable(fn) then
    error(("bad argument #1 to '%s' (function expected, got %s)"):format(what, type(fn)), 3)
  end
end

-- Spawning can still fail once the slot is ours (no memory for a stack,
-- too many arguments): then the slot goes back before the error goes on.
local function spawned(pool, ok, ...)
  if not ok then
    pass_slot(pool)
    error((...), 0)
  end
  return ...
end

function GreenPool:spawn(fn, ...)
  check_fn(fn, "spawn")
  if inline(self) then return gt.inline(fn, ...) end
  local sf, sl = site(2)
  take(self)
  local t = spawned(self, pcall(spawn_at, sf, sl, fn, ...))
  self.members[t.greenlet] = true
  t:link(done, self)
  return t
end

local function run_n(pool, fn, ...)
  pool.members[getcurrent()] = true
  local function settle(ok, ...)
    give(pool, getcurrent())
    if not ok then error((...), 0) end
  end
  return settle(pcall(fn, ...))
end

function GreenPool:spawn_n(fn, ...)
  check_fn(fn, "spawn_n")
  if inline(self) then return fn(...) end
  local sf, sl = site(2)
  take(self)
  return spawned(self, pcall(spawn_n_at, sf, sl, run_n, self, fn, ...))
end

-- Wait until no greenthread of the pool runs.
function GreenPool:waitall()
  if self.members[getcurrent()] then
    error("GreenPool:waitall(): called from a member of the pool", 2)
  end
  while self.nrunning > 0 do self.idle:wait() end
end

function GreenPool:running() return self.nrunning end
function GreenPool:free() return self.size - self.nrunning end
function GreenPool:waiting() return self.slots.n end

-- Change the size; growing lets blocked spawners through at once.
function GreenPool:resize(n)
  check_size(n, 2)
  self.size = n
  for _ = 1, n - self.nrunning do	-- each woken spawner gets its slot
    if not self.slots:wake_one() then break end
    self.nrunning = self.nrunning + 1
  end
end

-- imap(fn, ...): results of fn over the zipped inputs (tables or iterator
-- functions), in input order, at most size at a time; an error is raised
-- at the consumer when it reaches that item.
local function inputs(...)
  local srcs, n = { ... }, select("#", ...)
  local pos = 0
  for i = 1, n do
    if type(srcs[i]) ~= "table" and type(srcs[i]) ~= "function" then
      error(("bad argument #%d to 'imap' (table or iterator expected)"):format(i + 1), 3)
    end
  end
  return function()
    pos = pos + 1
    local args = { n = n }
    for i = 1, n do
      local s = srcs[i]
      local v
      if type(s) == "table" then v = s[pos] else v = s() end
      if v == nil then return nil end
      args[i] = v
    end
    return args
  end
end

local function mapper(pool, fn, next_args)
  local results = Queue()
  local function produce()
    for args in next_args do
      results:put(pool:spawn(fn, unpack(args, 1, args.n)))
    end
    results:put(false)	-- end of input
  end
  spawn(produce)
  return function()
    local t = results:get()
    if not t then return nil end
    return t:wait()
  end
end

function GreenPool:imap(fn, ...)
  return mapper(self, fn, inputs(...))
end

-- starmap(fn, args_list): fn(unpack(args)) for each args table.
function GreenPool:starmap(fn, list)
  local i = 0
  local nxt
  if type(list) == "table" then
    nxt = function()
      i = i + 1
      local a = list[i]
      if a == nil then return nil end
      return { n = a.n or #a, unpack(a, 1, a.n or #a) }
    end
  elseif type(list) == "function" then
    nxt = function()
      local a = list()
      if a == nil then return nil end
      return { n = a.n or #a, unpack(a, 1, a.n or #a) }
    end
  else
    error("bad argument #2 to 'starmap' (table or iterator expected)", 2)
  end
  return mapper(self, fn, nxt)
end

-- GreenPile: spawn into a pool, read results back in spawn order.
local GreenPile = {}
GreenPile.__index = GreenPile

local function Pile(size_or_pool)
  local pool = size_or_pool
  if getmetatable(pool) ~= GreenPool then pool = Pool(size_or_pool) end
  return setmetatable({ pool = pool, threads = {}, first = 1, last = 0 }, GreenPile)
end

function GreenPile:spawn(fn, ...)
  check_fn(fn, "spawn")
  local t = self.pool:spawn(fn, ...)	-- may raise, or be killed waiting: no hole
  self.last = self.last + 1
  self.threads[self.last] = t
end

-- The next result in spawn order (its error raised), or nil when all were read.
function GreenPile:next()
  if self.first > self.last then return nil end
  local t = self.threads[self.first]
  self.threads[self.first] = nil
  self.first = self.first + 1
  return t:wait()
end

GreenPile.__call = GreenPile.next	-- for result in pile do ... end

function GreenPile:used() return self.last - self.first + 1 end

return { GreenPool = Pool, GreenPile = Pile }
