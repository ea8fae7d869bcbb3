-- lgreen.httpd against malformed and oversized requests: each gets its
-- 4xx/5xx answer and the connection is closed; request smuggling cases
-- (RFC 9112 sections 6.1, 6.3, 11.2) are refused, not guessed at.
local U = require "httpd_util"

describe("lgreen.httpd limits and malformed input", function()
  local srv, calls

  setup(function()
    calls = 0
    srv = U.start(function(req)
      calls = calls + 1
      return 200, nil, "got " .. #req.body
    end, { max_line = 100, max_header = 400, max_headers = 5, max_body = 50 })
  end)

  teardown(function() srv:shutdown() end)

  local function expect(status, data)
    local before = calls
    local got, _, _, closed = U.exchange(srv.port, data)
    assert.equal(status, got)
    assert.is_true(closed)
    assert.equal(before, calls)		-- the handler never saw it
  end

  local GET = "GET / HTTP/1.1\r\nHost: h\r\n"

  it("414 for a request line over max_line, complete or not", function()
    expect(414, "GET /" .. ("a"):rep(200) .. " HTTP/1.1\r\nHost: h\r\n\r\n")
    expect(414, "GET /" .. ("a"):rep(200))
  end)

  it("431 for a head over max_header, and for more than max_headers fields", function()
    expect(431, GET .. "X-Big: " .. ("b"):rep(500) .. "\r\n\r\n")
    expect(431, GET .. "X-Big: " .. ("b"):rep(500))		-- still coming
    expect(431, GET .. ("X: 1\r\n"):rep(5) .. "\r\n")	-- Host + 5
    local status = U.exchange(srv.port, GET .. ("X: 1\r\n"):rep(4) .. "\r\n")
    assert.equal(200, status)
  end)

  it("413 for a body over max_body: by its Content-Length or as chunks arrive", function()
    expect(413, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 51\r\n\r\n" .. ("x"):rep(51))
    expect(413, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "20\r\n" .. ("x"):rep(32) .. "\r\n20\r\n" .. ("x"):rep(32) .. "\r\n0\r\n\r\n")
    local status, _, body = U.exchange(srv.port,
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 50\r\n\r\n" .. ("x"):rep(50))
    assert.equal(200, status)
    assert.equal("got 50", body)
  end)

  it("413 instead of 100 Continue when the expected body is too large", function()
    local c = U.connect(srv.port)
    c:send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n")
    assert.equal("HTTP/1.1 413 Content Too Large", c:receive("*l"))
    c:close()
    expect(417, GET .. "Content-Length: 1\r\nExpect: something-else\r\n\r\nx")
  end)

  it("400 and close for Content-Length with Transfer-Encoding (smuggling)", function()
    expect(400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
      .. "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    expect(400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
      .. "Content-Length: 4\r\n\r\n0\r\n\r\n")
  end)

  it("400 for two different Content-Lengths; the same one twice is that length", function()
    expect(400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
    expect(400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\nabcd")
    local status, _, body = U.exchange(srv.port,
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
    assert.equal(200, status)
    assert.equal("got 3", body)
  end)

  it("400 for a negative, signed, non-numeric or overflowing Content-Length", function()
    for _, v in ipairs { "-1", "+3", "0x10", "1e3", "", "3 3",
      "99999999999999999999999", "18446744073709551619" } do
      expect(400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " .. v .. "\r\n\r\nabc")
    end
  end)

  it("501 for a transfer coding other than chunked; 400 for chunked twice or in HTTP/1.0", function()
    expect(501, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n")
    expect(501, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
    expect(400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
      .. "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    expect(400, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
  end)

  it("400 for invalid chunk sizes and chunk framing", function()
    local P = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    for _, body in ipairs {
      "-5\r\nhello\r\n0\r\n\r\n",			-- negative
      "0x5\r\nhello\r\n0\r\n\r\n",			-- prefix
      "g\r\nhello\r\n0\r\n\r\n",			-- not hex
      "\r\nhello\r\n0\r\n\r\n",				-- empty
      "ffffffffffffffffff\r\nx\r\n0\r\n\r\n",		-- overflowing
      "5\r\nhelloXY0\r\n\r\n",				-- no CRLF after the data
      "5\nhello\r\n0\r\n\r\n",				-- bare LF
    } do
      expect(400, P .. body)
    end
  end)

  it("400 for obs-fold, space before the colon, bare LF, bare CR, controls", function()
    expect(400, GET .. "X-A: 1\r\n  folded\r\n\r\n")
    expect(400, GET .. "X-A : 1\r\n\r\n")
    expect(400, "GET / HTTP/1.1\nHost: h\n\n")
    expect(400, GET .. "X-A: 1\n\r\n")
    expect(400, GET .. "X-A: a\rb\r\n\r\n")
    expect(400, GET .. "X-A: a\0b\r\n\r\n")
    expect(400, GET .. "Bad<Name>: 1\r\n\r\n")
    expect(400, GET .. ": empty name\r\n\r\n")
  end)

  it("400 for a bad request line, a missing or repeated Host; 505 for HTTP/2.0", function()
    expect(400, "GET /\r\nHost: h\r\n\r\n")
    expect(400, "GET  / HTTP/1.1\r\nHost: h\r\n\r\n")
    expect(400, "GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n")
    expect(400, "GET / http/1.1\r\nHost: h\r\n\r\n")
    expect(400, "GET / HTTP/1.1\r\n\r\n")
    expect(400, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    expect(505, "GET / HTTP/2.0\r\nHost: h\r\n\r\n")
  end)

  it("serves a request after leading empty lines, as RFC 9112 asks", function()
    local status, _, body = U.exchange(srv.port, "\r\n\r\n" .. GET .. "\r\n")
    assert.equal(200, status)
    assert.equal("got 0", body)
  end)
end)
