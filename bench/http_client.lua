-- lgreen.http's client: N sequential GETs against examples/http_hello.lua
-- (a subprocess on a free port), over one kept connection and with
-- keepalive = false (a TCP connect per request), best of ROUNDS each;
-- socket.http's form (always Connection: close) for reference.
--   luajit bench/http_client.lua [N [ROUNDS]]   (LUA_PATH/CPATH as run.sh)
-- Prints "<name> <requests/s>" lines, then the keep-alive ratio.
local lg = require "lgreen"
local http = require "lgreen.http"

local N, ROUNDS = tonumber(arg[1]) or 1000, tonumber(arg[2]) or 3
local vm = arg[-1] or "luajit"

local p = assert(lg.process({ vm, "examples/http_hello.lua", "0" }, { stdout = "pipe" }))
local line = assert(p.stdout:receive("*l"))
local url = assert(line:match("(http://%S+)"))

local function keep() return http.request("GET", url) end
local function close() return http.request("GET", url, nil, nil, { keepalive = false }) end
local function legacy() return http.request(url) end

-- requests per second, best of ROUNDS
local function rate(fn)
  local best = 0
  for _ = 1, ROUNDS do
    http.close_idle()
    local t0 = lg.now()
    for _ = 1, N do
      local status = fn()
      assert(status == 200 or status == "Hello, world!", status)
    end
    best = math.max(best, N / (lg.now() - t0))
  end
  return best
end

local k, c, l = rate(keep), rate(close), rate(legacy)
p:kill()
p:wait()
print(("keep-alive %.0f"):format(k))
print(("keepalive=false %.0f"):format(c))
print(("socket.http-form %.0f"):format(l))
print(("ratio keep-alive/no-keep-alive %.1f"):format(k / c))
