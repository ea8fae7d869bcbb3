-- The I/O examples run as the README prints them: each server is started
-- as a subprocess on a free port and answers a real client.
local lg = require "lgreen"
local H = require "helper"

local env = H.env

-- Start examples/<name> with args; returns its pid and the port it printed.
local function start(name, args)
  local p = io.popen(env .. "sh -c 'echo $$; exec " .. H.lua .. " examples/" ..
    name .. " " .. args .. "' 2>&1")
  local pid = tonumber(p:read("*l"))
  local first = p:read("*l") or ""
  local port = tonumber(first:match(":(%d+)"))
  assert(port, name .. " printed: " .. first)
  return pid, port, p
end

local function stop(pid, p)
  os.execute("kill " .. pid)
  p:close()
end

local read = H.read

describe("examples/echo_server.lua", function()
  it("echoes lines and fixed blocks, many clients at once", function()
    local pid, port, p = start("echo_server.lua", "0")
    local pool, got = lg.GreenPool(20), {}
    for i = 1, 20 do
      pool:spawn_n(function()
        local c = assert(lg.connect("127.0.0.1", port, 5))
        c:send("line " .. i .. "\n")
        got[i] = c:receive()
        c:close()
      end)
    end
    pool:waitall()
    stop(pid, p)
    for i = 1, 20 do assert.equal("line " .. i, got[i]) end
    pid, port, p = start("echo_server.lua", "0 64")
    local c = assert(lg.connect("127.0.0.1", port, 5))
    local block = ("x"):rep(63) .. "\n"
    c:send(block)
    assert.equal(block, c:receive(64))
    c:close()
    stop(pid, p)
  end)
end)

describe("examples/http_hello.lua", function()
  it("answers HTTP/1.1 with keep-alive and honours Connection: close", function()
    local pid, port, p = start("http_hello.lua", "0")
    local c = assert(lg.connect("127.0.0.1", port, 5))
    for _ = 1, 3 do			-- three requests on one connection
      c:send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
      assert.equal("HTTP/1.1 200 OK", c:receive())
      local len
      repeat
        local h = c:receive()
        len = len or tonumber(h:match("^Content%-Length: (%d+)"))
      until h == ""
      assert.equal("Hello, world!", c:receive(len))
    end
    c:send("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    local rest = c:receive("*a")
    assert.matches("Connection: close", rest)
    assert.matches("Hello, world!$", rest)
    c:close()
    stop(pid, p)
  end)
end)

describe("examples/fetch_many.lua", function()
  it("fetches its 42 local URLs concurrently, with per-request timeouts", function()
    local f = assert(io.open("examples/fetch_many.lua"))
    local code, out = H.run(f:read("*a"))
    f:close()
    assert.equal(0, code, out)
    local n, took, serial = out:match("(%d+) URLs, 20 at a time.- in ([%d.]+) s .-one after another: ([%d.]+) s")
    assert.equal("42", n, out)
    assert.is_true(tonumber(took) < tonumber(serial) / 3, out)
    assert.matches("404: 1", out)
    assert.matches("connection refused: 1", out)
    assert.matches("timeout: %d", out)
  end)
end)

describe("README", function()
  local readme = read("README.md")
  for _, name in ipairs { "echo_server.lua", "http_hello.lua", "fetch_many.lua" } do
    it("prints examples/" .. name .. " exactly", function()
      local block = readme:match("%[`examples/" .. name:gsub("%.", "%%.") ..
        "`%]%(examples/[^)]+%):\n\n```lua\n(.-)```")
      assert.equal(read("examples/" .. name), block)
    end)
  end
end)
