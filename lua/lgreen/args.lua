-- lgreen.args: the argument checks the Lua modules share, so that every
-- function refuses bad input the same way, with the same message.
--
-- level is as error()'s, counted from the function that calls these: 2
-- (the default) blames the caller of that function; a helper one call
-- deeper passes 3.
local error, type, pairs, tostring = error, type, pairs, tostring
local format, find = string.format, string.find

local M = {}

-- Raise "bad argument #n to 'fname' (msg)".
local function argerror(n, fname, msg, level)
  error(format("bad argument #%d to '%s' (%s)", n, fname, msg), (level or 2) + 1)
end
M.argerror = argerror

-- v, if it is nil or a number of seconds (>= 0, not NaN); what names the
-- field ("opts.timeout") when the argument is a table.
function M.check_seconds(v, n, fname, what, level)
  if v == nil or type(v) == "number" and v >= 0 then return v end
  argerror(n, fname, format("%sseconds expected, got %s", what and what .. ": " or "",
    type(v) == "number" and tostring(v) or type(v)), (level or 2) + 1)
end

-- opts (or {} for nil), once it is a table whose keys are all in allowed (a
-- set: { timeout = true, ... }): a misspelt key must not become a silent
-- default.  The message is greenlet.new's: "unknown option 'timout'".
function M.check_options(opts, allowed, n, fname, level)
  if opts == nil then return {} end
  level = (level or 2) + 1
  if type(opts) ~= "table" then
    argerror(n, fname, "table expected, got " .. type(opts), level)
  end
  for k in pairs(opts) do
    if not allowed[k] then
      argerror(n, fname, format("unknown option '%s'",
        type(k) == "string" and k or type(k)), level)
    end
  end
  return opts
end

-- host, once it is a string with no NUL byte (C would cut it there: the
-- call would reach another host than the one named).
function M.check_host(host, n, fname, level)
  if type(host) ~= "string" then
    argerror(n, fname, "string expected, got " .. type(host), (level or 2) + 1)
  end
  if find(host, "\0", 1, true) then
    argerror(n, fname, "host name contains a NUL byte", (level or 2) + 1)
  end
  return host
end

-- A set from a list of names.
function M.set(list)
  local s = {}
  for i = 1, #list do s[list[i]] = true end
  return s
end

return M
