-- GreenPool and GreenPile (eventlet.greenpool).  A pool of size n runs at
-- most n greenthreads; spawn/spawn_n block the caller while it is full.
local gt = require "lgreen.greenthread"
local Waiters = require "lgreen.waiters"
local Queue = require("lgreen.queue").LightQueue
local argerror = require("lgreen.args").argerror

local spawn_at, callable = gt.spawn_at, gt.callable
local spawn_member_n, throw = gt.spawn_member_n, gt.throw
local core = require "lgreen.core"
local getcurrent, site = core.greenlet.getcurrent, core.hub.site
local Exit = core.greenlet.GreenletExit
local error, type, select, setmetatable, getmetatable, pcall, next, pairs =
  error, type, select, setmetatable, getmetatable, pcall, next, pairs
local unpack = unpack or table.unpack

local GreenPool = {}
GreenPool.__index = GreenPool

local function check_size(n, level)
  if type(n) ~= "number" or n < 0 or n % 1 ~= 0 then
    argerror(1, "GreenPool", "size must be a whole number >= 0", level + 1)
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
  -- members: greenlet -> its GreenThread (spawn) or true (spawn_n)
  local pool = setmetatable({ size = size, nrunning = 0, members = {},
    slots = false, idle = Waiters.new(), gone = false }, GreenPool)
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
  if pool.gone then pool.gone:wake_all() end	-- killall waits on it
end

GreenPool._done = give	-- a spawn_n member is over (greenthread.lua)

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
    argerror(1, what, "function expected, got " .. type(fn), 3)
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

