-- lgreen.http: LuaSocket's socket.http.request, green, for http and https.
--
--   local http = require "lgreen.http"
--   local body, code, headers, status = http.request("http://localhost:8080/")
--   local ok, code = http.request{ url = "https://example.org/", sink = sink,
--                                  timeout = 5, cafile = "ca.pem" }
--
-- request(url [, body]) and request(table) are socket.http.request: same
-- arguments, same returns (body, code, headers, status for a string URL;
-- 1, code, headers, status for a table; nil, err on failure), same
-- redirects.  The request runs inside socket.http itself; only the
-- connection is lgreen's: a green TCP socket, for https wrapped by
-- lgreen.ssl, so a request parks only its own greenthread.  Run many at
-- once with a GreenPool.
--
-- Differences, on purpose:
--  * timeout (table field, else http.TIMEOUT, 60 s): seconds for the whole
--    request, redirects included, not per blocking step; past it the
--    request ends with nil, "timeout".
--  * https verifies the server as lgreen.ssl.connect does: the chain
--    against cafile/capath (default: the system bundle) and the host name.
--    LuaSec's ssl.https does not verify by default; here a request that
--    wants no verification says verify = "none".  The TLS fields of the
--    request table (verify, cafile, capath, certificate, key, password,
--    protocol, options, ciphers, servername) go to LuaSec; they also apply
--    after a redirect, which ssl.https does not allow at all.
--
-- How: socket.http picks a connection factory per scheme from
-- socket.http.schemes, and again, from the table, when a redirect changes
-- scheme.  Loading this module wraps those two entries: inside
-- lgreen.http.request (for the calling greenthread only) they return the
-- green factory; for everyone else they are what they were.  A `create`
-- given by the caller is used as is, as socket.http does.
--
-- tcp(params) is the green counterpart of LuaSec's ssl.https.tcp (a
-- factory for socket.http's `create`); lgreen.patch installs it there.
local http = require "socket.http"
local greenlet = require "lgreen.greenlet"
local hub = require "lgreen.hub"
local S = require "lgreen.socket"
local tls = require "lgreen.ssl"
local args = require "lgreen.args"

local getcurrent, now = greenlet.getcurrent, hub.now
local type, pairs, pcall, error, setmetatable, tostring =
  type, pairs, pcall, error, setmetatable, tostring

local M = { TIMEOUT = 60 }
M.listen = require("lgreen.httpd").listen	-- the server side: lgreen.httpd

-- The TLS fields a request table may carry.
local TLS = {}
for k in pairs(tls.OPTIONS) do
  if k ~= "mode" then TLS[#TLS + 1] = k end	-- a request is a client
end
table.sort(TLS)

-- The keys of a request table: socket.http's (the URL's parts included),
-- timeout, and the TLS fields.  Any other is a typo: refused.
local REQUEST = args.set { "url", "sink", "method", "headers", "source",
  "step", "proxy", "redirect", "maxredirects", "nredirects", "create",
  "target", "uri", "scheme", "authority", "userinfo", "user", "host", "port",
  "path", "params", "query", "fragment", "timeout" }
for i = 1, #TLS do REQUEST[TLS[i]] = true end

-- -- A connection for socket.http ------------------------------------------
--
-- socket.http calls create(), then c:settimeout(http.TIMEOUT) and
-- c:connect(host, port), then send/receive/close (and getfd/dirty through
-- its sources and sinks).  Conn forwards them to the green socket (after
-- connect, the TLS object) with the time left before the request's deadline
-- as the timeout of each call.

local Conn = {}
Conn.__index = Conn

local function left(self)
  local dl = self.deadline
  if not dl then return self.timeout end
  local t = dl - now()
  return t > 0 and t or 0
end

-- The deadline rules; without one (tcp()), socket.http's TIMEOUT bounds
-- each call, as with LuaSocket.
function Conn:settimeout(t)
  self.timeout = t
  return 1
end

