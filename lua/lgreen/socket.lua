-- lgreen.socket: green sockets with LuaSocket's names and return values.
--
--   local S = require "lgreen.socket"          -- also lg.socket
--   local c = assert(S.connect("example.org", 80, 5))
--   c:send("GET / HTTP/1.0\r\nHost: example.org\r\n\r\n")
--   local line, err, partial = c:receive("*l")
--
-- A call that would block parks only the calling greenthread.  Timeouts are
-- LuaSocket's: settimeout(seconds [, "b"]) bounds each wait, "t" the whole
-- call; none by default.  Failures return nil, "timeout" | "closed" |
-- LuaSocket's message, plus the partial result where LuaSocket gives one.
-- close() from another greenthread makes a blocked call return nil,
-- "closed".  Host names are resolved by lgreen.resolve on a thread pool;
-- UDP's sendto takes numeric addresses only, as in LuaSocket.
local core = require "lgreen.core"
local pool = require "lgreen.pool"
local gthread = require "lgreen.greenthread"
local resolve = require "lgreen.resolve"
local args = require "lgreen.args"

local C = core.socket
local site, getinfo = core.hub.site, debug.getinfo
local error, type, tostring, select = error, type, tostring, select

local S = {}
local methods = {}
C.meta.__index = methods

-- The hot and simple methods are the C functions themselves.
for _, k in ipairs { "receive", "send", "accept", "listen", "close",
  "shutdown", "settimeout", "gettimeout", "getfd", "setfd", "dirty",
  "getstats", "getpeername", "getsockname", "setoption", "getoption",
  "receivefrom" } do
  methods[k] = C[k]
end

local argerror, check_host = args.argerror, args.check_host

-- The addresses to try for host (numeric ones skip the resolver).
local function addresses(host, port, family, socktype, passive)
  if family == "unix" then return { { family = "unix", addr = host } } end
  if passive and (host == "*" or host == nil) then
    host = family == "inet6" and "::" or "0.0.0.0"
  end
  local num = resolve.numeric(host)
  if num then
    if family ~= "any" and family ~= num then
      return nil, "address family mismatch"
    end
    return { { family = num, addr = host, port = port } }
  end
  return resolve.getaddrinfo(host, port, {
    family = family ~= "any" and family or nil,
    socktype = socktype, passive = passive })
end

-- Try op (C.connect or C.bind) on each address in turn, as LuaSocket does.
local function each_address(op, sock, fname, host, port)
  local _, proto, family = C.kind(sock)
  if family ~= "unix" then
    check_host(host, 1, fname)
    port = tonumber(port)
    if not port then argerror(2, fname, "number expected") end
  elseif type(host) ~= "string" then
    argerror(1, fname, "path expected, got " .. type(host))
  end
  local list, err, ename = addresses(host, port, family,
    proto == "udp" and "dgram" or "stream", op == C.bind)
  if not list then return nil, err, ename end
  for i = 1, #list do
    local a = list[i]
    local ok
    if a.family == "unix" then ok, err, ename = op(sock, "unix", a.addr)
    else ok, err, ename = op(sock, a.family, a.addr, a.port or port) end
    if ok then return 1 end
    if err == "timeout" then break end
  end
  return nil, err, ename	-- ename: the errno (EAI_x) name, if any
end

function methods:connect(host, port)
  return each_address(C.connect, self, "connect", host, port)
end

function methods:bind(host, port)
  return each_address(C.bind, self, "bind", host, port)
end

-- UDP: setpeername("*") forgets the peer; setsockname binds.
function methods:setpeername(host, port)
  if host == "*" then return C.disconnect(self) end
  return each_address(C.connect, self, "setpeername", host, port)
end

function methods:setsockname(host, port)
  return each_address(C.bind, self, "setsockname", host, port)
end

function methods:sendto(data, ip, port)
  local fam = type(ip) == "string" and not ip:find("\0", 1, true) and resolve.numeric(ip)
  if not fam then argerror(2, "sendto", "numeric IP address expected") end
  return C.sendto(self, data, fam, ip, port)
end

-- Constructors, as in LuaSocket 3.
function S.tcp() return C.new("tcp") end
function S.tcp4() return C.new("tcp", "inet") end
function S.tcp6() return C.new("tcp", "inet6") end
function S.udp() return C.new("udp") end
function S.udp4() return C.new("udp", "inet") end
function S.udp6() return C.new("udp", "inet6") end
function S.unix() return C.new("unix") end
S.wrap = C.wrap		-- wrap(fd): a stream over a pipe end or any fd

