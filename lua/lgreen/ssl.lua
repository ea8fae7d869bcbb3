-- lgreen.ssl: TLS over green sockets, with LuaSec (Debian lua-sec).
--
--   local tls = require "lgreen.ssl"
--   local c, err = tls.connect("example.org", 443)       -- verified, SNI sent
--   local c = tls.connect("localhost", 8443, { cafile = "ca.pem", timeout = 5 })
--   local c = tls.connect(host, port, { verify = "none" }) -- opt out, explicitly
--   local s = tls.wrap(client, { mode = "server", certificate = "c.pem", key = "k.pem" })
--   assert(s:dohandshake())
--
-- wrap(sock, params) takes over sock's fd (LuaSec's ssl.wrap: getfd, then
-- setfd(-1)) and returns a green TLS object with LuaSocket's methods and
-- return conventions: receive(pattern, prefix), send(data, i, j), close,
-- settimeout(seconds [, "b"|"t"]), gettimeout, getfd, dirty, getpeername,
-- getsockname, and LuaSec's dohandshake, sni, getpeercertificate,
-- getpeerchain, getpeerverification, getsniname, getalpn, info, want.  The
-- timeout starts as the wrapped socket's (gettimeout) and bounds each call,
-- handshake included: nil, "timeout" (receive also the partial data, send
-- the index of the last byte sent).  LuaSec runs the fd with timeout 0: when
-- OpenSSL says "wantread"/"wantwrite" only this greenthread parks on the fd.
--
-- connect(host, port [, params]) is the one-call client: a green TCP
-- connect, then the handshake with SNI = host (or params.servername) and,
-- unless params.verify == "none", verification of the chain against
-- params.cafile/capath (default: Debian's bundle, CAFILE below) and of the
-- name: the certificate's subjectAltName (DNS, wildcard in the left-most
-- label only, or IP) must match host, else nil, "certificate does not match
-- host ...".  params.timeout (seconds) bounds connect and handshake.
--
-- Other params are LuaSec's (protocol, options, ciphers, certificate, key,
-- password, alpn, ...); client defaults: protocol "any" with SSLv2/3 and TLS
-- 1.0/1.1 off.  A params table becomes an SSL context once and is cached
-- (keyed by the table): change settings by passing a new table.  A context
-- from ssl.newcontext is accepted too.
local ssl = require "ssl"
local hub = require "lgreen.hub"
local S = require "lgreen.socket"
local resolve = require "lgreen.resolve"
local args = require "lgreen.args"
local core = require "lgreen.core"

-- LuaSec's own ssl.wrap, kept before monkey_patch can replace the field.
local luasec_wrap = ssl.wrap

local wait_read, wait_write, now = hub.wait_read, hub.wait_write, hub.now
local type, pairs, ipairs, error, tostring, setmetatable, getmetatable =
  type, pairs, ipairs, error, tostring, setmetatable, getmetatable

local M = { CAFILE = "/etc/ssl/certs/ca-certificates.crt" }
local argerror, check_options = args.argerror, args.check_options

-- The keys a parameter table may have: LuaSec's (ssl.newcontext), then
-- ours: servername and checkhost (handshake), timeout (connect only).
local LUASEC = { "mode", "protocol", "key", "password", "certificate",
  "certificates", "cafile", "capath", "verify", "verifyext", "options",
  "depth", "ciphers", "ciphersuites", "dhparam", "curve", "curveslist",
  "alpn", "dane" }
local WRAP = args.set(LUASEC)
WRAP.servername, WRAP.checkhost = true, true
local CONNECT = args.set(LUASEC)
CONNECT.servername, CONNECT.checkhost, CONNECT.timeout = true, true, true
M.OPTIONS = WRAP	-- for lgreen.http, whose request tables carry these

local CLIENT = {
  mode = "client", protocol = "any", verify = { "peer" },
  options = { "all", "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1" },
}
local SERVER = {
  mode = "server", protocol = "any", verify = "none",
  options = { "all", "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1" },
}

-- -- Contexts ---------------------------------------------------------------

local contexts = setmetatable({}, { __mode = "k" })	-- params -> context

local function verifying(params)
  local v = params.verify
  return v ~= "none" and not (type(v) == "table" and v[1] == "none")
end

-- params (or a context) -> context, defaults filled in, cached per table.
local function context(params)
  if type(params) == "userdata" then return params end
  local ctx = contexts[params]
  if ctx then return ctx end
  local cfg = {}
  for k, v in pairs(params) do cfg[k] = v end
  for k, v in pairs(params.mode == "server" and SERVER or CLIENT) do
    if cfg[k] == nil then cfg[k] = v end
  end
  if cfg.mode == "client" and verifying(cfg) and not cfg.cafile and not cfg.capath then
    cfg.cafile = M.CAFILE
  end
  local err
  ctx, err = ssl.newcontext(cfg)
  if not ctx then return nil, err end
  contexts[params] = ctx
  return ctx
