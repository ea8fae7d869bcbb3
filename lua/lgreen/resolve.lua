-- lgreen.resolve: name resolution that parks only the calling greenthread.
-- The system resolver (getaddrinfo: /etc/hosts, resolv.conf, NSS) runs on
-- a few OS threads per hub (c/resolve.c); numeric addresses never leave
-- the caller.  Results and errors follow LuaSocket's socket.dns.
local core = require "lgreen.core"
local args = require "lgreen.args"

local R = core.resolve
local tostring, type = tostring, type
local floor, format = math.floor, string.format
local argerror, check_host = args.argerror, args.check_host

local M = {
  timeout = 30,		-- seconds a lookup may take unless opts.timeout says
  numeric = R.numeric,	-- numeric(s) -> "inet" | "inet6" | nil: an address?
  gethostname = R.gethostname,	-- this machine's name, as socket.dns
  stats = R.stats,	-- stats() -> { threads, idle, queued, jobs, waiting }
}

local function typename(expected, v)
  return expected .. " expected, got " .. type(v)
end

local FAMILY = { inet = "inet", inet6 = "inet6", any = "any" }
local SOCKTYPE = { stream = "stream", dgram = "dgram" }
local OPTIONS = args.set { "family", "socktype", "passive", "timeout" }

-- Seconds from timeout argument n (or field what) of fname: the default
-- for nil, nil for math.huge (no timeout).
local function seconds(t, n, fname, what)
  if t == nil then return M.timeout end
  args.check_seconds(t, n, fname, what, 3)
  return t < 1e9 and t or nil
end

-- getaddrinfo(host, port [, opts]) -> { { family, addr, port, socktype }, ... }
-- | nil, err.  opts: family ("inet", "inet6", nil: any), socktype
-- ("stream" by default, "dgram"), passive (addresses to bind: host nil or
-- "*" is any), timeout (seconds, default M.timeout).  err: "timeout",
-- "host or service not provided, or not known", or the resolver's message
-- (LuaSocket 3.1's words, as its socket.dns.getaddrinfo and connect say).
function M.getaddrinfo(host, port, opts)
  local fname = "getaddrinfo"
  opts = args.check_options(opts, OPTIONS, 3, fname)
  local passive = opts.passive and true or false
  if host == "*" and passive then host = nil end
  if host ~= nil or not passive then check_host(host, 1, fname) end
  if type(port) == "number" then
    if port < 0 or port > 65535 or port ~= floor(port) then
      argerror(2, fname, "port must be an integer from 0 to 65535")
    end
    port = format("%d", port)
  elseif port ~= nil and type(port) ~= "string" then
    argerror(2, fname, typename("number or string", port))
  end
  local family = opts.family
  if family ~= nil and not FAMILY[family] then
    argerror(3, fname, "family must be \"inet\", \"inet6\" or nil, got " .. tostring(family))
  end
  local socktype = opts.socktype
  if socktype ~= nil and not SOCKTYPE[socktype] then
    argerror(3, fname, "socktype must be \"stream\" or \"dgram\", got " .. tostring(socktype))
  end
  local t = seconds(opts.timeout, 3, fname, "opts.timeout")
  return R.getaddrinfo(host, port, family, socktype, passive, t)
end

-- The resolver's answers that LuaSocket's toip (gethostbyname) words as
-- "host not found".
local NOTFOUND = args.set { "host or service not provided, or not known",
  "No address associated with hostname", "Address family for hostname not supported" }

-- toip(name [, timeout]) -> ip, { name, alias = {}, ip = { ... } } | nil, err
-- as LuaSocket's socket.dns.toip: IPv4 only.
function M.toip(name, timeout)
  check_host(name, 1, "toip")
  local t = seconds(timeout, 2, "toip")
  local list, canon = R.getaddrinfo(name, nil, "inet", "stream", false, t, true)
  if not list then return nil, NOTFOUND[canon] and "host not found" or canon end
  local ip = {}
  for i = 1, #list do ip[i] = list[i].addr end
  return ip[1], { name = canon or name, alias = {}, ip = ip }
end

-- tohostname(address [, timeout]) -> name, { name, alias = {}, ip = { address } }
-- | nil, err, as LuaSocket's socket.dns.tohostname: a name is resolved
-- first, then the address is looked up in reverse.
function M.tohostname(addr, timeout)
  check_host(addr, 1, "tohostname")
  local t = seconds(timeout, 2, "tohostname")
  local ip = addr
  if not R.numeric(addr) then
    local err
    ip, err = M.toip(addr, t)
    if not ip then return nil, err end
  end
  local name, err = R.getnameinfo(ip, t)
  if not name then return nil, err end
  return name, { name = name, alias = {}, ip = { ip } }
end

-- gethostname() -> this machine's name, as socket.dns.gethostname.
function M.gethostname()
  local f = io.open("/proc/sys/kernel/hostname")
  local name = f and f:read("*l")
  if f then f:close() end
  if name then return name end
  local p = io.popen("uname -n")
  name = p:read("*l")
  p:close()
  return name
end

return M
