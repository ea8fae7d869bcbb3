-- Out of file descriptors (EMFILE), every constructor returns nil and the
-- system's message, as lg.connect did, instead of raising "attempt to
-- index local 's' (a nil value)"; and all works again once fds are free.
local H = require "helper"

-- Run in a subprocess: it fills its fd table with /dev/null, tries each
-- constructor, prints "name|first result|second result" per call, then
-- frees the fds and checks the constructors work again.
local script = [[
local lg = require "lgreen"
local S = lg.socket
local srv = assert(lg.listen("127.0.0.1", 0))
local _, port = srv:getsockname()
local process = lg.process	-- loaded now: require needs an fd
local f = assert(io.open("/proc/self/limits"))
local limit = tonumber(f:read("*a"):match("Max open files%s+(%d+)"))
f:close()
if not limit or limit > 200000 then print("SKIP limit " .. tostring(limit)) return end
]] .. H.fill_fds .. [[
local function try(name, fn)
  local ok, a, b = pcall(fn)
  if not ok then print(name .. "|raised|" .. tostring(a)) return end
  print(name .. "|" .. tostring(a) .. "|" .. tostring(b))
end
try("listen", function() return lg.listen("127.0.0.1", 0) end)
try("bind", function() return S.bind("127.0.0.1", 0) end)
try("connect", function() return lg.connect("127.0.0.1", port) end)
try("tcp4", function() return S.tcp4() end)
try("tcp6", function() return S.tcp6() end)
try("udp4", function() return S.udp4() end)
try("udp6", function() return S.udp6() end)
try("tcp():bind", function() return S.tcp():bind("127.0.0.1", 0) end)
try("tcp():connect", function() return S.tcp():connect("127.0.0.1", port) end)
try("tcp():listen", function() return S.tcp():listen() end)
try("tcp():setoption", function() return S.tcp():setoption("reuseaddr", true) end)
try("tcp():getoption", function() return S.tcp():getoption("reuseaddr") end)
try("udp():setsockname", function() return S.udp():setsockname("127.0.0.1", 0) end)
try("udp():setpeername", function() return S.udp():setpeername("127.0.0.1", port) end)
try("udp():sendto", function() return S.udp():sendto("x", "127.0.0.1", port) end)
try("unix", function() return S.unix() end)
try("process.spawn", function()
  return process.spawn({ "true" }, { stdout = "pipe" })
end)
srv:settimeout(0.05)	-- bounds the backoff too: a guard 100 times longer
try("accept", function()
  local guard = lg.Timeout(5, "accept ignored its timeout at EMFILE")
  local c, err = srv:accept()
  guard:cancel()
  return c, err
end)
for i = 1, #held do held[i]:close() end
held = nil
collectgarbage("collect")
local again = assert(lg.listen("127.0.0.1", 0))
local _, p2 = again:getsockname()
assert(lg.connect("127.0.0.1", p2))
print("recovered")
]]

describe("out of file descriptors", function()
  it("every constructor returns nil, err and nothing raises", function()
    local code, out = H.run(script)
    assert.equal(0, code, out)
    if out:match("^SKIP") then return pending(out) end
    local emfile = "Too many open files"
    local seen = 0
    for name, a, b in out:gmatch("([^\n|]+)|([^\n|]*)|([^\n]*)") do
      seen = seen + 1
      assert.are_not.equal("raised", a, name .. " raised: " .. b)
      if name == "accept" then		-- backs off, then its timeout
        assert.same({ "nil", "timeout" }, { a, b }, name)
      else
        assert.same({ "nil", emfile }, { a, b }, name)
      end
    end
    assert.equal(18, seen, out)
    assert.matches("recovered", out)
  end)
end)
