-- The servers of bench/workers.sh: HTTP hello (examples/http_hello.lua's
-- handler) or TCP echo of 64-byte blocks (examples/echo_server.lua's), in
-- one process (n = 1: plain lg.serve) or under lgreen.workers (n >= 2).
--   luajit bench/workers.lua http|echo n port
local lg = require "lgreen"

local kind, n, port = arg[1], tonumber(arg[2]), tonumber(arg[3])
assert((kind == "http" or kind == "echo") and n and port,
  "usage: bench/workers.lua http|echo n port")

local BODY = "Hello, world!"
local HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
  .. #BODY .. "\r\n"
local KEEP, CLOSE = HEAD .. "\r\n" .. BODY,
  HEAD .. "Connection: close\r\n\r\n" .. BODY

local function http(client)
  client:setoption("tcp-nodelay", true)
  client:settimeout(60)
  while true do
    local request = client:receive("*l")
    if not request or request == "" then break end
    local keep = not request:find("HTTP/1%.0$")
    repeat
      local line = client:receive("*l")
      if not line then return end
      local name, value = line:match("^([^:]+):%s*(.-)%s*$")
      if name and name:lower() == "connection" and value:lower() == "close" then
        keep = false
      end
    until line == ""
    if not client:send(keep and KEEP or CLOSE) or not keep then break end
  end
end

local function echo(client)
  client:setoption("tcp-nodelay", true)
  while true do
    local data = client:receive(64)
    if not data then break end
    client:send(data)
  end
end

local handler = kind == "http" and http or echo
local addr = "127.0.0.1:" .. port
if n == 1 then
  assert(lg.serve(addr, handler, { concurrency = 10000, backlog = 1024 }))
else
  assert(lg.serve(addr, handler, { workers = n, concurrency = 10000, backlog = 1024 }))
end