end

-- -- The green TLS object ---------------------------------------------------

local Conn = {}
Conn.__index = Conn

-- Park until fd is ready for `want` ("wantread"/"wantwrite"), within the
-- call's deadline; false on timeout.
local function park(self, want, deadline)
  local t = self.block
  if deadline then
    local left = deadline - now()
    if left <= 0 then return false end
    if not t or left < t then t = left end
  end
  local fd = self.fd
  if want == "wantwrite" then return wait_write(fd, t) ~= nil end
  return wait_read(fd, t) ~= nil
end

local function deadline(self)
  return self.total and now() + self.total or nil
end

local function want(err)
  return err == "wantread" or err == "wantwrite" or err == "timeout"
end

function Conn:dohandshake()
  local c, dl = self.conn, deadline(self)
  while true do
    local ok, err = c:dohandshake()
    if ok then return true end
    if not want(err) then return nil, err end
    if err == "timeout" then err = "wantread" end
    if not park(self, err, dl) then return nil, "timeout" end
  end
end

-- LuaSec's "*a" returns nil, "closed" at the end when its own call read
-- nothing: after rounds that each fed the last one's part in as prefix,
-- what this call gathered is the answer.
local function all(pattern)
  return type(pattern) == "string" and pattern:sub(1, 2) == "*a"
end

function Conn:receive(pattern, prefix)
  local c, dl = self.conn, deadline(self)
  local start = type(prefix) == "string" and #prefix or 0
  while true do
    local data, err, part = c:receive(pattern, prefix)
    if data then return data end
    if err == "closed" and part and #part > start and all(pattern) then return part end
    if not want(err) then return nil, err, part end
    prefix = part
    -- OpenSSL may hold decrypted bytes the fd no longer shows: read again
    if not c:dirty() then
      if err == "timeout" then err = "wantread" end
      if not park(self, err, dl) then return nil, "timeout", part end
    end
  end
end

function Conn:send(data, i, j)
  local c, dl = self.conn, deadline(self)
  i = i or 1
  while true do
    local last, err, sent = c:send(data, i, j)
    if last then return last end
    if not want(err) then return nil, err, sent end
    if sent and sent >= i then i = sent + 1 end
    if err == "timeout" then err = "wantwrite" end
    if not park(self, err, dl) then return nil, "timeout", sent end
  end
end

-- settimeout(seconds [, "b"|"t"]): LuaSocket's modes.  "b" (default)
-- bounds each wait on the fd; "t" bounds the whole call.  nil or a
-- negative value: no limit.
function Conn:settimeout(t, mode)
  if t ~= nil and type(t) ~= "number" then
    argerror(1, "settimeout", "number expected, got " .. type(t))
  end
  if t and t < 0 then t = nil end
  if mode == "t" or mode == "r" then self.total = t
  elseif mode == nil or mode == "b" then self.block = t
  else argerror(2, "settimeout", "\"b\" or \"t\" expected") end
  return 1
end

function Conn:gettimeout() return self.block or -1, self.total or -1 end
function Conn:getfd() return self.conn:getfd() end
function Conn:dirty() return self.conn:dirty() end
function Conn:getpeername() return self.peer[1], self.peer[2], self.peer[3] end
function Conn:getsockname() return self.sockname[1], self.sockname[2], self.sockname[3] end

function Conn:close()
  if self.fd == -1 then return 1 end
  self.fd = -1
  return self.conn:close()
end

-- LuaSec's own (non-blocking) methods, passed through.
for _, name in ipairs { "sni", "getpeercertificate", "getpeerchain",
  "getpeerverification", "getsniname", "getalpn", "getfinished",
  "getpeerfinished", "info", "want", "getstats", "setstats" } do
  Conn[name] = function(self, ...)
    local c = self.conn
    return c[name](c, ...)
  end
end

function Conn:__tostring()
  return "lgreen.ssl (fd " .. tostring(self.fd) .. ")"
end

local function names(sock, method)
  local f = sock[method]
  if type(f) ~= "function" then return {} end
  return { f(sock) }
end

