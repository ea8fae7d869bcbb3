-- lgreen.httpd: the handler API and HTTP/1.1 features, driven by a raw
-- client on green sockets so every byte on the wire is checked.
local lg = require "lgreen"
local H = require "helper"
local U = require "httpd_util"
local httpd = require "lgreen.httpd"

describe("lgreen.httpd", function()
  local srv, seen
  local release = lg.Event()

  setup(function()
    srv = U.start(function(req)
      seen = req
      local p = req.path
      if p == "/echo" then
        return 200, { ["Content-Type"] = "text/plain" }, req.body
      elseif p == "/stream" then
        local i = 0
        return 200, { ["X-Kind"] = "stream" }, function()
          i = i + 1
          if i == 2 then return "" end		-- skipped, not the last chunk
          if i <= 4 then return "part" .. i .. ";" end
        end
      elseif p == "/cookies" then
        return 200, { ["Set-Cookie"] = { "a=1", "b=2" } }, "ok"
      elseif p == "/nobody" then
        return 204, { ["X-A"] = 1 }
      elseif p == "/inject" then
        return 200, { ["X-Evil"] = "a\r\nSet-Cookie: stolen=1" }, "never"
      elseif p == "/badstatus" then
        return "200", nil, "x"
      elseif p == "/fail" then
        error("secret detail")
      elseif p == "/close" then
        return 200, { Connection = "close" }, "bye"
      end
      return 200, nil, req.method .. " " .. p
    end)
  end)

  teardown(function() srv:shutdown() end)

  it("gives the handler method, path, query raw and parsed, version, headers, peer", function()
    local status, h, body = U.exchange(srv.port,
      "GET /a%20b?x=1&y=%41&y=b+c&flag HTTP/1.1\r\nHost: h\r\nX-Multi: 1\r\n"
      .. "x-multi: 2\r\nCookie: a=1\r\nCookie: b=2\r\nX-Pad:   v v  \r\n\r\n")
    assert.equal(200, status)
    assert.equal("GET /a%20b", body)
    assert.is_string(h.date)
    assert.equal("GET", seen.method)
    assert.equal("/a%20b?x=1&y=%41&y=b+c&flag", seen.target)
    assert.equal("/a%20b", seen.path)
    assert.equal("x=1&y=%41&y=b+c&flag", seen.query)
    assert.same({ x = "1", y = { "A", "b c" }, flag = "" }, seen.args)
    assert.equal("1.1", seen.version)
    assert.equal("h", seen.headers.host)
    assert.equal("1, 2", seen.headers["x-multi"])
    assert.equal("a=1; b=2", seen.headers.cookie)
    assert.equal("v v", seen.headers["x-pad"])
    assert.equal("127.0.0.1", seen.peer)
    assert.is_number(seen.peer_port)
    assert.equal("", seen.body)
  end)

  it("reads a Content-Length body and a chunked one before calling the handler", function()
    local status, h, body = U.exchange(srv.port,
      "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world")
    assert.equal(200, status)
    assert.equal("hello world", body)
    assert.equal("11", h["content-length"])
    status, h, body = U.exchange(srv.port,
      "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "5\r\nhello\r\n1;ext=1\r\n \r\n0005\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n")
    assert.equal(200, status)
    assert.equal("hello world", body)
  end)

  it("keeps an HTTP/1.1 connection alive, closes on Connection: close", function()
    local c = U.connect(srv.port)
    for i = 1, 3 do
      c:send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n" .. i)
      local status, h, body = U.read(c)
      assert.equal(200, status)
      assert.equal(tostring(i), body)
      assert.is_nil(h.connection)
    end
    c:send("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    local status, h = U.read(c)
    assert.equal(200, status)
    assert.equal("close", h.connection)
    local data, err = c:receive(1)
    assert.is_nil(data)
    assert.equal("closed", err)
    c:close()
  end)

  it("closes HTTP/1.0 unless keep-alive is asked", function()
    local status, h, _, closed = U.exchange(srv.port, "GET / HTTP/1.0\r\n\r\n")
    assert.equal(200, status)
    assert.equal("close", h.connection)
    assert.is_true(closed)
    local c = U.connect(srv.port)
    c:send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    status, h = U.read(c)
    assert.equal("keep-alive", h.connection)
    c:send("GET /x HTTP/1.0\r\n\r\n")
    local _, _, body = U.read(c)
    assert.equal("GET /x", body)
    c:close()
  end)

  it("answers pipelined requests in order", function()
    local c = U.connect(srv.port)
    local batch = {}
    for i = 1, 5 do
      batch[i] = ("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s")
        :format(#tostring(i * 11), i * 11)
    end
    batch[6] = "GET /last HTTP/1.1\r\nHost: h\r\n\r\n"
    c:send(table.concat(batch))
    for i = 1, 5 do
      local _, _, body = U.read(c)
      assert.equal(tostring(i * 11), body)
    end
    local _, _, body = U.read(c)
    assert.equal("GET /last", body)
    c:close()
  end)

  it("reads a body of many reads exactly, then the request pipelined after it", function()
    local c = U.connect(srv.port)
    local body = {}
    for i = 1, 30000 do body[i] = ("%05d"):format(i) end
    body = table.concat(body)			-- 150000 bytes, no two reads alike
    local data = ("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s"
      .. "GET /after HTTP/1.1\r\nHost: h\r\n\r\n"):format(#body, body)
    local sender = lg.spawn(function()
      local i = 1
      while i <= #data do			-- odd-sized writes
        c:send(data:sub(i, i + 9999))
        i = i + 10000
        lg.sleep(0)
      end
    end)
    local status, _, got = U.read(c)
    assert.equal(200, status)
    assert.equal(body, got)
    local _, _, after = U.read(c)
    assert.equal("GET /after", after)
    sender:wait()
    c:close()
  end)

  it("streams a function body chunked to 1.1, raw then close to 1.0", function()
    local c = U.connect(srv.port)
    c:send("GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
    local status, h = U.read(c)	-- consumes it, checks the framing below
    assert.equal(200, status)
    assert.equal("chunked", h["transfer-encoding"])
    c:send("GET /stream HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    local all = c:receive("*a")
    assert.truthy(all:find("\r\n\r\n6\r\npart1;\r\n6\r\npart3;\r\n6\r\npart4;\r\n0\r\n\r\n$"))
    c:close()
    local _, h10, body, closed = U.exchange(srv.port, "GET /stream HTTP/1.0\r\n\r\n")
    assert.is_nil(h10["transfer-encoding"])
    assert.equal("part1;part3;part4;", body)
    assert.is_true(closed)
  end)

  it("sends no body to HEAD, nor with 204", function()
    local c = U.connect(srv.port)
    c:send("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\nGET /nobody HTTP/1.1\r\nHost: h\r\n\r\n"
      .. "GET /y HTTP/1.1\r\nHost: h\r\n\r\n")
    local status, h = U.read(c, true)
    assert.equal(200, status)
    assert.equal(#"HEAD /x", tonumber(h["content-length"]))
    status, h = U.read(c)
    assert.equal(204, status)
    assert.is_nil(h["content-length"])
    assert.equal("1", h["x-a"])
    local _, _, body = U.read(c)
    assert.equal("GET /y", body)	-- nothing was sent in between
    c:close()
  end)

  it("sends one header line per value of a list", function()
    local _, _, _, _, head = U.exchange(srv.port, "GET /cookies HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.truthy(head:find("Set-Cookie: a=1\nSet-Cookie: b=2", 1, true))
  end)

  it("answers 100 Continue before reading an expected body", function()
    local c = U.connect(srv.port)
    c:send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    assert.equal("HTTP/1.1 100 Continue", c:receive("*l"))
    assert.equal("", c:receive("*l"))
    c:send("body")
    local status, _, body = U.read(c)
    assert.equal(200, status)
    assert.equal("body", body)
    c:close()
  end)

  it("answers a handler's error 500 without detail, a Connection: close handler closes", function()
    local status, _, body, closed = U.exchange(srv.port, "GET /fail HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.equal(500, status)
    assert.is_nil(body:find("secret"))
    assert.is_true(closed)
    local st, h, b, cl = U.exchange(srv.port, "GET /close HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.equal(200, st)
    assert.equal("bye", b)
    assert.equal("close", h.connection)
    assert.is_true(cl)
  end)

  it("never sends a header value with CR or LF: 500", function()
    local status, h, body = U.exchange(srv.port, "GET /inject HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.equal(500, status)
    assert.is_nil(h["set-cookie"])
    assert.is_nil(h["x-evil"])
    assert.is_nil(body:find("never"))
    status = U.exchange(srv.port, "GET /badstatus HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.equal(500, status)
  end)

  it("serves a socket from lg.listen with new(), started in its own greenthread", function()
    local sock = assert(lg.listen("127.0.0.1", 0))
    local s2 = httpd.new(sock, function(req) return 201, nil, "new " .. req.path end)
    assert.equal(s2, s2:start())
    assert.equal(select(2, sock:getsockname()), s2.port)
    local status, _, body = U.exchange(s2.port, "GET /n HTTP/1.1\r\nHost: h\r\n\r\n")
    assert.equal(201, status)
    assert.equal("new /n", body)
    s2:shutdown()
    assert.is_nil((lg.connect("127.0.0.1", s2.port)))
  end)

  it("is lgreen.http's listen too", function()
    assert.equal(httpd.listen, require("lgreen.http").listen)
  end)

  it("refuses bad arguments and unknown options, naming them", function()
    assert.has_error(function() httpd.listen(1, 0, print) end,
      "bad argument #1 to 'listen' (string expected, got number)")
    assert.has_error(function() httpd.listen("127.0.0.1", 0, "x") end,
      "bad argument #3 to 'listen' (function expected, got string)")
    assert.has_error(function() httpd.listen("127.0.0.1", 0, print, { max_bdy = 1 }) end,
      'lgreen.httpd: unknown option "max_bdy"')
    assert.has_error(function() httpd.listen("127.0.0.1", 0, print, { max_body = -1 }) end,
      "lgreen.httpd: option max_body must be a number > 0, got -1")
    assert.has_error(function() httpd.new({}, print) end,
      "bad argument #1 to 'new' (listening socket expected)")
    assert.has_error(function() srv:shutdown("soon") end,
      "bad argument #1 to 'shutdown' (seconds expected)")
  end)

  it("reports a handler's error once, naming the server's creation site", function()
    local code, out = H.run([[
local lg = require "lgreen"
local httpd = require "lgreen.httpd"
local srv = assert(httpd.listen("127.0.0.1", 0, function(req)
  error("handler failed here")
end))
lg.spawn(srv.serve, srv)
local c = assert(lg.connect("127.0.0.1", srv.port))
c:send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
print(c:receive("*l"))
srv:shutdown()
]])
    assert.equal(0, code)
    assert.truthy(out:find("HTTP/1.1 500 Internal Server Error", 1, true))
    local _, n = out:gsub("lgreen: uncaught error in greenthread", "")
    assert.equal(1, n)
    assert.truthy(out:find("uncaught error in greenthread [^\n]* spawned at [^\n]*:3:\n"))
    assert.truthy(out:find(":4: handler failed here", 1, true))
  end)
end)
