-- lgreen.httpd with real clients, each run as a subprocess with
-- lg.process.run (which parks only the spec's greenthread, so the server
-- in this process answers): curl, Python's http.client, LuaSocket's
-- socket.http (plain, not patched), wrk.  A client missing from the
-- machine makes its test pending, saying what to install.
local lg = require "lgreen"
local H = require "helper"
local U = require "httpd_util"

local PY = "/usr/bin/python3"

local function run(argv, stdin)
  local out, err, code = lg.process.run(argv, { timeout = 60, stdin = stdin })
  assert(out, err)
  return out, err, code
end

describe("lgreen.httpd with real clients", function()
  local srv, url

  setup(function()
    srv = U.start(function(req)
      if req.path == "/echo" then
        return 200, { ["Content-Type"] = "application/octet-stream",
          ["X-Method"] = req.method, ["X-Len"] = #req.body }, req.body
      elseif req.path == "/stream" then
        local i = 0
        return 200, nil, function()
          i = i + 1
          if i <= 3 then return ("chunk%d\n"):format(i) end
        end
      end
      return 200, { ["Content-Type"] = "text/plain" }, "Hello, world!"
    end, { max_body = 4 * 1024 * 1024 })
    url = "http://127.0.0.1:" .. srv.port
  end)

  teardown(function() srv:shutdown() end)

  it("curl: keep-alive over several URLs, a chunked answer, uploads with and without Expect", function()
    if not U.have("curl") then
      pending("curl is not installed (apt-get install -y --no-install-recommends curl)")
      return
    end
    local out, err = run({ "curl", "-sS", "-v", url .. "/a", url .. "/b", url .. "/stream" })
    assert.equal("Hello, world!Hello, world!chunk1\nchunk2\nchunk3\n", out)
    assert.truthy(err:find("Re%-using existing connection") or err:find("Reusing existing connection"))
    -- 2 MB: curl sends Expect: 100-continue and waits for it
    local big = os.tmpname()
    local f = assert(io.open(big, "wb"))
    f:write(("0123456789abcdef"):rep(2 * 65536))
    f:close()
    out, err = run({ "curl", "-sS", "-v", "--data-binary", "@" .. big, url .. "/echo",
      "-o", "/dev/null", "-w", "%{http_code} %{size_download}" })
    assert.equal("200 2097152", out)
    assert.truthy(err:find("Expect: 100%-continue"))
    out = run({ "curl", "-sS", "-H", "Transfer-Encoding: chunked", "--data-binary", "@" .. big,
      url .. "/echo", "-o", "/dev/null", "-w", "%{http_code} %{size_download}" })
    assert.equal("200 2097152", out)
    os.remove(big)
  end)

  it("Python's http.client: keep-alive, POST, chunked upload and answer", function()
    if not U.have(PY) then
      pending(PY .. " is missing (apt-get install -y python3)")
      return
    end
    local out, err, code = run({ PY, "-c", ([[
import http.client
c = http.client.HTTPConnection("127.0.0.1", %d, timeout=10)
c.request("GET", "/x?y=1")
r = c.getresponse(); print(r.status, r.read().decode())
c.request("POST", "/echo", body=b"hello body")
r = c.getresponse(); print(r.status, r.getheader("X-Len"), r.read().decode())
c.request("POST", "/echo", body=iter([b"ab", b"cd"]), encode_chunked=True)
r = c.getresponse(); print(r.status, r.getheader("X-Len"), r.read().decode())
c.request("GET", "/stream")
r = c.getresponse(); print(r.status, r.getheader("Transfer-Encoding"), repr(r.read().decode()))
print(c.sock is not None)
]]):format(srv.port) })
    assert.equal(0, code, err)
    assert.equal("200 Hello, world!\n200 10 hello body\n200 4 abcd\n"
      .. "200 chunked 'chunk1\\nchunk2\\nchunk3\\n'\nTrue\n", out)
  end)

  it("LuaSocket's socket.http, unpatched, in its own process", function()
    local out, err, code = run({ H.lua, "-e", ([[
local http = require "socket.http"
local ltn12 = require "ltn12"
local body, code = http.request("%s/x")
print(code, body)
local t = {}
local _, code2, h = http.request{ url = "%s/echo", method = "PUT",
  source = ltn12.source.string("put body"), headers = { ["content-length"] = 8 },
  sink = ltn12.sink.table(t) }
print(code2, h["x-method"], table.concat(t))
body = http.request("%s/stream")
io.write(body)
]]):format(url, url, url) })
    assert.equal(0, code, err)
    assert.equal("200\tHello, world!\n200\tPUT\tput body\nchunk1\nchunk2\nchunk3\n", out)
  end)

  it("wrk: keep-alive and Connection: close, every answer 200", function()
    if not U.have("wrk") then
      pending("wrk is not installed (apt-get install -y --no-install-recommends wrk)")
      return
    end
    for _, extra in ipairs { {}, { "-H", "Connection: close" } } do
      local argv = { "wrk", "-t1", "-c20", "-d1s", url .. "/" }
      for _, a in ipairs(extra) do argv[#argv + 1] = a end
      local out = run(argv)
      local n = tonumber(out:match("(%d+) requests in"))
      assert.is_true(n > 0)
      assert.is_nil(out:find("Non%-2xx"))
      assert.is_nil(out:find("Socket errors"))
    end
  end)
end)
