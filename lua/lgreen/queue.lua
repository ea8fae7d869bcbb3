-- Queue, LightQueue, PriorityQueue, LifoQueue (eventlet.queue).
-- maxsize nil: unbounded; maxsize 0: a rendezvous channel (put waits for a
-- getter).  An item goes straight to the first waiting getter, and a getter
-- takes straight from the first waiting putter, so FIFO order holds among
-- waiters.  Expected outcomes: nil, "timeout" | "full" | "empty".
local Waiters = require "lgreen.waiters"

local error, type, setmetatable = error, type, setmetatable

-- Storage: FIFO deque, LIFO stack, or a binary heap (stable for ties).
local fifo = {}
function fifo.init(q) q.first, q.last = 1, 0 end
function fifo.push(q, item) q.last = q.last + 1; q.items[q.last] = item end
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
function lifo.pop(q)
  local item = q.items[q.top]
  q.items[q.top] = nil
  q.top = q.top - 1
  return item
end
function lifo.size(q) return q.top end

-- Items are {priority, ...} tables or plain comparable values; lower first.
local function key(item)
  if type(item) == "table" then return item[1] end
  return item
end
local heap = {}
function heap.init(q) q.n, q.seq, q.seqs = 0, 0, {} end
local function before(q, i, j)
  local a, b = key(q.items[i]), key(q.items[j])
  if a ~= b then return a < b end
  return q.seqs[i] < q.seqs[j]
end
local function swap(q, i, j)
  q.items[i], q.items[j] = q.items[j], q.items[i]
  q.seqs[i], q.seqs[j] = q.seqs[j], q.seqs[i]
end
function heap.push(q, item)
  q.n, q.seq = q.n + 1, q.seq + 1
  local i = q.n
  q.items[i], q.seqs[i] = item, q.seq
  while i > 1 do
    local p = (i - i % 2) / 2
    if not before(q, i, p) then break end
    swap(q, i, p)
    i = p
  end
end
function heap.pop(q)
  local top, n = q.items[1], q.n
  swap(q, 1, n)
  q.items[n], q.seqs[n], q.n = nil, nil, n - 1
  local i = 1
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l < n and before(q, l, m) then m = l end
    if r < n and before(q, r, m) then m = r end
    if m == i then break end
    swap(q, i, m)
    i = m
  end
  return top
end
function heap.size(q) return q.n end

local Queue = {}
Queue.__index = Queue

local function new(kind, name, maxsize, joinable)
  if maxsize ~= nil and (type(maxsize) ~= "number" or maxsize < 0 or maxsize % 1 ~= 0) then
    error(("bad argument #1 to '%s' (maxsize must be nil or a whole number >= 0)"):format(name), 3)
  end
  local q = setmetatable({ kind = kind, maxsize = maxsize, items = {},
    getters = Waiters.new(), putters = Waiters.new(),
    joinable = joinable, unfinished = 0 }, Queue)
  kind.init(q)
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
  if item == nil then error("bad argument #1 to 'put' (item must not be nil)", 2) end
  if self.joinable then self.unfinished = self.unfinished + 1 end
  if self.getters.n > 0 and self.getters:wake_one(item) then return true end
  if self.maxsize == nil or self.kind.size(self) < self.maxsize then
    self.kind.push(self, item)
    return true
  end
  if block ~= false then
    -- a getter takes the item from our node and wakes us
    if self.putters:wait(timeout, item) then return true end
    if self.joinable then self.unfinished = self.unfinished - 1 end
    return nil, "timeout"
  end
  if self.joinable then self.unfinished = self.unfinished - 1 end
  return nil, "full"
end

-- get([block = true] [, timeout]) -> item | nil, "empty" | nil, "timeout"
function Queue:get(block, timeout)
  if self.kind.size(self) > 0 then
    local item = self.kind.pop(self)
    -- room now: the first waiting putter's item moves in
    local woke, node = self.putters:wake_one()
    if woke then self.kind.push(self, Waiters.data(node)) end
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
  while self.unfinished > 0 do
    if not self.joiners:wait(timeout) then return nil, "timeout" end
  end
  return true
end

local M = {}
function M.Queue(maxsize) return new(fifo, "Queue", maxsize, true) end
function M.LightQueue(maxsize) return new(fifo, "LightQueue", maxsize, false) end
function M.PriorityQueue(maxsize) return new(heap, "PriorityQueue", maxsize, true) end
function M.LifoQueue(maxsize) return new(lifo, "LifoQueue", maxsize, true) end
return M
