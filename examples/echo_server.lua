-- A TCP echo server: one greenthread per connection, each blocking in
-- receive while the others run.  Lines by default; with a size, blocks of
-- exactly that many bytes (bench/echo.sh sends 64-byte messages).
--   examples/run.sh echo_server.lua [VM] [port [size]]   then: nc 127.0.0.1 9000
local lg = require "lgreen"

local port, size = tonumber(arg[1]) or 9000, tonumber(arg[2])

local function echo(client)
  client:setoption("tcp-nodelay", true)
  while true do
    local data = client:receive(size or "*l")        -- parks this one only
    if not data then break end                      -- "closed" or an error
    client:send(size and data or data .. "\n")
  end
end                                                 -- serve closes client

local server = assert(lg.listen("127.0.0.1", port, 1024))
print(("echo server on 127.0.0.1:%d"):format(select(2, server:getsockname())))
io.stdout:flush()
lg.serve(server, echo, 10000)                       -- a pool of 10000 at most
