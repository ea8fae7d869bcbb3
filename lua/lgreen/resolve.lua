-- lgreen.resolve: name resolution that parks only the calling greenthread.
-- The system resolver (getaddrinfo: /etc/hosts, resolv.conf, NSS) runs on
-- a few OS threads per hub (c/resolve.c); numeric addresses never leave
-- the caller.  Results and errors follow LuaSocket's socket.dns.
local core = require "lgreen.core"

local R = core.resolve
local error, tostring, type = error, tostring, type
local floor, format = math.floor, string.format

local M = {
  timeout = 30,		-- seconds a lookup may take unless opts.timeout says
  numeric = R.numeric,	-- numeric(s) -> "inet" | "inet6" | nil: an address?
  gethostname = R.gethostname,	-- this machine's name, as socket.dns
  stats = R.stats,	-- stats() -> { threads, idle, queued, jobs, waiting }
}

-- "bad argument #n to 'fname' (msg)", raised at the caller of the API.
local function argerror(n, fname, msg)
  error(format("bad argument #%d to '%s' (%s)", n, fname, msg), 3)
end

local function typename(expected, v)
  return expected .. " expected, got " .. type(v)
end

local FAMILY = { inet = "inet", inet6 = "inet6", any = "any" }
local SOCKTYPE = { stream = "stream", dgram = "dgram" }

-- Seconds from a timeout argument or field: the default for nil, nil for
-- math.huge (no timeout); false if t is no such number.
local function seconds(t)
  if t == nil then return M.timeout end
  if type(t) ~= "number" or not (t >= 0) then return false end
  return t < 1e9 and t or nil
end

-- getaddrinfo(host, port [, opts]) -> { { family, addr, port, socktype }, ... }
-- | nil, err.  opts: family ("inet", "inet6", nil: any), socktype
-- ("stream" by default, "dgram"), passive (addresses to bind: host nil or
-- "*" is any), timeout (seconds, default M.timeout).  err: "timeout",
-- "host not found", or the resolver's message.
function M.getaddrinfo(host, port, opts)
  local fname = "getaddrinfo"
  if opts ~= nil and type(opts) ~= "table" then
    argerror(3, fname, typename("table", opts))
  end
  opts = opts or {}
  local passive = opts.passive and true or false
  if host == "*" and passive then host = nil end
  if host ~= nil and type(host) ~= "string" or host == nil and not passive then
    argerror(1, fname, typename("string", host))
  end
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
  local t = seconds(opts.timeout)
  if t == false then argerror(3, fname, "timeout must be a number >= 0") end
  return R.getaddrinfo(host, port, family, socktype, passive, t)
end

-- toip(name [, timeout]) -> ip, { name, alias = {}, ip = { ... } } | nil, err
-- as LuaSocket's socket.dns.toip: IPv4 only.
function M.toip(name, timeout)
  if type(name) ~= "string" then argerror(1, "toip", typename("string", name)) end
  local t = seconds(timeout)
  if t == false then argerror(2, "toip", typename("number", timeout)) end
  local list, canon = R.getaddrinfo(name, nil, "inet", "stream", false, t, true)
  if not list then return nil, canon end
  local ip = {}
  for i = 1, #list do ip[i] = list[i].addr end
  return ip[1], { name = canon or name, alias = {}, ip = ip }
end

-- tohostname(address [, timeout]) -> name, { name, alias = {}, ip = { address } }
-- | nil, err, as LuaSocket's socket.dns.tohostname: a name is resolved
-- first, then the address is looked up in reverse.
function M.tohostname(addr, timeout)
  if type(addr) ~= "string" then
    argerror(1, "tohostname", typename("string", addr))
  end
  local t = seconds(timeout)
  if t == false then argerror(2, "tohostname", typename("number", timeout)) end
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