-- wrap(sock, params): the TLS object over sock's fd (sock gives it up).
-- (connect calls it with its own params, which may hold a timeout.)
local function wrap(sock, params)
  local block, total
  if sock.gettimeout then block, total = sock:gettimeout() end
  if block and block < 0 then block = nil end	-- LuaSocket's -1: none
  if total and total < 0 then total = nil end
  local peer, sockname = names(sock, "getpeername"), names(sock, "getsockname")
  local ctx, err = context(params)
  if not ctx then return nil, err end
  local c
  c, err = luasec_wrap(sock, ctx)
  if not c then return nil, err end
  c:settimeout(0)
  local fd = c:getfd()
  return setmetatable({ conn = c, fd = fd, block = block, total = total,
    peer = peer, sockname = sockname }, Conn)
end

function M.wrap(sock, params)
  if type(sock) ~= "table" and type(sock) ~= "userdata" then
    argerror(1, "wrap", "socket expected, got " .. type(sock))
  end
  if type(params) ~= "table" and type(params) ~= "userdata" then
    argerror(2, "wrap", "table of TLS parameters expected, got " .. type(params))
  end
  if type(params) == "table" then check_options(params, WRAP, 2, "wrap") end
  local c, err = wrap(sock, params)
  return c, err
end

-- luasec_wrap(sock, cfg): LuaSec's ssl.wrap, green for an lgreen socket
-- (monkey_patch's "https" group puts it in ssl.wrap, so that the usual
-- LuaSec code, ssl.wrap(socket.tcp()) then dohandshake, parks only its
-- greenthread).  cfg is LuaSec's, with LuaSec's defaults (no
-- verification unless cfg asks): the same as ssl.wrap but for the object,
-- this module's green one.  Any other socket goes to LuaSec's own wrap.
function M.luasec_wrap(sock, cfg)
  if getmetatable(sock) ~= core.socket.meta then return luasec_wrap(sock, cfg) end
  local ctx, err = cfg, nil
  if type(cfg) == "table" then
    ctx, err = ssl.newcontext(cfg)
    if not ctx then return nil, err end
  end
  return wrap(sock, ctx)
end

-- -- Names in certificates -------------------------------------------------

local function is_ip(host) return resolve.numeric(host) ~= nil end

-- One DNS name from a certificate against host (both lowercase); "*" is
-- allowed as the whole left-most label only, and never matches a dot.
local function dns_match(pattern, host)
  if pattern == host then return true end
  local rest = pattern:match("^%*(%..+%..+)$")	-- "*.example.org", not "*.org"
  if not rest then return false end
  local label, tail = host:match("^([^.]+)(%..+)$")
  return label ~= nil and tail == rest
end

-- Does the peer certificate name host?  subjectAltName when present (RFC
-- 6125), else the subject's commonName.
function M.checkhost(cert, host)
  host = host:lower():gsub("%.$", "")
  local ip = is_ip(host)
  local san = cert:extensions()["2.5.29.17"]
  if san then
    for _, n in ipairs(ip and san.iPAddress or san.dNSName or {}) do
      if ip and n == host then return true end
      if not ip and dns_match(n:lower(), host) then return true end
    end
    return false
  end
  if ip then return false end
  for _, e in ipairs(cert:subject()) do
    if e.name == "commonName" and dns_match(e.value:lower(), host) then return true end
  end
  return false
end

-- -- One-call client -------------------------------------------------------

local default = {}	-- the context key of connect(host, port) with no params

-- handshake(conn, host, params): SNI, handshake, name check; conn is closed
-- on failure.  For callers that wrap their own socket (lgreen.http).
local function handshake(c, host, params)
  params = params or default
  local name = params.servername or host
  if name and not is_ip(name) then c:sni(name) end
  local ok, err = c:dohandshake()
  if ok and verifying(params) and params.checkhost ~= false then
    local cert = c:getpeercertificate()
    if not (cert and M.checkhost(cert, name)) then
      ok, err = nil, "certificate does not match host '" .. tostring(name) .. "'"
    end
  end
  if not ok then c:close() return nil, err end
  return c
end

function M.handshake(c, host, params)
  if type(params) == "table" then check_options(params, WRAP, 3, "handshake") end
  if host ~= nil then args.check_host(host, 2, "handshake") end
  local conn, err = handshake(c, host, params)
  return conn, err
end

function M.connect(host, port, params)
  args.check_host(host, 1, "connect")
  params = params and check_options(params, CONNECT, 3, "connect") or default
  local timeout = args.check_seconds(params.timeout, 3, "connect", "params.timeout")
  local t0 = now()
  local sock, err = S.connect(host, port, timeout)
  if not sock then return nil, err end
  local c
  c, err = wrap(sock, params)
  if not c then sock:close() return nil, err end
  if timeout then c:settimeout(math.max(0, timeout - (now() - t0)), "t") end
  c, err = handshake(c, host, params)
  if not c then return nil, err end
  c:settimeout(nil, "t")
  c:settimeout(nil)
  return c
end

return M
