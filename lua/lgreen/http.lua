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
--
-- A killed or timed-out request (gt:kill(), with_timeout, Timeout) closes
-- its connections before the error goes on: none waits for the collector.
--
-- The keep-alive client, a form of its own (an HTTP method first):
--
--   local status, headers, body = http.request("GET", "http://127.0.0.1:8080/")
--   local status, headers, body = http.request("POST", url,
--     { ["content-type"] = "application/json" }, '{"a":1}', { timeout = 5 })
--
-- request(method, url [, headers [, body [, opts]]]) -> status, headers,
-- body | nil, err.  HTTP/1.1 of its own (not socket.http): connections are
-- kept per (scheme, host, port, TLS fields) and reused (see "The keep-alive
-- client" below for the rules).
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
  local owner = self.owner	-- ssl.https's: its TIMEOUT, as LuaSec does
  self.timeout = owner and owner.TIMEOUT or t
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
-- A request given as owner keeps the connections in owner.conns, to close
-- them when it is cancelled.
local function factory(deadline, tlsparams, owner, module)
  return function()
    local sock, err = S.tcp()
    if not sock then return nil, err end
    local c = setmetatable({ sock = sock, deadline = deadline, tls = tlsparams,
      owner = module }, Conn)
    if owner then owner.conns[#owner.conns + 1] = c end
    return c
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
    return factory(r.deadline, scheme == "https" and r.tls or nil, r)
  end
end

-- socket.http closes its connections when it returns; an error raised
-- through it (a kill, a Timeout) leaves them to us.
local function finish(g, r, prev, ok, ...)
  active[g] = prev
  if not ok then
    for i = 1, #r.conns do pcall(r.conns[i].close, r.conns[i]) end
    error((...), 0)
  end
  return ...
end

local fetch	-- the keep-alive client, below

local function pass(...) return ... end

-- socket.http's forms; the default timeout is module.TIMEOUT, named what.
-- (level 3: errors blame the caller of the public function.)
local function legacy(module, what, reqt, body)
  local kind = type(reqt)
  if kind ~= "string" and kind ~= "table" then
    args.argerror(1, "request", "string or table expected, got " .. kind, 3)
  end
  local timeout = module.TIMEOUT
  if kind == "table" then
    args.check_options(reqt, REQUEST, 1, "request", 3)
    if reqt.timeout ~= nil then timeout, what = reqt.timeout, "timeout" end
  end
  if timeout == nil then args.argerror(1, "request", what .. ": seconds expected, got nil", 3) end
  args.check_seconds(timeout, 1, "request", what, 3)
  -- C cuts a host name at a NUL: the request would reach another host
  local url = kind == "string" and reqt or reqt.url
  if type(url) == "string" and url:find("\0", 1, true) then
    args.argerror(1, "request", "URL contains a NUL byte", 3)
  end
  if kind == "table" and reqt.host ~= nil then args.check_host(reqt.host, 1, "request", 3) end
  local r = { deadline = now() + timeout, tls = tlsparams(kind == "table" and reqt or nil),
    conns = {} }
  local g = getcurrent()
  local prev = active[g]
  active[g] = r
  return finish(g, r, prev, pcall(http.request, reqt, body))
end

function M.request(reqt, body, ...)
  if type(reqt) == "string" and reqt:find("^%u+$") then return pass(fetch(reqt, body, ...)) end
  return pass(legacy(M, "http.TIMEOUT", reqt, body))	-- (no tail call: see legacy)
end

-- for_https(https) -> request, tcp: lgreen's, for LuaSec's ssl.https
-- module (monkey_patch installs them there): socket.http's forms whose
-- default timeout is https.TIMEOUT, read at each call as LuaSec does.
function M.for_https(https)
  local function request(reqt, body)
    return pass(legacy(https, "ssl.https.TIMEOUT", reqt, body))
  end
  local function tcp(params)
    if params ~= nil then args.check_options(params, REQUEST, 1, "tcp") end
    return factory(nil, tlsparams(params), nil, https)
  end
  return request, tcp
end

-- -- The keep-alive client -------------------------------------------------
--
-- request(method, url [, headers [, body [, opts]]]) -> status, headers,
-- body | nil, err.  status is the number, headers a table of lowercase
-- names (repeated headers joined with ", "), body a string.
--  * headers: name -> string or number; Host, User-Agent and, for a
--    string body, Content-Length are added unless given.  A body is sent
--    with its length, never chunked; POST, PUT and PATCH without one send
--    Content-Length: 0.
--  * opts.timeout: seconds for the whole request, redirects included
--    (default http.TIMEOUT); opts.connect_timeout: seconds for each
--    connect and TLS handshake (default: the whole request's).  Past either:
--    nil, "timeout".
--  * opts.redirect (default true) follows 301, 302, 303 (as GET, no body;
--    HEAD stays HEAD), 307 and 308 (same method and body), at most
--    opts.maxredirects times (default 5; more: nil, "too many redirects").
--    Authorization is dropped when a redirect leaves the host.
--  * opts.keepalive (default true): false sends Connection: close and
--    keeps nothing.
--  * the TLS fields of a request table (verify, cafile, ...) for https.
-- Connections are kept per (scheme, host, port, TLS fields): at most
-- http.MAXIDLE idle ones each (default 8), for http.IDLE seconds (30).  A
-- connection goes back only once its answer is read whole, and the server
-- keeps it open; one that was in a request the caller's greenthread left
-- (killed, timed out, an error) is closed at once.  A kept connection the
-- server closed meanwhile fails before its answer starts: the request is
-- sent once more on a new one.  LuaSec (1.2) cannot resume TLS sessions:
-- a reused https connection saves the TCP and the TLS handshakes, a new
-- one makes both.  http.close_idle() closes every kept connection.
local urlparse = require "socket.url"
local concat, lower, format, tonumber = table.concat, string.lower, string.format, tonumber

M.MAXIDLE, M.IDLE = 8, 30

local FETCH = { "timeout", "connect_timeout", "redirect", "maxredirects", "keepalive" }
FETCH = args.set(FETCH)
for i = 1, #TLS do FETCH[TLS[i]] = true end

local idle = {}	-- key -> { conn, ... }, the most recent last

function M.close_idle()
  for k, list in pairs(idle) do
    idle[k] = nil
    for i = 1, #list do list[i].sock:close() end
  end
end

-- A kept connection for key, or nil.
local function checkout(key)
  local list = idle[key]
  while list and #list > 0 do
    local c = list[#list]
    list[#list] = nil
    if now() - c.since < M.IDLE then return c end
    c.sock:close()
  end
end

local function checkin(c)
  local list = idle[c.key]
  if not list then list = {} idle[c.key] = list end
  if #list >= M.MAXIDLE then c.sock:close() return end
  c.since = now()
  list[#list + 1] = c
end

local function left(dl)
  local t = dl - now()
  return t > 0 and t or 0
end

-- A new connection for u (parsed URL) within deadline dl; its socket is
-- in r.conn from the start, so a cancelled connect closes it too.
local function open(r, u, key, tlsp, dl)
  local sock, err = S.tcp()
  if not sock then return nil, err end
  local c = { sock = sock, key = key }
  r.conn = c
  sock:settimeout(left(dl), "t")
  local ok
  ok, err = sock:connect(u.host, u.port)
  if ok then ok, err = sock:setoption("tcp-nodelay", true) end
  if ok and u.scheme == "https" then
    ok, err = tls.wrap(sock, tlsp)
    if ok then
      c.sock = ok
      ok:settimeout(left(dl), "t")
      ok, err = tls.handshake(ok, u.host, tlsp)
    end
  end
  if not ok then c.sock:close() r.conn = nil return nil, err end
  return c
end

-- The request's bytes: request line, headers, body.
local function message(method, u, headers, body, keepalive)
  local out, has = { method, " ", u.target, " HTTP/1.1\r\n" }, {}
  for k, v in pairs(headers) do
    has[lower(k)] = true
    out[#out + 1] = k .. ": " .. v .. "\r\n"
  end
  if not has.host then out[#out + 1] = "Host: " .. u.authority .. "\r\n" end
  if not has["user-agent"] then out[#out + 1] = "User-Agent: lgreen\r\n" end
  if not has["content-length"] and not has["transfer-encoding"] and
      (body or method == "POST" or method == "PUT" or method == "PATCH") then
    out[#out + 1] = "Content-Length: " .. (body and #body or 0) .. "\r\n"
  end
  if not keepalive and not has.connection then out[#out + 1] = "Connection: close\r\n" end
  out[#out + 1] = "\r\n"
  if body then out[#out + 1] = body end
  return concat(out)
end

-- receive(pattern) within deadline dl.
local function recv(sock, dl, pattern)
  sock:settimeout(left(dl), "t")
  return sock:receive(pattern)
end

-- Read one answer's head: status, version, headers | nil, err, got (got:
-- whether any byte of it came).
local function head(sock, dl)
  while true do
    local line, err, part = recv(sock, dl, "*l")
    if not line then return nil, err, part ~= nil and part ~= "" end
    local v, code = line:match("^HTTP/(%d%.%d) (%d%d%d)")
    if not v then return nil, "malformed status line: " .. line:sub(1, 80), true end
    local h, name = {}, nil
    while true do
      line, err = recv(sock, dl, "*l")
      if not line then return nil, err, true end
      if line == "" then break end
      local k, val = line:match("^([^:%s]+):%s*(.-)%s*$")
      if k then
        name = lower(k)
        h[name] = h[name] and h[name] .. ", " .. val or val
      elseif name and line:find("^[ \t]") then	-- an obsolete folded line
        h[name] = h[name] .. " " .. line:match("^%s*(.-)%s*$")
      else
        return nil, "malformed header line: " .. line:sub(1, 80), true
      end
    end
    code = tonumber(code)
    if code >= 200 or code == 101 then return code, v, h end
  end					-- 100 Continue and the like: the next
end

local function chunked(sock, dl)
  local parts = {}
  while true do
    local line, err = recv(sock, dl, "*l")
    if not line then return nil, err end
    local n = tonumber(line:match("^%s*(%x+)"), 16)
    if not n then return nil, "malformed chunk size: " .. line:sub(1, 40) end
    if n == 0 then break end
    local data
    data, err = recv(sock, dl, n)
    if not data then return nil, err end
    parts[#parts + 1] = data
    line, err = recv(sock, dl, "*l")
    if line ~= "" then return nil, err or "malformed chunk" end
  end
  repeat	-- trailers, up to the blank line
    local line, err = recv(sock, dl, "*l")
    if not line then return nil, err end
  until line == ""
  return concat(parts)
end

-- The body of an answer: body, reusable | nil, err.
local function read_body(sock, method, code, h, dl)
  sock:settimeout(left(dl), "t")
  if method == "HEAD" or code == 204 or code == 304 or code < 200 then return "", true end
  local te = h["transfer-encoding"]
  if te and lower(te):find("chunked", 1, true) then
    local body, err = chunked(sock, dl)
    return body, err == nil and true or err
  end
  local n = h["content-length"]
  if n then
    n = tonumber(n:match("^%s*(%d+)%s*$"))
    if not n then return nil, "malformed content-length" end
    if n == 0 then return "", true end
    local body, err = sock:receive(n)
    if not body then return nil, err end
    return body, true
  end
  local body, err = sock:receive("*a")	-- to the end: not reusable
  if not body then return nil, err end
  return body, false
end

-- One exchange on a kept or new connection: status, headers, body | nil,
-- err.  The connection goes back to the pool only after a whole answer.
local function exchange(r, method, u, headers, body, opts, dl)
  local tlsp = u.scheme == "https" and r.tls or nil
  local key = u.scheme .. "://" .. u.authority .. (tlsp and "#" .. tostring(tlsp) or "")
  local msg = message(method, u, headers, body, opts.keepalive)
  for try = 1, 2 do
    local c = opts.keepalive and try == 1 and checkout(key)
    local reused, err = c and true or false, nil
    r.conn = c or nil
    if not c then
      local cdl = opts.connect_timeout and math.min(dl, now() + opts.connect_timeout) or dl
      c, err = open(r, u, key, tlsp, cdl)
      if not c then return nil, err end
    end
    local sock = c.sock
    sock:settimeout(left(dl), "t")
    local ok, code, v, h, got
    ok, err = sock:send(msg)
    if ok then code, v, h = head(sock, dl) end
    if not code then
      got = ok and h or false		-- (head's third result: bytes came)
      err = ok and v or err
      sock:close()
      r.conn = nil
      -- a kept connection the server closed before answering: once more
      if not (reused and not got and err == "closed") then return nil, err end
    else
      local data, keep = read_body(sock, method, code, h, dl)
      if not data then sock:close() r.conn = nil return nil, keep end
      local conn = h.connection and lower(h.connection) or ""
      if keep == true and opts.keepalive and not conn:find("close", 1, true)
          and (v == "1.1" or conn:find("keep-alive", 1, true)) and code ~= 101 then
        r.conn = nil
        checkin(c)
      else
        sock:close()
        r.conn = nil
      end
      return code, h, data
    end
  end
end

-- url -> { scheme, host, port, authority, target } | nil, err
local function parse(url)
  local u = urlparse.parse(url)
  if not u or not u.host then return nil, "invalid URL: " .. url end
  u.scheme = u.scheme and lower(u.scheme) or "http"
  if u.scheme ~= "http" and u.scheme ~= "https" then
    return nil, "unsupported scheme: " .. u.scheme
  end
  local default = u.scheme == "https" and 443 or 80
  u.port = tonumber(u.port) or default
  local host = u.host:find(":", 1, true) and "[" .. u.host .. "]" or u.host
  u.authority = u.port == default and host or host .. ":" .. u.port
  u.target = (u.path and u.path ~= "" and u.path or "/")
    .. (u.params and ";" .. u.params or "") .. (u.query and "?" .. u.query or "")
  return u
end

local function check_headers(headers)
  if headers == nil then return {} end
  if type(headers) ~= "table" then
    args.argerror(3, "request", "table of headers expected, got " .. type(headers), 4)
  end
  for k, v in pairs(headers) do
    local tv = type(v)
    if type(k) ~= "string" or (tv ~= "string" and tv ~= "number") then
      args.argerror(3, "request", "headers: string names and string values expected", 4)
    end
    local kv = k .. ":" .. v
    if kv:find("[\r\n]") or kv:find("\0", 1, true) then
      args.argerror(3, "request", "headers: CR, LF or NUL in '" .. k .. "'", 4)
    end
  end
  return headers
end

local SEE_OTHER = { [301] = true, [302] = true, [303] = true }
local KEEP_METHOD = { [307] = true, [308] = true }
local BODY_HEADERS = args.set { "content-length", "content-type", "transfer-encoding" }
local HOST_HEADERS = args.set { "authorization", "cookie", "host" }

-- headers less the names in drop (a set of lowercase names).
local function without(headers, drop)
  local t = {}
  for k, v in pairs(headers) do
    if not drop[lower(k)] then t[k] = v end
  end
  return t
end

local function follow(r, method, url, headers, body, opts, dl)
  for _ = 0, opts.maxredirects do
    local u, err = parse(url)
    if not u then return nil, err end
    local code, h, data = exchange(r, method, u, headers, body, opts, dl)
    if not code then return nil, h end
    local loc = h.location
    if not (opts.redirect and loc and (SEE_OTHER[code] or KEEP_METHOD[code])) then
      return code, h, data
    end
    if SEE_OTHER[code] and method ~= "HEAD" then
      method, body, headers = "GET", nil, without(headers, BODY_HEADERS)
    end
    local nurl = urlparse.absolute(url, loc)
    local nu = parse(nurl)
    if nu and (nu.host ~= u.host or nu.port ~= u.port or nu.scheme ~= u.scheme) then
      headers = without(headers, HOST_HEADERS)	-- credentials stay with their host
    end
    url = nurl
  end
  return nil, "too many redirects"
end

local function settle(r, ok, ...)
  if not ok then	-- killed, timed out, or an error: never back to the pool
    if r.conn then pcall(r.conn.sock.close, r.conn.sock) r.conn = nil end
    error((...), 0)
  end
  return ...
end

-- (Called from request, not as a tail call: level 3 blames its caller.)
fetch = function(method, url, headers, body, opts)
  if type(url) ~= "string" then args.argerror(2, "request", "URL string expected, got " .. type(url), 3) end
  if url:find("\0", 1, true) then args.argerror(2, "request", "URL contains a NUL byte", 3) end
  headers = check_headers(headers)
  if body ~= nil and type(body) ~= "string" then
    args.argerror(4, "request", "string body expected, got " .. type(body), 3)
  end
  opts = args.check_options(opts, FETCH, 5, "request", 3)
  local timeout = opts.timeout
  if timeout == nil then timeout = M.TIMEOUT end
  args.check_seconds(timeout, 5, "request", "opts.timeout", 3)
  args.check_seconds(opts.connect_timeout, 5, "request", "opts.connect_timeout", 3)
  local maxr = opts.maxredirects
  if maxr == nil then maxr = 5 end
  if type(maxr) ~= "number" or maxr < 0 then
    args.argerror(5, "request", "opts.maxredirects: number >= 0 expected", 3)
  end
  local o = { connect_timeout = opts.connect_timeout, maxredirects = maxr,
    redirect = opts.redirect ~= false, keepalive = opts.keepalive ~= false }
  local r = { tls = tlsparams(opts) }
  return settle(r, pcall(follow, r, method, url, headers, body, o, now() + timeout))
end

return M