-- connect(host, port [, timeout]): a connected client with no timeout left
-- on it (timeout bounds the connect only).  LuaSocket's form
-- connect(host, port [, locaddr [, locport [, family]]]) works too.
function S.connect(host, port, timeout, locport, family)
  local locaddr
  if type(timeout) == "string" then locaddr, timeout = timeout, nil
  else args.check_seconds(timeout, 3, "connect") end
  local c, err, ename = C.new("tcp", family)
  if not c then return nil, err, ename end
  if locaddr then
    local ok, e, en = c:bind(locaddr, locport or 0)
    if not ok then c:close() return nil, e, en end
  end
  c:settimeout(timeout, "t")
  local ok, e, en = c:connect(host, port)
  if not ok then c:close() return nil, e, en end
  c:settimeout(nil, "t")
  return c
end

-- listen(host, port [, backlog]): a listening server, SO_REUSEADDR set.
-- host "*" listens on every IPv4 address; "::" on IPv6.
function S.listen(host, port, backlog)
  if host ~= nil then check_host(host, 1, "listen") end
  if backlog ~= nil and type(backlog) ~= "number" then
    argerror(3, "listen", "number expected")
  end
  local list, err, ename = addresses(host, port, "any", "stream", true)
  if not list then return nil, err, ename end
  for i = 1, #list do
    local a = list[i]
    local s, ok
    s, err, ename = C.new("tcp", a.family)	-- nil, err when out of fds
    if s then
      ok, err, ename = s:setoption("reuseaddr", true)
      if ok then ok, err, ename = C.bind(s, a.family, a.addr, a.port or port) end
      if ok then
        ok, err, ename = s:listen(backlog or 128)
        if ok then return s end
      end
      s:close()
    end
  end
  return nil, err, ename
end

-- bind(host, port [, backlog]): LuaSocket's socket.bind.
function S.bind(host, port, backlog)
  return S.listen(host, port, backlog or 32)
end

-- One connection: the handler runs, the connection is closed whatever
-- happens, and an error goes on to the pool's report with the traceback
-- of where it was raised (gthread.catch keeps it).
local function serve_one(handler, client)
  local ok, err = xpcall(function() return handler(client) end, gthread.catch)
  client:close()
  if not ok then error(err, 0) end
end

-- serve(server, handler [, concurrency]): accept forever, each connection
-- in handler(client) on a GreenPool of concurrency (default 1000) green
-- threads.  A handler's error closes its connection and is reported on
-- stderr; the server goes on.  Returns true once server is closed (a
-- SIGTERM handler closing it is a clean shutdown), after the handlers in
-- flight finish; or nil, err on another accept failure.
-- serve(addr_or_server, handler, opts): server may be "host:port"; opts
-- { workers = n | "auto", concurrency, grace, backlog }: see lgreen.workers.
function S.serve(server, handler, concurrency)
  if type(server) == "string" or type(concurrency) == "table" then
    return require("lgreen.workers").serve(server, handler, concurrency)
  end
  if getmetatable(server) ~= C.meta then argerror(1, "serve", "server socket expected") end
  if type(handler) ~= "function" then argerror(2, "serve", "function expected") end
  if concurrency ~= nil and (type(concurrency) ~= "number" or concurrency < 1) then
    argerror(3, "serve", "positive number expected")
  end
  local p = pool.GreenPool(concurrency or 1000)
  -- Handlers' errors name the lg.serve call, else (serve run by spawn_n,
  -- or tail-called) where the handler is defined: the user's code.
  local sf, sl = site(2)
  if not sf or getinfo(sf, "S").what == "C" then
    sf, sl = handler, getinfo(handler, "S").linedefined
  end
  local result, err = true, nil
  while true do
    local client, e = server:accept()
    if client then
      pool.spawn_n_at(p, sf, sl, serve_one, handler, client)
    elseif e == "closed" then
      break
    elseif e ~= "timeout" then
      result, err = nil, e
      break
    end
  end
  p:waitall()
  return result, err
end

-- LuaSocket's helpers that scripts use alongside sockets.
S.sleep = core.hub.sleep
S._VERSION = "lgreen.socket " .. core._VERSION

return S
