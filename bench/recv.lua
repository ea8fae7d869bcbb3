-- Receive throughput of one big transfer: receive(n) and receive("*a") of
-- SIZE MB over loopback TCP from a sender in another process, and
-- process.run of a command writing SIZE MB to stdout.  Prints
-- "<name> <MB/s>" lines: MB per second of this process's CPU time (the
-- sender's CPU is not counted), best of 3.  LuaSocket's receive is
-- measured too when lua-socket is installed, as the baseline.
--   luajit bench/recv.lua [SIZE]    (default 50)
local lg = require "lgreen"

local MB = tonumber(arg and arg[1]) or 50
local N = MB * 1000000
local lua = arg[-1] or "luajit"

-- A child that connects to port and sends N bytes, then closes.
local function sender(port)
  return assert(lg.process.spawn({ lua, "-e", ([[
    local lg = require "lgreen"
    local c = assert(lg.connect("127.0.0.1", %d))
    local chunk = string.rep("x", 1000000)
    for _ = 1, %d do assert(c:send(chunk)) end
    c:close()]]):format(port, MB) }))
end

local function best(f)
  local b = math.huge
  for _ = 1, 3 do b = math.min(b, f()) end
  return MB / b
end

-- CPU seconds of one receive on a connection accepted from server (an
-- lgreen listener or a plain blocking LuaSocket one: the sender is an
-- lgreen child either way, and runs on its own).
local function receive_from(server, pattern)
  local _, port = server:getsockname()
  return function()
    local p = sender(port)
    local c = assert(server:accept())
    local t = os.clock()
    local data = assert(c:receive(pattern))
    t = os.clock() - t
    assert(#data == N, "short receive")
    c:close()
    p:wait()
    return t
  end
end

local srv = assert(lg.listen("127.0.0.1", 0))
print(("lg:receive(n) %.1f MB/s"):format(best(receive_from(srv, N))))
print(("lg:receive(*a) %.1f MB/s"):format(best(receive_from(srv, "*a"))))

print(("lg.process.run %.1f MB/s"):format(best(function()
  local t = os.clock()
  local out = assert(lg.process.run({ "head", "-c", tostring(N), "/dev/zero" }))
  t = os.clock() - t
  assert(#out == N, "short output")
  return t
end)))

local ok, socket = pcall(require, "socket")
if ok then	-- plain blocking LuaSocket, same sender
  local ls = assert(socket.bind("127.0.0.1", 0))
  print(("luasocket:receive(n) %.1f MB/s"):format(best(receive_from(ls, N))))
  print(("luasocket:receive(*a) %.1f MB/s"):format(best(receive_from(ls, "*a"))))
end
