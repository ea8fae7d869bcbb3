-- cqueues TCP echo server for bench/echo.sh (run under LuaJIT): one
-- coroutine per connection, unbuffered binary mode, read(-n) returns
-- whatever is available up to n bytes.  A reset by the load generator
-- closing mid-message ends that coroutine only.
-- Usage: luajit echo_cqueues.lua PORT
local cqueues = require "cqueues"
local socket = require "cqueues.socket"

local cq = cqueues.new()
local server = socket.listen { host = "127.0.0.1", port = tonumber(arg[1]),
  backlog = 1024, reuseaddr = true }
assert(server:listen())
print(("listening on 127.0.0.1:%d"):format(select(3, server:localname())))
io.stdout:flush()

local function echo(con)
  con:setmode("bn", "bn")
  while true do
    local data = con:read(-65536)
    if not data then break end
    con:write(data)
  end
end

cq:wrap(function()
  for con in server:clients() do
    cq:wrap(function()
      pcall(echo, con)
      con:close()
    end)
  end
end)
assert(cq:loop())
