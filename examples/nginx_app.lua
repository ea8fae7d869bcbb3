-- The handlers of examples/nginx.conf.  A handler spawns green threads
-- with lgreen.ngx.spawn and waits for them with lgreen.ngx.wait: the
-- request's coroutine yields to nginx meanwhile.  Green threads get what
-- they need as arguments (they run outside the request: ngx.var, ngx.say,
-- ngx.sleep raise "no request found" there) and hand back results.
local lg = require "lgreen"
local lgx = require "lgreen.ngx"
local M = {}

function M.fanout()
  local n = tonumber(ngx.var.arg_n) or 10
  if n < 1 or n > 1000 then return ngx.exit(400) end
  local gts = {}
  for i = 1, n do
    gts[i] = lgx.spawn(function()
      lg.sleep(0.001)
      return i
    end)
  end
  local sum = 0
  for i = 1, n do
    local ok, v = lgx.wait(gts[i])
    if not ok then return ngx.exit(500) end
    sum = sum + v
  end
  ngx.say(("%d green threads, sum %d"):format(n, sum))
end

local function get(port, path)
  local c = assert(lg.connect("127.0.0.1", port, 5))
  c:settimeout(5)
  assert(c:send("GET " .. path .. " HTTP/1.0\r\nHost: localhost\r\n\r\n"))
  local data = assert(c:receive("*a"))
  c:close()
  return data:match("\r\n\r\n(.*)$")
end

function M.fetch()
  local port = tonumber(ngx.var.server_port)
  local gts = {}
  for i = 1, 5 do gts[i] = lgx.spawn(get, port, "/hello") end
  for i = 1, 5 do
    local ok, body = lgx.wait(gts[i], 10)
    ngx.print(i, ": ", ok and body or ("failed: " .. tostring(body)))
  end
end

return M
