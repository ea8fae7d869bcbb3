-- Tarantool HTTP/1.1 keep-alive hello responder for bench/http.sh, the
-- same minimal protocol as examples/http_hello.lua: request line and
-- headers read line by line, "Hello, world!" with Content-Length,
-- Connection: close and HTTP/1.0 honoured.  Runs without box.cfg.
-- Usage: tarantool http_tarantool.lua PORT
local socket = require "socket"

local BODY = "Hello, world!"
local HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
  .. #BODY .. "\r\n"
local KEEP = HEAD .. "\r\n" .. BODY
local CLOSE = HEAD .. "Connection: close\r\n\r\n" .. BODY

local function serve(s)
  while true do
    local line = s:read("\n")
    if line == nil or line == "" then break end
    local keep = not line:find("HTTP/1%.0\r?\n$")
    while true do
      local h = s:read("\n")
      if h == nil or h == "" then return end
      if h == "\r\n" or h == "\n" then break end
      local name, value = h:match("^([^:]+):%s*(.-)%s*$")
      if name and name:lower() == "connection" and value:lower() == "close" then
        keep = false
      end
    end
    if not s:write(keep and KEEP or CLOSE) or not keep then break end
  end
end

local server = assert(socket.tcp_server("127.0.0.1", tonumber(arg[1]),
  { handler = serve, prepare = function() return 1024 end }))
print(("listening on 127.0.0.1:%d"):format(server:name().port))
io.stdout:flush()
