-- A FIFO list of parked greenlets.  A waiter that times out or is killed
-- unlinks itself, so no stale entry is left behind (O(1) either way).
-- A node is an array, {greenlet, data, prev, next, gone, handed}: small and
-- colocated.  Nodes are recycled: a wait's node goes back to a free list
-- when the wait ends (after refund), so a wait allocates no table in
-- steady state.  So a node is valid only until its wait ends: wake_one's
-- caller reads it at once, before the woken waiter can run.
--
-- Nothing lost: wake_one marks the node it woke as handed (and keeps the
-- value it handed in the node's data).  A kill or a Timeout can still end
-- that wait before the waiter runs (the hub then drops the woken values),
-- so a wait that ends in an error calls the list's refund(owner, node):
-- the primitive gives back what was handed, or undoes what the waiter
-- had reserved, before the error goes on.
local core = require "lgreen.core"

local park, wake = core.hub.park, core.hub.wake
local getcurrent = core.greenlet.getcurrent
local pcall, error, setmetatable = pcall, error, setmetatable

local G, DATA, PREV, NEXT, GONE, HANDED = 1, 2, 3, 4, 5, 6

-- Nodes of ended waits, for the next ones (at most FREEMAX kept).
local free, nfree, FREEMAX = {}, 0, 1024

local function newnode(g, data, prev)
  local node = free[nfree]
  if node == nil then return { g, data, prev, nil, false, false } end
  free[nfree] = nil
  nfree = nfree - 1
  node[G], node[DATA], node[PREV] = g, data, prev
  node[NEXT], node[GONE], node[HANDED] = nil, false, false
  return node
end

-- The wait of node is over: keep it, holding nothing, for another wait.
local function recycle(node)
  if nfree >= FREEMAX then return end
  node[G], node[DATA], node[PREV], node[NEXT] = nil, nil, nil, nil
  nfree = nfree + 1
  free[nfree] = node
end

local Waiters = {}
Waiters.__index = Waiters

-- refund(owner, node), if given, runs when a wait here ends in an error.
function Waiters.new(owner, refund)
  return setmetatable({ n = 0, owner = owner, refund = refund }, Waiters)
end

-- Append the running greenlet; data may ride along (a queue item).
function Waiters:push(data)
  local tail = self.tail
  local node = newnode(getcurrent(), data, tail)
  if tail then tail[NEXT] = node else self.head = node end
  self.tail = node
  self.n = self.n + 1
  return node
end

function Waiters:remove(node)
  if node[GONE] then return end
  node[GONE] = true
  local prev, nxt = node[PREV], node[NEXT]
  if prev then prev[NEXT] = nxt else self.head = nxt end
  if nxt then nxt[PREV] = prev else self.tail = prev end
  self.n = self.n - 1
end

-- Remove and return the first waiter's node, or nil.
function Waiters:shift()
  local node = self.head
  if node then self:remove(node) end
  return node
end

local function settle(self, node, ok, ...)
  if not node[GONE] then self:remove(node) end	-- timed out or killed
  if not ok then
    local refund = self.refund
    if refund then refund(self.owner, node) end
    recycle(node)
    error((...), 0)
  end
  recycle(node)
  return ...
end

-- Park the running greenlet here until woken (returns true, ...) or the
-- timeout passes (returns false).  Errors thrown in (kill, Timeout) unlink
-- it, call refund, and propagate.
function Waiters:wait(timeout, data)
  local node = self:push(data)
  return settle(self, node, pcall(park, timeout))
end

-- Wake the first waiter, handing it value (kept in its node: a woken
-- waiter that dies before it runs gives it back); returns true and its
-- node, or false.
function Waiters:wake_one(value)
  local node = self:shift()
  while node do
    if value ~= nil then node[DATA] = value end
    if wake(node[G], value) then
      node[HANDED] = true
      return true, node
    end
    node = self:shift()
  end
  return false
end

-- Wake every waiter (nothing is handed: each re-checks what it waits for).
function Waiters:wake_all()
  local n = 0
  local node = self:shift()
  while node do
    if wake(node[G]) then n = n + 1 end
    node = self:shift()
  end
  return n
end

-- The greenlet and data of a node; whether a waker handed it something.
function Waiters.greenlet(node) return node[G] end
function Waiters.data(node) return node[DATA] end
function Waiters.handed(node) return node[HANDED] end

return Waiters
