-- examples/http_service.lua as the README prints it: started as a
-- subprocess on a free port, asked by a raw client, stopped by SIGTERM.
local H = require "helper"
local U = require "httpd_util"

local env = H.env

describe("examples/http_service.lua", function()
  it("answers /status and /echo as JSON, shuts down gracefully on SIGTERM", function()
    local p = io.popen(env .. "sh -c 'echo $$; exec " .. H.lua ..
      " examples/http_service.lua 0' 2>&1")
    local pid = tonumber(p:read("*l"))
    local first = p:read("*l") or ""
    local port = tonumber(first:match(":(%d+)/"))
    assert(port, "it printed: " .. first)
    local status, h, body = U.exchange(port, "GET /status HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.equal(200, status)
    assert.equal("application/json", h["content-type"])
    assert.truthy(body:find('"status":"ok"', 1, true))
    assert.truthy(body:find('"requests":1', 1, true))
    status, _, body = U.exchange(port, "POST /echo?x=1&y=2&y=3 HTTP/1.1\r\nHost: h\r\n"
      .. "Content-Type: text/plain\r\nContent-Length: 8\r\n\r\nsay \"hi\"")
    assert.equal(200, status)
    assert.equal('{"args":{"x":"1","y":["2","3"]},"body":"say \\u0022hi\\u0022",'
      .. '"content-type":"text/plain","method":"POST","path":"/echo","peer":"127.0.0.1"}\n', body)
    assert.equal(404, (U.exchange(port, "GET /nope HTTP/1.1\r\nHost: h\r\n\r\n")))
    -- a kept-alive connection, idle at the signal, is closed by the shutdown
    local c = U.connect(port)
    c:send("GET /status HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.equal(200, (U.read(c)))
    os.execute("kill -TERM " .. pid)
    local data, err = c:receive(1)
    assert.is_nil(data)
    assert.equal("closed", err)
    c:close()
    local rest = p:read("*a")
    local ok, how, code = p:close()
    assert.equal("signal 15: shutting down\nserved 4 requests, bye\n", rest)
    if how then assert.equal(0, code) end	-- 5.1's close gives no status
  end)
end)

describe("README", function()
  it("prints examples/http_service.lua exactly", function()
    local readme = H.read("README.md")
    local block = readme:match("%[`examples/http_service%.lua`%]%(examples/[^)]+%):\n\n```lua\n(.-)```")
    assert.equal(H.read("examples/http_service.lua"), block)
  end)
end)