function Conn:connect(host, port)
  local sock = self.sock
  sock:settimeout(left(self))
  local ok, err = sock:connect(host, port)
  if not ok then return nil, err end
  if self.tls then
    local c
    c, err = tls.wrap(sock, self.tls)
    if not c then return nil, err end
    c:settimeout(left(self), "t")
    c, err = tls.handshake(c, host, self.tls)
    if not c then return nil, err end
    self.sock = c
  end
  return 1
end

local function forward(name)
  return function(self, ...)
    local sock = self.sock
    sock:settimeout(left(self), "t")
    return sock[name](sock, ...)
  end
end
Conn.send, Conn.receive = forward("send"), forward("receive")

function Conn:close() return self.sock:close() end
function Conn:getfd() return self.sock:getfd() end
function Conn:dirty() return self.sock:dirty() end

-- A create function: connections that end by deadline (nil: none), over
-- TLS when tlsparams is given.
local function factory(deadline, tlsparams)
  return function()
    local sock, err = S.tcp()
    if not sock then return nil, err end
    return setmetatable({ sock = sock, deadline = deadline, tls = tlsparams }, Conn)
  end
end

-- The TLS parameters of request table t.  lgreen.ssl builds one SSL
-- context per parameter table (loading a CA bundle takes milliseconds), so
-- requests with equal TLS fields share one table.
local shared = {}	-- "k=v;k=v" -> parameter table
local function tlsparams(t)
  local p, key = {}, {}
  for i = 1, t and #TLS or 0 do
    local k, v = TLS[i], t[TLS[i]]
    if v ~= nil then
      p[k] = v
      key[#key + 1] = k .. "=" .. (type(v) == "table" and table.concat(v, ",") or tostring(v))
    end
  end
  key = table.concat(key, ";")
  local q = shared[key]
  if not q then q = p shared[key] = p end
  return q
end

-- tcp(params): like ssl.https.tcp(params), green and verifying.
function M.tcp(params)
  -- (LuaSec's https.request hands its whole request table to tcp)
  if params ~= nil then args.check_options(params, REQUEST, 1, "tcp") end
  return factory(nil, tlsparams(params))
end

-- -- Requests --------------------------------------------------------------

local active = setmetatable({}, { __mode = "k" })	-- greenlet -> request

-- Wrap socket.http's per-scheme factories (see the header).
local schemes = http.schemes
if not schemes then error("lgreen.http needs socket.http.schemes (LuaSocket 3.0 or later)") end
for scheme, def in pairs(schemes) do
  local orig = def.create
  def.create = function(t)
    local r = active[getcurrent()]
    if not r then return orig(t) end
    return factory(r.deadline, scheme == "https" and r.tls or nil)
  end
end

local function finish(g, prev, ok, ...)
  active[g] = prev
  if not ok then error((...), 0) end
  return ...
end

function M.request(reqt, body)
  local kind = type(reqt)
  if kind ~= "string" and kind ~= "table" then
    args.argerror(1, "request", "string or table expected, got " .. kind)
  end
  local timeout, what = M.TIMEOUT, "http.TIMEOUT"
  if kind == "table" then
    args.check_options(reqt, REQUEST, 1, "request")
    if reqt.timeout ~= nil then timeout, what = reqt.timeout, "timeout" end
  end
  if timeout == nil then args.argerror(1, "request", what .. ": seconds expected, got nil") end
  args.check_seconds(timeout, 1, "request", what)
  -- C cuts a host name at a NUL: the request would reach another host
  local url = kind == "string" and reqt or reqt.url
  if type(url) == "string" and url:find("\0", 1, true) then
    args.argerror(1, "request", "URL contains a NUL byte")
  end
  if kind == "table" and reqt.host ~= nil then args.check_host(reqt.host, 1, "request") end
  local r = { deadline = now() + timeout, tls = tlsparams(kind == "table" and reqt or nil) }
  local g = getcurrent()
  local prev = active[g]
  active[g] = r
  return finish(g, prev, pcall(http.request, reqt, body))
end

return M
