-- Event: wake every waiter once, with a value or an error (eventlet.event).
local Waiters = require "lgreen.waiters"
local args = require "lgreen.args"

local error = error

local Event = {}
Event.__index = Event

local function new()
  return setmetatable({ waiters = Waiters.new(), sent = false }, Event)
end

-- Send value to every waiter, now and later, until reset().
function Event:send(value)
  if self.sent then error("Event:send(): the event was already sent", 2) end
  self.sent, self.value, self.failed = true, value, false
  self.waiters:wake_all()
end

-- Make every waiter, now and later, raise err.
function Event:send_exception(err)
  if self.sent then error("Event:send_exception(): the event was already sent", 2) end
  self.sent, self.value, self.failed = true, err, true
  self.waiters:wake_all()
end

function Event:ready()
  return self.sent
end

-- Back to unsent; waiters keep waiting.
function Event:reset()
  self.sent, self.value, self.failed = false, nil, false
end

-- The value sent (or its error raised); nil, "timeout" if timeout seconds
-- pass first.
function Event:wait(timeout)
  if timeout ~= nil then args.check_seconds(timeout, 1, "wait") end
  while not self.sent do
    if not self.waiters:wait(timeout) then return nil, "timeout" end
  end
  if self.failed then error(self.value, 0) end
  return self.value
end

-- Greenlets waiting now.
function Event:waiting()
  return self.waiters.n
end

return new