-- A member reported as spawned at sf, sl (the user's line).
local function spawn_member(pool, sf, sl, fn, ...)
  take(pool)
  local t = spawned(pool, pcall(spawn_at, sf, sl, fn, ...))
  pool.members[t.greenlet] = t
  t:link(done, pool)
  return t
end

function GreenPool:spawn(fn, ...)
  check_fn(fn, "spawn")
  if inline(self) then return gt.inline(fn, ...) end
  local sf, sl = site(2)
  return spawn_member(self, sf, sl, fn, ...)
end

-- spawn_n reported as spawned at sf, sl; returns the greenlet.  Inline (a
-- member into its own full pool), fn runs in the caller, so its errors, a
-- kill or a Timeout aimed at the caller go on in the caller; it returns a
-- greenlet that is over, as spawn_n returns a greenlet in any case.
local function spawn_n_at(pool, sf, sl, fn, ...)
  if inline(pool) then
    fn(...)
    return gt.finished()
  end
  take(pool)
  local g = spawned(pool, pcall(spawn_member_n, sf, sl, pool, fn, ...))
  pool.members[g] = true
  return g
end

function GreenPool:spawn_n(fn, ...)
  check_fn(fn, "spawn_n")
  local sf, sl = site(2)
  return spawn_n_at(self, sf, sl, fn, ...)
end

-- Kill every member (spawn's and spawn_n's) with err (default
-- GreenletExit), and wait until none is left: like gevent's Pool.kill, it
-- also kills members that blocked spawners start meanwhile.
function GreenPool:killall(err)
  if self.members[getcurrent()] then
    error("GreenPool:killall(): called from a member of the pool", 2)
  end
  if err == nil then err = Exit end
  local dying = {}
  while next(self.members) do
    local list = {}	-- a kill runs links, which may spawn: not during pairs
    for g, m in pairs(self.members) do
      if not dying[g] then
        dying[g] = true
        list[#list + 1] = m == true and g or m
      end
    end
    for i = 1, #list do throw(list[i], err) end
    if next(self.members) then
      self.gone = self.gone or Waiters.new()
      self.gone:wait()
    end
  end
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
      argerror(i + 1, "imap", "table or iterator expected", 3)
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

-- Members and errors are reported as spawned at sf, sl: the imap call.
local function mapper(pool, fn, next_args, sf, sl)
  local results = Queue()
  local function produce()
    for args in next_args do
      results:put(spawn_member(pool, sf, sl, fn, unpack(args, 1, args.n)))
    end
    results:put(false)	-- end of input
  end
  spawn_at(sf, sl, produce)
  return function()
    local t = results:get()
    if not t then return nil end
    return t:wait()
  end
end

function GreenPool:imap(fn, ...)
  local sf, sl = site(2)
  return mapper(self, fn, inputs(...), sf, sl)
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
    argerror(2, "starmap", "table or iterator expected")
  end
  local sf, sl = site(2)
  return mapper(self, fn, nxt, sf, sl)
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
  local pool, t = self.pool, nil
  if inline(pool) then	-- may raise, or be killed waiting: no hole
    t = gt.inline(fn, ...)
  else
    local sf, sl = site(2)
    t = spawn_member(pool, sf, sl, fn, ...)
  end
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

-- TaskGroup: members whose first error cancels the others (Python's
-- asyncio.TaskGroup, trio's nursery).  The first error is kept for wait()
-- and not reported; the others are killed with GreenletExit (so their
-- cleanup runs) and are not reported either.
local TaskGroup = {}
TaskGroup.__index = TaskGroup

local function Group()
  return setmetatable({ threads = {}, n = 0, live = 0, members = {},
    failed = false, error = nil, traceback = nil, killing = nil,
    idle = Waiters.new() }, TaskGroup)
end

local function member_done(t, tg)
  tg.members[t.greenlet] = nil
  tg.live = tg.live - 1
  if tg.live == 0 then tg.idle:wake_all() end
end

-- Raise err in every live member, without yielding.
local function cancel(tg, err)
  local threads = tg.threads
  for i = 1, tg.n do
    local t = threads[i]
    if not t.dead and t.greenlet ~= getcurrent() then throw(t, err) end
  end
end

-- A member failed with err (greenthread.lua's finish asks): true if the
-- group takes the error, so it is not reported as uncaught.
function TaskGroup:_claim(t, err, tb)
  if self.killing ~= nil and err == self.killing then return true end
  if self.failed then return false end	-- a later error: reported
  self.failed, self.error, self.traceback = true, err, tb
  cancel(self, Exit)
  return true
end

function TaskGroup:spawn(fn, ...)
  check_fn(fn, "spawn")
  if self.failed then
    error("TaskGroup:spawn(): the group was cancelled by an error", 2)
  end
  local sf, sl = site(2)
  local t = spawn_at(sf, sl, fn, ...)
  t.owner = self
  self.n = self.n + 1
  self.threads[self.n] = t
  self.members[t.greenlet] = t
  self.live = self.live + 1
  t:link(member_done, self)
  return t
end

local function wait_members(tg)
  while tg.live > 0 do tg.idle:wait() end
end

-- Kill every member with err (default GreenletExit) and wait until they
-- are over.  With an err, wait() raises it afterwards.
function TaskGroup:kill(err)
  if self.members[getcurrent()] then
    error("TaskGroup:kill(): called from a member of the group", 2)
  end
  if err ~= nil and err ~= Exit then
    self.killing = err
    if not self.failed then self.failed, self.error = true, err end
  end
  cancel(self, err == nil and Exit or err)
  wait_members(self)
end

-- Wait until every member is over: the first result of each, in spawn
-- order (nil for one killed from outside), or the first error raised again
-- once the others are over.  If wait() itself is interrupted (a kill, a
-- Timeout), the members are killed and waited for before that goes on.
function TaskGroup:wait()
  if self.members[getcurrent()] then
    error("TaskGroup:wait(): called from a member of the group", 2)
  end
  local ok, err = pcall(wait_members, self)
  if not ok then
    cancel(self, Exit)
    wait_members(self)
    error(err, 0)
  end
  if self.failed then error(self.error, 0) end
  local out, threads = {}, self.threads
  for i = 1, self.n do
    local t = threads[i]
    if not t.failed then out[i] = t.results[1] end
  end
  return unpack(out, 1, self.n)
end

function TaskGroup:running() return self.live end

-- lg.serve spawns each handler reported as spawned at the lg.serve call.
return { GreenPool = Pool, GreenPile = Pile, TaskGroup = Group, spawn_n_at = spawn_n_at }
