-- lgreen.timeout: Timeout and with_timeout (eventlet.timeout), also
-- re-exported by the lgreen façade.
local H = require("lgreen.core").hub
local args = require "lgreen.args"

local error, pcall, type = error, pcall, type

local M = {}

-- Timeout(seconds [, err]): raises err (default: the Timeout itself) in the
-- running greenthread when it next blocks after seconds, unless cancelled;
-- it is cancelled when that greenthread ends.
-- Timeout(nil) never fires.
local Never = { pending = false }
function Never.cancel() return false end

function M.Timeout(seconds, err)
  if seconds == nil then return Never end
  args.check_seconds(seconds, 1, "Timeout")
  return H.timeout(seconds, err)
end

local function settle(t, ok, ...)
  t:cancel()
  if ok then return ... end
  if (...) == t then return nil, "timeout" end
  error((...), 0)
end

-- with_timeout(seconds, fn, ...): fn's results, or nil, "timeout".
function M.with_timeout(seconds, fn, ...)
  args.check_seconds(seconds, 1, "with_timeout")
  if type(fn) ~= "function" then
    args.argerror(2, "with_timeout", "function expected, got " .. type(fn))
  end
  local t = M.Timeout(seconds)
  return settle(t, pcall(fn, ...))
end

return M
