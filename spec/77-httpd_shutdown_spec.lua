-- lgreen.httpd: idle and read timeouts (a trickling client is cut off
-- while others are served) and graceful shutdown with requests in flight.
local lg = require "lgreen"
local U = require "httpd_util"

describe("lgreen.httpd timeouts", function()
  local srv

  setup(function()
    srv = U.start(function(req) return 200, nil, "ok " .. req.body end,
      { idle_timeout = 0.3, read_timeout = 1 })
  end)

  teardown(function() srv:shutdown() end)

  it("closes a kept-alive connection idle past idle_timeout, without an answer", function()
    local c = U.connect(srv.port)
    c:send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.equal(200, (U.read(c)))
    local data, err, part = c:receive("*a")	-- until the server closes
    assert.equal("", data or part)
    c:close()
  end)

  it("cuts off a client trickling a request, answering 408; others are served meanwhile", function()
    local c = U.connect(srv.port)
    local req = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n" .. ("x"):rep(100)
    local sent = 0
    local trickler = lg.spawn(function()
      for i = 1, #req do
        if not c:send(req:sub(i, i)) then break end
        sent = i
        lg.sleep(0.05)		-- 150 bytes would take 7.5 s; read_timeout is 1 s
      end
    end)
    -- while it trickles, other clients get their answers
    for _ = 1, 3 do
      lg.sleep(0.1)
      local status, _, body = U.exchange(srv.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
      assert.equal(200, status)
      assert.equal("ok ", body)
      assert.is_false(trickler.dead)	-- it was still trickling meanwhile
    end
    local status = U.read(c)
    assert.equal(408, status)
    local data, err = c:receive(1)
    assert.is_nil(data)
    assert.equal("closed", err)
    assert.is_true(sent < #req)
    trickler:kill()
    c:close()
  end)
end)

describe("lgreen.httpd graceful shutdown", function()
  it("finishes requests in flight, closes idle connections, refuses new ones", function()
    local inside, entered, release = 0, lg.Event(), lg.Event()
    local srv = U.start(function(req)
      if req.path == "/slow" then
        inside = inside + 1
        if inside == 3 then entered:send() end
        release:wait()
      end
      return 200, nil, "done " .. req.path
    end)
    local port = srv.port
    -- a kept-alive connection, idle when the shutdown comes
    local idle = U.connect(port)
    idle:send("GET /first HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.equal(200, (U.read(idle)))
    -- three requests in flight
    local answers = {}
    local clients = {}
    for i = 1, 3 do
      clients[i] = lg.spawn(function()
        local c = U.connect(port)
        c:send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
        local status, h, body = U.read(c)
        answers[i] = { status, h.connection, body, (select(2, c:receive(1))) }
        c:close()
      end)
    end
    entered:wait()
    local stopped = false
    local stopper = lg.spawn(function() srv:shutdown() stopped = true end)
    lg.sleep(0)			-- the stopper runs up to its wait
    -- the idle connection is closed, new ones are refused
    local data, err = idle:receive(1)
    assert.is_nil(data)
    assert.equal("closed", err)
    idle:close()
    local c, cerr = lg.connect("127.0.0.1", port)
    assert.is_nil(c)
    assert.equal("connection refused", cerr)
    assert.is_false(stopped)
    -- the requests in flight complete, each told the connection closes
    release:send()
    for i = 1, 3 do clients[i]:wait() end
    stopper:wait()
    assert.is_true(stopped)
    for i = 1, 3 do
      assert.same({ 200, "close", "done /slow", "closed" }, answers[i])
    end
    assert.is_true(srv.gt:wait())	-- serve() returned true
  end)

  it("kills what is left after the grace period, answering 503", function()
    local entered = lg.Event()
    local srv = U.start(function()
      entered:send()
      lg.Event():wait()		-- never answers
    end)
    local c = U.connect(srv.port)
    c:send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    entered:wait()
    srv:shutdown(0.1)
    assert.is_true(srv.gt:wait())
    assert.equal(503, (U.read(c)))
    local data, err = c:receive(1)
    assert.is_nil(data)
    assert.equal("closed", err)
    c:close()
  end)

  it("can be asked from a handler, which still gets its answer out", function()
    local srv
    srv = U.start(function()
      srv:shutdown()
      return 200, nil, "bye"
    end)
    local status, h, body, closed = U.exchange(srv.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.equal(200, status)
    assert.equal("bye", body)
    assert.equal("close", h.connection)
    assert.is_true(closed)
    assert.is_true(srv.gt:wait())
  end)
end)
