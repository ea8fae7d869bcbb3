-- A FIFO list of parked greenlets.  A waiter that times out or is killed
-- unlinks itself, so no stale entry is left behind (O(1) either way).
local core = require "lgreen.core"

local park, wake = core.hub.park, core.hub.wake
local getcurrent = core.greenlet.getcurrent
local pcall, error, select = pcall, error, select
local unpack = unpack or table.unpack

local Waiters = {}
Waiters.__index = Waiters

function Waiters.new()
  return setmetatable({ n = 0 }, Waiters)
end

-- Append the running greenlet; node.data may carry a value (a queue item).
function Waiters:push(data)
  local node = { g = getcurrent(), data = data, prev = self.tail }
  if self.tail then self.tail.next = node else self.head = node end
  self.tail = node
  self.n = self.n + 1
  return node
end

function Waiters:remove(node)
  if node.gone then return end
  node.gone = true
  if node.prev then node.prev.next = node.next else self.head = node.next end
  if node.next then node.next.prev = node.prev else self.tail = node.prev end
  self.n = self.n - 1
end

-- Remove and return the first waiter's node, or nil.
function Waiters:shift()
  local node = self.head
  if node then self:remove(node) end
  return node
end

local function settle(self, node, ok, ...)
  if not node.gone then self:remove(node) end	-- timed out or killed
  if not ok then error((...), 0) end
  return ...
end

-- Park the running greenlet here until woken (returns true, ...) or the
-- timeout passes (returns false).  Errors thrown in (kill, Timeout) unlink
-- it and propagate.
function Waiters:wait(timeout, data)
  local node = self:push(data)
  return settle(self, node, pcall(park, timeout))
end

-- Wake the first waiter with ...; false if there was none.
function Waiters:wake_one(...)
  local node = self:shift()
  while node do
    if wake(node.g, ...) then return true, node end
    node = self:shift()
  end
  return false
end

function Waiters:wake_all(...)
  local n = 0
  local node = self:shift()
  while node do
    if wake(node.g, ...) then n = n + 1 end
    node = self:shift()
  end
  return n
end

return Waiters
