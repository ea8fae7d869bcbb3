-- lgreen.patch: make code that calls LuaSocket directly use green sockets.
-- Explicit and opt-in; nothing changes until monkey_patch() is called.
--
--   local restore = lg.monkey_patch()      -- or monkey_patch{"socket"}
--   local socket = require "socket"        -- unmodified code, e.g. socket.http
--   local c = socket.tcp()                 -- a green socket: parks, never blocks
--   restore()                              -- the originals are back
--
-- monkey_patch([what]) replaces fields of LuaSocket's module table
-- (package.loaded.socket, loading it if needed) and returns a function that
-- puts the originals back.  `what` is a list of groups (default: all):
--   "socket"  socket.tcp, tcp4, tcp6, udp, udp4, udp6, connect, connect4,
--             connect6, bind, sleep
--   "dns"     socket.dns.toip, tohostname, getaddrinfo, getnameinfo: those
--             that lgreen.resolve provides (if the module is there)
--   "https"   LuaSec's ssl.https.tcp and ssl.https.request (if lua-sec is
--             installed): lgreen.http's, which verify the server by default
--             (LuaSec's do not; say verify = "none" to keep that) and take
--             ssl.https.TIMEOUT as their default timeout (for the whole
--             request); and ssl.wrap: given a green socket, it returns
--             lgreen.ssl's green TLS object (LuaSec's defaults kept: no
--             verification unless asked), so ssl.wrap(socket.tcp()) then
--             dohandshake, receive, send park only their greenthread
-- socket.http needs nothing of its own: it calls socket.tcp, and
-- ssl.https.tcp for https, when each request starts.
--
-- What the patch does not reach:
--  * Sockets made before the patch stay LuaSocket's, blocking the whole
--    process when they block; so do modules that copied a function
--    (`local tcp = socket.tcp`) before the patch.  Patch first, then load.
--  * socket.select is not replaced.  Given green sockets it still works
--    (they have getfd and dirty) but it is the real select(2): it blocks
--    every greenthread for up to its timeout.  Use select(r, w, 0) to poll,
--    or a greenthread per socket.
--  * socket.gettime, socket.skip, socket.try, socket.protect, socket.unix
--    (a separate module) stay as they are.
local hub = require "lgreen.hub"
local args = require "lgreen.args"

local type, pairs, ipairs, pcall, error, require, tostring =
  type, pairs, ipairs, pcall, error, require, tostring

local M = {}

local function has(name)
  local ok, m = pcall(require, name)
  return ok and m or nil
end

-- LuaSocket's connect(address, port [, laddress [, lport [, family]]]):
-- lgreen.socket's connect takes that form too (a string third argument);
-- a local port alone binds on every address.
local function connect(S, family)
  return function(address, port, laddress, lport, fam)
    if lport and not laddress then laddress = "*" end
    return S.connect(address, port, laddress, lport, family or fam)
  end
end

local function socket_fields(S)
  return {
    tcp = S.tcp, tcp4 = S.tcp4, tcp6 = S.tcp6,
    udp = S.udp, udp4 = S.udp4, udp6 = S.udp6,
    connect = connect(S), connect4 = connect(S, "inet"), connect6 = connect(S, "inet6"),
    bind = S.bind, sleep = hub.sleep,
  }
end

local GROUPS = {
  socket = function(socket)
    return { { socket, socket_fields(require "lgreen.socket") } }
  end,
  dns = function(socket)
    local R = has("lgreen.resolve")
    if type(R) ~= "table" or type(socket.dns) ~= "table" then return {} end
    local f = {}
    for _, k in ipairs { "toip", "tohostname", "getaddrinfo", "getnameinfo" } do
      if type(R[k]) == "function" then f[k] = R[k] end
    end
    return { { socket.dns, f } }
  end,
  https = function()
    local https = has("ssl.https")
    if not https then return {} end
    local request, tcp = require("lgreen.http").for_https(https)
    return { { https, { tcp = tcp, request = request } },
      { require "ssl", { wrap = require("lgreen.ssl").luasec_wrap } } }
  end,
}
local ALL = { "socket", "dns", "https" }

-- monkey_patch([what]) -> restore()
function M.monkey_patch(what)
  if what == nil then what = ALL
  elseif type(what) == "string" then what = { what }
  elseif type(what) ~= "table" then
    args.argerror(1, "monkey_patch", "table of group names expected, got " .. type(what))
  end
  for _, g in ipairs(what) do
    if not GROUPS[g] then
      args.argerror(1, "monkey_patch", "unknown group '" .. tostring(g)
        .. "'; groups: socket, dns, https")
    end
  end
  local socket = require "socket"
  local saved = {}	-- { table, field, original } in patch order
  for _, g in ipairs(what) do
    for _, tf in ipairs(GROUPS[g](socket)) do
      local t, fields = tf[1], tf[2]
      for k, v in pairs(fields) do
        if v ~= nil then
          saved[#saved + 1] = { t, k, t[k] }
          t[k] = v
        end
      end
    end
  end
  local done = false
  return function()
    if done then return false end
    done = true
    for i = #saved, 1, -1 do
      local s = saved[i]
      s[1][s[2]] = s[3]
    end
    return true
  end
end

return M
