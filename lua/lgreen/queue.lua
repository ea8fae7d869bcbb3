-- Queue, LightQueue, PriorityQueue, LifoQueue (eventlet.queue).
-- maxsize nil: unbounded; maxsize 0: a rendezvous channel (put waits for a
-- getter).  An item goes straight to the first waiting getter, and a getter
-- takes straight from the first waiting putter, so FIFO order holds among
-- waiters.  Expected outcomes: nil, "timeout" | "full" | "empty".
local Waiters = require "lgreen.waiters"
local args = require "lgreen.args"

local error, type, setmetatable, getmetatable = error, type, setmetatable, getmetatable
local argerror, check_seconds = args.argerror, args.check_seconds

-- Storage: FIFO deque, LIFO stack, or a binary heap (stable for ties).
-- unshift puts an item back at the front: the one a killed getter was
-- handed goes out first again.
local fifo = {}
function fifo.init(q) q.first, q.last = 1, 0 end
function fifo.push(q, item) q.last = q.last + 1; q.items[q.last] = item end
function fifo.unshift(q, item) q.first = q.first - 1; q.items[q.first] = item end
function fifo.pop(q)
  local item = q.items[q.first]
  q.items[q.first] = nil
  q.first = q.first + 1
  return item
end
function fifo.size(q) return q.last - q.first + 1 end

local lifo = {}
function lifo.init(q) q.top = 0 end
function lifo.push(q, item) q.top = q.top + 1; q.items[q.top] = item end
lifo.unshift = lifo.push	-- its front is its top
function lifo.pop(q)
  local item = q.items[q.top]
  q.items[q.top] = nil
  q.top = q.top - 1
  return item
end
function lifo.size(q) return q.top end

-- Items are {priority, ...} tables or plain comparable values; lower first.
-- Every priority of a queue has the type of the first one put (and, for
-- tables and userdata, the same __lt), so any two compare: a pop never
-- meets a pair that raises.
local function key(item)
  if type(item) == "table" then return item[1] end
  return item
end
local heap = {}
function heap.init(q) q.n, q.seq, q.fseq, q.seqs = 0, 0, 0, {} end

-- Refuse a priority that would not compare with the queue's (before
-- anything changes: no count taken, the heap untouched).
function heap.check(q, item)
  local k = key(item)
  local t, lt = type(k), nil
  if t == q.ktype and (t == "string" or (t == "number" and k == k)) then return end
  if t == "number" then
    if k ~= k then argerror(1, "put", "priority is NaN", 3) end
  elseif t == "table" or t == "userdata" then
    local mt = getmetatable(k)
    lt = type(mt) == "table" and mt.__lt or nil
    if lt == nil then
      argerror(1, "put", ("priority is a %s without __lt"):format(t), 3)
    end
  elseif t ~= "string" then
    argerror(1, "put", ("priority must be a number, a string or have __lt, got %s")
      :format(t), 3)
  end
  if q.ktype == nil then
    q.ktype, q.klt = t, lt
  elseif t ~= q.ktype or lt ~= q.klt then
    argerror(1, "put", ("priority is a %s that does not compare with the queue's %ss")
      :format(t, q.ktype), 3)
  end
end

local function less(ka, sa, kb, sb)
  if ka ~= kb then return ka < kb end
  return sa < sb
end

-- Find the item's place first, then move the path's items down: a
-- comparison that raises leaves the heap as it was.
local function sift_up(q, item, seq)
  local items, seqs, k = q.items, q.seqs, key(item)
  local i = q.n + 1
  while i > 1 do
    local p = (i - i % 2) / 2
    if not less(k, seq, key(items[p]), seqs[p]) then break end
    i = p
  end
  local j = q.n + 1
  while j > i do
    local p = (j - j % 2) / 2
    items[j], seqs[j] = items[p], seqs[p]
    j = p
  end
  items[i], seqs[i] = item, seq
  q.n = q.n + 1
end
function heap.push(q, item)
  q.seq = q.seq + 1
  sift_up(q, item, q.seq)
end
function heap.unshift(q, item)	-- first among its equals
  q.fseq = q.fseq - 1
  sift_up(q, item, q.fseq)
end
function heap.pop(q)
  local items, seqs, n = q.items, q.seqs, q.n
  local top, last, lseq = items[1], items[n], seqs[n]
  items[n], seqs[n] = nil, nil
  n = n - 1
  q.n = n
  if n == 0 then return top end
  local lk, i = key(last), 1
  while true do
    local c = 2 * i
    if c > n then break end
    if c < n and less(key(items[c + 1]), seqs[c + 1], key(items[c]), seqs[c]) then c = c + 1 end
    if not less(key(items[c]), seqs[c], lk, lseq) then break end
    items[i], seqs[i] = items[c], seqs[c]
    i = c
  end
  items[i], seqs[i] = last, lseq
  return top
end
function heap.size(q) return q.n end

local Queue = {}
Queue.__index = Queue

