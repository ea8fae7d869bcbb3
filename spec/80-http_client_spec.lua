-- lgreen.http's keep-alive client: request(method, url, headers, body,
-- opts) -> status, headers, body (issue 12, point 2).  The server runs in
-- this process, on lgreen.socket, HTTP/1.1 with keep-alive.
local lg = require "lgreen"
local H = require "helper"
local http = require "lgreen.http"
local tls = require "lgreen.ssl"

local dir
local conns = 0		-- connections accepted (both servers)
local live = 0		-- connections open on the servers' side
local held = 0		-- requests on /hold the server is in
local seen = {}		-- the requests, in order: { method, path, headers, body }

-- One request off c: method, path, headers (lowercase), body | nil.
local function read_request(c)
  local line = c:receive("*l")
  if not line then return nil end
  local method, path = line:match("^(%u+) (%S+)")
  local h = {}
  while true do
    local l = c:receive("*l")
    if not l then return nil end
    if l == "" then break end
    local k, v = l:match("^([^:]+):%s*(.-)%s*$")
    h[k:lower()] = v
  end
  local body = ""
  local n = tonumber(h["content-length"] or 0)
  if n > 0 then body = c:receive(n) end	-- (receive(0) waits for a byte)
  if not body then return nil end
  return method, path, h, body
end

