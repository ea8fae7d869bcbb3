-- GreenPool and GreenPile (eventlet.greenpool).  A pool of size n runs at
-- most n greenthreads; spawn/spawn_n block the caller while it is full.
local gt = require "lgreen.greenthread"
local Waiters = require "lgreen.waiters"
local Queue = require("lgreen.queue").LightQueue

local spawn, spawn_n = gt.spawn, gt.spawn_n
local getcurrent = require("lgreen.core").greenlet.getcurrent
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

local function Pool(size)
  if size == nil then size = 1000 end
  check_size(size, 2)
  return setmetatable({ size = size, nrunning = 0, members = {},
    slots = Waiters.new(), idle = Waiters.new() }, GreenPool)
end

-- Wait for a free slot (FIFO among spawners), then take it.
local function take(pool)
  while pool.nrunning >= pool.size do pool.slots:wait() end
  pool.nrunning = pool.nrunning + 1
end

local function give(pool, g)
  pool.nrunning = pool.nrunning - 1
  pool.members[g] = nil
  if pool.nrunning < pool.size then pool.slots:wake_one() end
  if pool.nrunning == 0 then pool.idle:wake_all() end
end

local function done(gthread, pool)
  give(pool, gthread.greenlet)
end

-- A member spawning into its own full pool would wait for itself: run the
-- function in the caller instead (as eventlet does).
local function inline(pool)
  return pool.nrunning >= pool.size and pool.members[getcurrent()]
end

function GreenPool:spawn(fn, ...)
  if inline(self) then return gt.inline(fn, ...) end
  take(self)
  local t = spawn(fn, ...)
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
  if type(fn) ~= "function" then
    error(("bad argument #1 to 'spawn_n' (function expected, got %s)"):format(type(fn)), 2)
  end
  if inline(self) then return fn(...) end
  take(self)
  return spawn_n(run_n, self, fn, ...)
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
  for _ = 1, n - self.nrunning do
    if not self.slots:wake_one() then break end
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
  self.last = self.last + 1
  self.threads[self.last] = self.pool:spawn(fn, ...)
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