-- A put that did not happen (timed out, or its putter died before a
-- getter took the item) is not a task: join() must not wait for it.
local function unput(q)
  if not q.joinable then return end
  q.unfinished = q.unfinished - 1
  if q.unfinished == 0 then q.joiners:wake_all() end
end

-- A getter that dies after put() handed it an item passes the item to the
-- next getter, else puts it back at the front.  (While getters wait the
-- storage is empty, so the next getter is the front.)
local function refund_get(q, node)
  if not Waiters.handed(node) then return end
  local item = Waiters.data(node)
  if q.getters.n > 0 and q.getters:wake_one(item) then return end
  q.kind.unshift(q, item)	-- even past maxsize: it was accepted already
end

-- A putter that dies before a getter took its item undoes its put; once
-- taken, the item is delivered and stays so (no duplicate).
local function refund_put(q, node)
  if not Waiters.handed(node) then unput(q) end
end

local function new(kind, name, maxsize, joinable)
  if maxsize ~= nil and (type(maxsize) ~= "number" or maxsize < 0 or maxsize % 1 ~= 0) then
    argerror(1, name, "maxsize must be nil or a whole number >= 0", 3)
  end
  local q = setmetatable({ kind = kind, maxsize = maxsize, items = {},
    getters = false, putters = false, joiners = false,
    joinable = joinable, unfinished = 0 }, Queue)
  kind.init(q)
  q.getters, q.putters = Waiters.new(q, refund_get), Waiters.new(q, refund_put)
  if joinable then q.joiners = Waiters.new() end
  return q
end

function Queue:qsize() return self.kind.size(self) end
function Queue:empty() return self.kind.size(self) == 0 end
function Queue:full()
  return self.maxsize ~= nil and self.kind.size(self) >= self.maxsize
end

-- Greenlets blocked in get(), in put().
function Queue:getting() return self.getters.n end
function Queue:putting() return self.putters.n end

-- put(item [, block = true] [, timeout]) -> true | nil, "full" | nil, "timeout"
function Queue:put(item, block, timeout)
  if item == nil then argerror(1, "put", "item must not be nil") end
  if timeout ~= nil then check_seconds(timeout, 3, "put") end
  local check = self.kind.check
  if check then check(self, item) end
  if self.joinable then self.unfinished = self.unfinished + 1 end
  if self.getters.n > 0 and self.getters:wake_one(item) then return true end
  if self.maxsize == nil or self.kind.size(self) < self.maxsize then
    self.kind.push(self, item)
    return true
  end
  if block ~= false then
    -- a getter takes the item from our node and wakes us
    if self.putters:wait(timeout, item) then return true end
    unput(self)
    return nil, "timeout"
  end
  unput(self)
  return nil, "full"
end

-- get([block = true] [, timeout]) -> item | nil, "empty" | nil, "timeout"
function Queue:get(block, timeout)
  if timeout ~= nil then check_seconds(timeout, 2, "get") end
  if self.kind.size(self) > 0 then
    local item = self.kind.pop(self)
    -- room now (unless a refund overfilled it): the first waiting
    -- putter's item moves in
    if self.putters.n > 0 and self.kind.size(self) < self.maxsize then
      local woke, node = self.putters:wake_one()
      if woke then self.kind.push(self, Waiters.data(node)) end
    end
    return item
  end
  local woke, node = self.putters:wake_one()	-- rendezvous, or maxsize 0
  if woke then return Waiters.data(node) end
  if block == false then return nil, "empty" end
  local ok, item = self.getters:wait(timeout)
  if not ok then return nil, "timeout" end
  return item
end

function Queue:put_nowait(item) return self:put(item, false) end
function Queue:get_nowait() return self:get(false) end

-- Joinable queues: each put counts a task; task_done() settles one; join()
-- waits until all are settled.
function Queue:task_done()
  if not self.joinable then error("task_done() on a queue that cannot join", 2) end
  if self.unfinished <= 0 then error("task_done() called too many times", 2) end
  self.unfinished = self.unfinished - 1
  if self.unfinished == 0 then self.joiners:wake_all() end
end

function Queue:join(timeout)
  if not self.joinable then error("join() on a queue that cannot join", 2) end
  if timeout ~= nil then check_seconds(timeout, 1, "join") end
  while self.unfinished > 0 do
    if not self.joiners:wait(timeout) then return nil, "timeout" end
  end
  return true
end

-- (Not tail calls: new's argument errors blame the caller, two levels up.)
local M = {}
function M.Queue(maxsize) local q = new(fifo, "Queue", maxsize, true) return q end
function M.LightQueue(maxsize) local q = new(fifo, "LightQueue", maxsize, false) return q end
function M.PriorityQueue(maxsize) local q = new(heap, "PriorityQueue", maxsize, true) return q end
function M.LifoQueue(maxsize) local q = new(lifo, "LifoQueue", maxsize, true) return q end
return M
