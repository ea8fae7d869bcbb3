-- Tarantool TCP echo server for bench/echo.sh: socket.tcp_server, one
-- fiber per connection, echoes whatever sysread returns (sysread is the
-- non-blocking read; readable() parks the fiber until there is more).
-- Runs without box.cfg.  Usage: tarantool echo_tarantool.lua PORT
local socket = require "socket"

local function echo(s)
  while true do
    local data = s:sysread(65536)
    if data == nil then		-- would block: wait for more
      if not s:readable() then break end
    elseif data == "" then	-- peer closed
      break
    else
      local sent, n = 0, #data
      while sent < n do
        local w = s:syswrite(sent == 0 and data or data:sub(sent + 1))
        if w == nil then
          if not s:writable() then return end
        else
          sent = sent + w
        end
      end
    end
  end
end

local server = assert(socket.tcp_server("127.0.0.1", tonumber(arg[1]),
  { handler = echo, prepare = function() return 1024 end }))
print(("listening on 127.0.0.1:%d"):format(server:name().port))
io.stdout:flush()