local function reply(c, code, extra, body)
  return c:send(("HTTP/1.1 %d X\r\n%sContent-Length: %d\r\n\r\n%s")
    :format(code, extra or "", #body, body))
end

-- Paths: /redirect/<code>/<n> redirects n times then lands on /landed;
-- /hold answers only once the client is gone (it waits for EOF);
-- /late/<s> answers after s seconds; /chunked answers in chunks; /close
-- says Connection: close; /drop answers, then closes without saying so.
local function handle(c)
  conns = conns + 1
  c:settimeout(10)
  while true do
    local method, path, h, body = read_request(c)
    if not method then return end
    seen[#seen + 1] = { method = method, path = path, headers = h, body = body }
    local code, n = path:match("^/redirect/(%d+)/(%d+)")
    if code then
      n = tonumber(n)
      local to = n > 1 and ("/redirect/%s/%d"):format(code, n - 1) or "/landed"
      reply(c, tonumber(code), "Location: " .. to .. "\r\n", "")
    elseif path == "/away" then	-- the same server under another name
      local _, here = c:getsockname()
      reply(c, 302, ("Location: http://localhost:%d/landed\r\n"):format(here), "")
    elseif path == "/hold" then
      held = held + 1
      c:settimeout(nil)
      c:receive("*a")
      held = held - 1
      return
    elseif path:match("^/late/") then
      lg.sleep(tonumber(path:match("^/late/([%d.]+)")))
      reply(c, 200, "", "late")
    elseif path == "/chunked" then
      c:send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        .. "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n")
    elseif path == "/close" then
      reply(c, 200, "Connection: close\r\n", "bye")
      return
    elseif path == "/drop" then
      reply(c, 200, "", "dropped")
      return
    else
      reply(c, 200, "X-Method: " .. method .. "\r\n", method .. " " .. path .. " " .. body)
    end
  end
end

local function start(wrap)
  local srv = assert(lg.listen("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local gt = lg.spawn(lg.serve, srv, function(c)
    live = live + 1
    if wrap then c = wrap(c) end
    if c then handle(c) end
    live = live - 1	-- (serve closes c before anything else runs)
  end, 200)
  return port, function() gt:kill() srv:close() end
end

local port, stop, sport, sstop, base, sbase

setup(function()
  dir = H.certs()
  port, stop = start()
  local params = { mode = "server", certificate = dir .. "/srv.pem", key = dir .. "/srv.key" }
  sport, sstop = start(function(c)
    local s = tls.wrap(c, params)
    s:settimeout(10)
    if s:dohandshake() then return s end
    s:close()
  end)
  base = ("http://127.0.0.1:%d"):format(port)
  sbase = ("https://localhost:%d"):format(sport)
end)

teardown(function()
  http.close_idle()
  stop()
  sstop()
  os.execute("rm -rf " .. dir)
end)

before_each(function() http.close_idle() end)

-- Wait (yielding) until cond() holds, at most n rounds of 10 ms.
local function until_(cond, n)
  for _ = 1, n or 500 do
    if cond() then return true end
    lg.sleep(0.01)
  end
  return cond()
end

describe("http.request(method, url, ...)", function()
  it("returns status, headers and body, over one kept connection", function()
    local c0 = conns
    for i = 1, 5 do
      local status, headers, body = http.request("GET", base .. "/n/" .. i)
      assert.equal(200, status)
      assert.equal("GET", headers["x-method"])
      assert.equal("GET /n/" .. i .. " ", body)
    end
    assert.equal(1, conns - c0)
    assert.equal("127.0.0.1:" .. port, seen[#seen].headers.host)
  end)

  it("sends a string body with its Content-Length, never chunked", function()
    local status, _, body = http.request("POST", base .. "/p", { ["Content-Type"] = "text/plain" }, "hello")
    assert.same({ 200, "POST /p hello" }, { status, body })
    local r = seen[#seen]
    assert.equal("5", r.headers["content-length"])
    assert.is_nil(r.headers["transfer-encoding"])
    assert.equal("text/plain", r.headers["content-type"])
    http.request("PUT", base .. "/empty")
    assert.equal("0", seen[#seen].headers["content-length"])
  end)

  it("follows 301/302/303 as GET without the body, 307/308 with method and body", function()
    for _, code in ipairs { 301, 302, 303 } do
      local status, _, body = http.request("POST", base .. "/redirect/" .. code .. "/2", nil, "data")
      assert.same({ 200, "GET /landed " }, { status, body })
      assert.is_nil(seen[#seen].headers["content-length"])
    end
    for _, code in ipairs { 307, 308 } do
      local status, _, body = http.request("POST", base .. "/redirect/" .. code .. "/2", nil, "data")
      assert.same({ 200, "POST /landed data" }, { status, body })
    end
    assert.same({ nil, "too many redirects" },
      { http.request("GET", base .. "/redirect/302/3", nil, nil, { maxredirects = 2 }) })
    http.request("GET", base .. "/redirect/302/1", { Authorization = "Bearer x" })
    assert.equal("Bearer x", seen[#seen].headers.authorization)	-- same host: kept
    http.request("GET", base .. "/away", { Authorization = "Bearer x" })
    assert.same({ "/landed", ("localhost:%d"):format(port) }, { seen[#seen].path, seen[#seen].headers.host })
    assert.is_nil(seen[#seen].headers.authorization)		-- another host: dropped
    local status, headers = http.request("GET", base .. "/redirect/302/3", nil, nil, { redirect = false })
    assert.same({ 302, "/redirect/302/2" }, { status, headers.location })
  end)

  it("reads chunked answers; Connection: close and keepalive = false keep nothing", function()
    local status, headers, body = http.request("GET", base .. "/chunked")
    assert.same({ 200, "hello, world", "chunked" }, { status, body, headers["transfer-encoding"] })
    http.close_idle()
    local c0 = conns
    assert.equal("bye", select(3, http.request("GET", base .. "/close")))
    assert.equal("GET /a ", select(3, http.request("GET", base .. "/a")))
    assert.equal(2, conns - c0)		-- the closed one was not reused
    c0 = conns
    for _ = 1, 3 do http.request("GET", base .. "/a", nil, nil, { keepalive = false }) end
    assert.equal(3, conns - c0)
    assert.equal("close", seen[#seen].headers.connection)
  end)

  it("sends again on a new connection when a kept one was closed by the server", function()
    assert.equal("dropped", select(3, http.request("GET", base .. "/drop")))
    local c0 = conns
    local status, _, body = http.request("GET", base .. "/after")
    assert.same({ 200, "GET /after " }, { status, body })
    assert.equal(1, conns - c0)
  end)

  it("ends past opts.timeout, and a TLS handshake past opts.connect_timeout", function()
    assert.same({ nil, "timeout" },
      { http.request("GET", base .. "/late/1", nil, nil, { timeout = 0.1 }) })
    -- a server that never accepts: TCP connects (the backlog), TLS waits
    local mute = assert(lg.listen("127.0.0.1", 0))
    local _, mport = mute:getsockname()
    assert.same({ nil, "timeout" }, { http.request("GET", ("https://127.0.0.1:%d/"):format(mport),
      nil, nil, { connect_timeout = 0.1, timeout = 60, verify = "none" }) })
    mute:close()
  end)

  it("never returns to the pool a connection whose request was cancelled", function()
    assert.equal("GET /warm ", select(3, http.request("GET", base .. "/warm")))
    local c0 = conns
    -- the kept connection carries /late/0.3, and the caller gives up
    assert.same({ nil, "timeout" }, { lg.with_timeout(0.05, http.request, "GET", base .. "/late/0.3") })
    -- the next request must not read the late answer on that connection
    local status, _, body = http.request("GET", base .. "/next")
    assert.same({ 200, "GET /next " }, { status, body })
    assert.equal(1, conns - c0)
  end)

  it("uses https, verified, over one kept connection", function()
    local c0 = conns
    local status, _, body = http.request("GET", sbase .. "/s/1", nil, nil, { cafile = dir .. "/ca.pem" })
    assert.same({ 200, "GET /s/1 " }, { status, body })
    status, _, body = http.request("GET", sbase .. "/s/2", nil, nil, { cafile = dir .. "/ca.pem" })
    assert.same({ 200, "GET /s/2 " }, { status, body })
    assert.equal(1, conns - c0)
    local ok, err = http.request("GET", sbase .. "/s/3")
    assert.is_nil(ok)
    assert.matches("certificate verify failed", err)
  end)

  it("rejects bad arguments, naming them", function()
    assert.has_error(function() http.request("GET", 42) end,
      "bad argument #2 to 'request' (URL string expected, got number)")
    assert.has_error(function() http.request("GET", base, { a = {} }) end,
      "bad argument #3 to 'request' (headers: string names and string values expected)")
    assert.has_error(function() http.request("GET", base, { a = "x\r\nEvil: 1" }) end,
      "bad argument #3 to 'request' (headers: CR, LF or NUL in 'a')")
    assert.has_error(function() http.request("POST", base, nil, {}) end,
      "bad argument #4 to 'request' (string body expected, got table)")
    assert.has_error(function() http.request("GET", base, nil, nil, { timout = 1 }) end,
      "bad argument #5 to 'request' (unknown option 'timout')")
    assert.same({ nil, "unsupported scheme: ftp" }, { http.request("GET", "ftp://x/") })
  end)
end)

describe("a cancelled request closes its socket at once", function()
  -- 20 requests on /hold, cancelled by cancel(gts); then no fd is left:
  -- the server sees each client go (live back to 0: it reads EOF only once
  -- the client's socket is closed), and this process has no more fds than
  -- before.
  local function twenty(start_one, cancel)
    http.close_idle()
    assert.is_true(until_(function() return live == 0 end))
    H.collect()		-- what earlier specs dropped goes now, not during the count
    local before = H.nfds()
    local gts = {}
    for i = 1, 20 do gts[i] = lg.spawn(start_one) end
    assert.is_true(until_(function() return held == 20 end), "the server has all 20")
    cancel(gts)
    for i = 1, 20 do pcall(gts[i].wait, gts[i]) end
    assert.is_true(until_(function() return live == 0 end, 300), "the server saw all 20 go")
    -- (<=: in the suite's shared process, what earlier spec files left
    -- may close meanwhile; 20 sockets left open would show here)
    local after = H.nfds()
    assert.is_true(after <= before, ("%d fds before, %d after"):format(before, after))
  end

  local function kill(gts) for i = 1, #gts do gts[i]:kill() end end

  it("killed (gt:kill())", function()
    twenty(function() return http.request("GET", base .. "/hold") end, kill)
  end)

  it("timed out (with_timeout, Timeout)", function()
    twenty(function()
      return lg.with_timeout(0.2, http.request, "GET", base .. "/hold")
    end, function() end)
    twenty(function()
      local t = lg.Timeout(0.2)
      local ok, err = pcall(http.request, "GET", base .. "/hold")
      t:cancel()
      assert(not ok and err == t)
    end, function() end)
  end)

  it("in the socket.http forms too", function()
    twenty(function() return http.request(base .. "/hold") end, kill)
    twenty(function()
      return lg.with_timeout(0.2, http.request, { url = base .. "/hold", sink = function() return 1 end })
    end, function() end)
  end)
end)
