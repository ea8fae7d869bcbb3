-- Semaphore, BoundedSemaphore and Lock (eventlet.semaphore).  Waiters are
-- served in FIFO order: release hands the count to the first waiter.
local Waiters = require "lgreen.waiters"
local args = require "lgreen.args"

local error, type, setmetatable = error, type, setmetatable

local Semaphore = {}
Semaphore.__index = Semaphore

local function check_count(n, what)
  if type(n) ~= "number" or n < 0 or n % 1 ~= 0 then
    args.argerror(1, what, "count must be a whole number >= 0", 4)	-- check_count <- new <- Semaphore <- caller
  end
end

-- One count goes to the first waiter, else back to the counter.
local function put_back(self)
  if self.waiters.n > 0 and self.waiters:wake_one() then return end
  self.counter = self.counter + 1
end

-- A waiter killed (or hit by a Timeout) after release() handed it the
-- count passes the count on.
local function refund(self, node)
  if Waiters.handed(node) then put_back(self) end
end

local function new(n, bound)
  if n == nil then n = 1 end
  check_count(n, bound and "BoundedSemaphore" or "Semaphore")
  local s = setmetatable({ counter = n, bound = bound and n or nil,
                          waiters = false }, Semaphore)
  s.waiters = Waiters.new(s, refund)
  return s
end

-- acquire([blocking = true] [, timeout]) -> true, or false when it would
-- block (blocking false) or the timeout passes.
function Semaphore:acquire(blocking, timeout)
  if timeout ~= nil then args.check_seconds(timeout, 2, "acquire") end
  if self.counter > 0 and self.waiters.n == 0 then
    self.counter = self.counter - 1
    return true
  end
  if blocking == false then return false end
  -- release() hands its count straight to us: no re-check, no overtaking
  return self.waiters:wait(timeout) ~= false
end

function Semaphore:release()
  if self.waiters.n > 0 and self.waiters:wake_one() then return true end
  if self.bound and self.counter >= self.bound then
    error("BoundedSemaphore released too many times", 2)
  end
  self.counter = self.counter + 1
  return true
end

function Semaphore:locked()
  return self.counter <= 0
end

-- How many acquire() would succeed now, minus those waiting.
function Semaphore:balance()
  return self.counter - self.waiters.n
end

-- Run fn(...) holding the semaphore; released however fn ends.
function Semaphore:with(fn, ...)
  self:acquire()
  local function settle(ok, ...)
    self:release()
    if not ok then error((...), 0) end
    return ...
  end
  return settle(pcall(fn, ...))
end

-- (Not tail calls: new's argument errors blame the caller, two levels up.)
local M = {}
function M.Semaphore(n) local s = new(n, false) return s end
function M.BoundedSemaphore(n) local s = new(n, true) return s end
function M.Lock() return new(1, true) end
return M
