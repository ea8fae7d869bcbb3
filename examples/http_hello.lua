-- A minimal HTTP/1.1 server: "Hello, world!" to every request, keep-alive
-- unless the client says Connection: close or speaks HTTP/1.0 (then the
-- answer says Connection: close and the connection ends).
--   examples/run.sh http_hello.lua [VM] [port]   then: curl http://127.0.0.1:8080/
local lg = require "lgreen"

local port = tonumber(arg[1]) or 8080
local BODY = "Hello, world!"
local HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
  .. #BODY .. "\r\n"
local KEEP, CLOSE = HEAD .. "\r\n" .. BODY,
  HEAD .. "Connection: close\r\n\r\n" .. BODY

local function handle(client)
  client:setoption("tcp-nodelay", true)
  client:settimeout(60)                        -- an idle client goes away
  while true do
    local request = client:receive("*l")       -- "GET / HTTP/1.1"
    if not request or request == "" then break end
    local keep = not request:find("HTTP/1%.0$")
    repeat                                     -- headers, up to the blank line
      local line = client:receive("*l")
      if not line then return end              -- serve closes the client
      local name, value = line:match("^([^:]+):%s*(.-)%s*$")
      if name and name:lower() == "connection" and value:lower() == "close" then
        keep = false
      end
    until line == ""
    if not client:send(keep and KEEP or CLOSE) or not keep then break end
  end
end

local server = assert(lg.listen("127.0.0.1", port, 1024))
print(("http on http://127.0.0.1:%d/"):format(select(2, server:getsockname())))
io.stdout:flush()
lg.serve(server, handle, 10000)
