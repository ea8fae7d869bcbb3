-- LuaSec under monkey_patch (issue 12, point 6): ssl.https.TIMEOUT is
-- honoured, and ssl.wrap(socket.tcp()) (how most LuaSec-based libraries do
-- TLS) parks only its greenthread.  The same client code runs on plain
-- LuaSocket/LuaSec and under the patch, and the results are compared.
local lg = require "lgreen"
local H = require "helper"
local tls = require "lgreen.ssl"
local socket = require "socket"
local ssl = require "ssl"
local https = require "ssl.https"

local dir

setup(function() dir = H.certs() end)
teardown(function() os.execute("rm -rf " .. dir) end)

-- The way LuaSec-based libraries talk TLS: a LuaSocket socket, ssl.wrap,
-- dohandshake, then the request.  Everything through the module tables, as
-- those libraries do, so monkey_patch reaches it.  Returns what it saw.
local function luasec_client(port, path)
  local s = socket.tcp()
  s:settimeout(10)
  assert(s:connect("127.0.0.1", port))
  local c = assert(ssl.wrap(s, { mode = "client", protocol = "any", verify = "none" }))
  c:settimeout(10)
  local ok, err = c:dohandshake()
  local r = { handshake = { ok, err } }
  r.sent = c:send("GET " .. path .. " HTTP/1.0\r\n\r\n")
  r.status = c:receive("*l")
  repeat local h = c:receive("*l") until not h or h == ""
  local rest, err = c:receive("*a")	-- (s_server's page has counters: not compared)
  r.rest = { rest and (rest:match("</HTML>%s*$") or rest), err }
  r.cert = type(c:getpeercertificate())
  c:close()
  return r
end

describe("ssl.wrap(socket.tcp()) under monkey_patch", function()
  it("gives what plain LuaSec gives (openssl s_server as the peer)", function()
    local p = assert(lg.process({ "openssl", "s_server", "-accept", "127.0.0.1:0", "-www",
      "-cert", dir .. "/srv.pem", "-key", dir .. "/srv.key" },
      { stdout = "pipe", stderr = "null" }))
    local port
    repeat
      local line = assert(p.stdout:receive("*l"))
      port = tonumber(line:match("^ACCEPT .-:(%d+)$"))
    until port
    local plain = luasec_client(port, "/")
    local restore = lg.monkey_patch()
    local ok, green = pcall(luasec_client, port, "/")
    restore()
    p:kill()
    p:wait()
    assert(ok, green)
    assert.same({ true }, plain.handshake)
    assert.equal("HTTP/1.0 200 ok", plain.status)
    assert.matches("</HTML>", plain.rest[1])
    assert.same(plain, green)
  end)

  it("ten 300 ms requests overlap, and other greenthreads run meanwhile", function()
    -- the server: in this process, so a client that blocked the process
    -- would hold it up too; busy/peak count the requests in its hands
    local busy, peak = 0, 0
    local params = { mode = "server", certificate = dir .. "/srv.pem", key = dir .. "/srv.key" }
    local srv = assert(lg.listen("127.0.0.1", 0))
    local _, port = srv:getsockname()
    local server = lg.spawn(lg.serve, srv, function(c)
      local s = tls.wrap(c, params)
      s:settimeout(10)
      if not s:dohandshake() then s:close() return end
      s:receive("*l")
      repeat local h = s:receive("*l") until not h or h == ""
      busy = busy + 1
      peak = math.max(peak, busy)
      lg.sleep(0.3)
      busy = busy - 1
      s:send("HTTP/1.0 200 OK\r\n\r\nhello")
      s:close()
    end)
    local restore = lg.monkey_patch()
    local ticks, stop = 0, false
    local ticker = lg.spawn(function()
      while not stop do ticks = ticks + 1 lg.sleep(0.01) end
    end)
    local pool, got = lg.GreenPool(10), {}
    for i = 1, 10 do
      pool:spawn_n(function() got[i] = luasec_client(port, "/" .. i) end)
    end
    pool:waitall()
    stop = true
    ticker:wait()
    restore()
    server:kill()
    srv:close()
    for i = 1, 10 do
      assert.same({ true }, got[i].handshake)
      assert.same({ "hello" }, got[i].rest)
      assert.equal("HTTP/1.0 200 OK", got[i].status)
    end
    assert.equal(10, peak)		-- all ten in the server's hands at once
    assert.is_true(ticks > 1)		-- and the ticker ran meanwhile
  end)

  it("leaves sockets made before the patch to LuaSec's own wrap", function()
    local s = socket.tcp()
    local restore = lg.monkey_patch()
    local c = ssl.wrap(s, { mode = "client", protocol = "any", verify = "none" })
    restore()
    assert.matches("^SSL connection", tostring(c))	-- LuaSec's own object
    c:close()
  end)
end)

describe("ssl.https.TIMEOUT under monkey_patch", function()
  it("bounds a handshake that never answers, as in plain LuaSec", function()
    -- a server that never accepts: TCP connects (the backlog), TLS waits
    local mute = assert(socket.bind("127.0.0.1", 0))
    local _, port = mute:getsockname()
    local url = ("https://127.0.0.1:%d/"):format(port)
    local saved = https.TIMEOUT
    https.TIMEOUT = 0.2
    local plain = { https.request(url) }
    local restore = lg.monkey_patch()
    -- a guard far past TIMEOUT: without the fix the request waits 60 s
    local guard = lg.Timeout(30, "guard")
    local ok, green = pcall(function() return { https.request(url) } end)
    guard:cancel()
    restore()
    https.TIMEOUT = saved
    mute:close()
    assert(ok, green)
    assert.is_nil(plain[1])
    assert.is_nil(green[1])
    -- LuaSec says "wantread" (its handshake's last word); lgreen's
    -- timeouts say "timeout"
    assert.same({ "wantread", "timeout" }, { plain[2], green[2] })
  end)
end)
