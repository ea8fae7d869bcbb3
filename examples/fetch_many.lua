-- An agent that fetches many URLs at once: a GreenPool of workers, each
-- request with its own timeout, one line per URL and a summary.
--   examples/run.sh fetch_many.lua [VM]      offline: 40 URLs on a local
--                                            server, some slow, some missing
--   examples/run.sh fetch_many.lua [VM] [-c N] [-t SECONDS] URL...
-- https URLs are verified against the system's CA bundle.
local lg = require "lgreen"
local http = require "lgreen.http"
local ltn12 = require "ltn12"

local concurrency, timeout, urls = 20, 1.0, {}
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "-c" then concurrency, i = assert(tonumber(arg[i + 1]), "-c N"), i + 1
  elseif a == "-t" then timeout, i = assert(tonumber(arg[i + 1]), "-t SECONDS"), i + 1
  else urls[#urls + 1] = a end
  i = i + 1
end

-- With no URLs: serve /<ms>/<bytes> locally, answering after <ms> with
-- <bytes> bytes; ask for 40 of them, a few slower than the timeout, one
-- on a port nobody listens on.
local server
if #urls == 0 then
  server = assert(lg.listen("127.0.0.1", 0))
  local _, port = server:getsockname()
  lg.spawn_n(lg.serve, server, function(c)
    c:settimeout(5)
    local line = c:receive("*l") or ""
    repeat local h = c:receive("*l") until not h or h == ""
    local ms, size = line:match("^GET /(%d+)/(%d+)")
    if not ms then
      c:send("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    else
      lg.sleep(tonumber(ms) / 1000)
      c:send(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s")
        :format(size, ("x"):rep(tonumber(size))))
    end
    c:close()
  end)
  for n = 1, 40 do
    local ms = n % 10 == 0 and 1500 or 100 + (n * 37) % 300
    urls[#urls + 1] = ("http://127.0.0.1:%d/%d/%d"):format(port, ms, n * 1000)
  end
  urls[#urls + 1] = ("http://127.0.0.1:%d/missing"):format(port)
  local spare = assert(lg.listen("127.0.0.1", 0))	-- a port, then closed
  urls[#urls + 1] = ("http://127.0.0.1:%d/"):format(select(2, spare:getsockname()))
  spare:close()
end

-- One request: status (a code or the error), body size, seconds taken.
local function fetch(url)
  local size, t0 = 0, lg.now()
  local ok, code = http.request { url = url, timeout = timeout,
    sink = function(chunk)
      if chunk then size = size + #chunk end
      return 1
    end }
  return code, size, lg.now() - t0	-- ok is 1 or nil; code the status or error
end

local pool = lg.GreenPool(concurrency)
local t0 = lg.now()
local count, bytes, slowest, serial = {}, 0, 0, 0
local n = 0
for url, status, size, took in pool:imap(function(u) return u, fetch(u) end, urls) do
  n = n + 1
  print(("%-42s %-20s %8d bytes %6.0f ms"):format(url, tostring(status), size, took * 1000))
  count[status] = (count[status] or 0) + 1
  bytes, slowest, serial = bytes + size, math.max(slowest, took), serial + took
end
local took = lg.now() - t0

local parts = {}
for status, k in pairs(count) do parts[#parts + 1] = ("%s: %d"):format(tostring(status), k) end
table.sort(parts)
print(("%d URLs, %d at a time, timeout %.1f s: %d bytes in %.2f s"
  .. " (slowest %.2f s; one after another: %.2f s)"):format(n, concurrency, timeout,
  bytes, took, slowest, serial))
print("  " .. table.concat(parts, ", "))
if server then server:close() end
