-- TLS over green sockets (lgreen.ssl, LuaSec) against real peers: openssl
-- s_server and s_client on loopback, with a CA and a server certificate
-- (SAN localhost, 127.0.0.1) made here.
local lg = require "lgreen"
local H = require "helper"
local tls = require "lgreen.ssl"
local S = require "lgreen.socket"

local dir
local function path(name) return dir .. "/" .. name end

-- A free loopback port (the kernel's pick, released for the peer to take).
local function free_port()
  local s = assert(require("socket").bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

-- Wait until file `name` contains `pattern` (a peer's "ACCEPT", "EXIT:"),
-- polling while other greenthreads run; its text.
local function await_file(name, pattern)
  local text = ""
  for _ = 1, 1000 do
    local f = io.open(name)
    text = f and f:read("*a") or ""
    if f then f:close() end
    if text:match(pattern) then break end
    lg.sleep(0.01)
  end
  return text
end

-- openssl s_server in the background; returns its port once it accepts.
-- It serves one connection at a time: each test closes what it opens.
local servers = {}
local function s_server(args)
  local port = free_port()
  local log = path("s_server." .. port)
  local p = assert(io.popen(("cd %s && openssl s_server -accept %d -cert srv.pem"
    .. " -key srv.key %s >%s 2>&1 </dev/null & echo $!"):format(dir, port, args, log)))
  servers[#servers + 1] = assert(tonumber(p:read("*l")))
  p:close()
  assert.matches("ACCEPT", await_file(log, "ACCEPT"))	-- it is listening
  return port
end

local function http_get(c)
  assert(c:send("GET / HTTP/1.0\r\n\r\n"))
  local status = c:receive("*l")
  local rest, err, partial = c:receive("*a")
  return status, rest or partial, err
end

setup(function()
  dir = H.certs()
end)

teardown(function()
  for _, pid in ipairs(servers) do os.execute("kill " .. pid) end
  os.execute("rm -rf " .. dir)
end)

describe("lgreen.ssl client against openssl s_server", function()
  local port
  setup(function() port = s_server("-www") end)

  it("verifies by default: an untrusted certificate fails", function()
    local c, err = tls.connect("localhost", port)
    assert.is_nil(c)
    assert.matches("certificate verify failed", err)
  end)

  it("verifies against cafile, and speaks HTTP over the connection", function()
    local c = assert(tls.connect("localhost", port, { cafile = path("ca.pem") }))
    assert.is_true(c:getpeerverification())
    assert.matches("^TLSv1%.[23]$", c:info("protocol"))
    assert.equal("127.0.0.1", (c:getpeername()))
    local cert = c:getpeercertificate()
    assert.equal("localhost", cert:subject()[1].value)
    local status, body = http_get(c)
    assert.equal("HTTP/1.0 200 ok", status)
    assert.matches("</HTML>", body)
    c:close()
  end)

  it("checks the host name: an IP in the SAN passes, another name fails", function()
    local params = { cafile = path("ca.pem") }
    local c = assert(tls.connect("127.0.0.1", port, params))
    c:close()
    local c2, err = tls.connect("127.0.0.2", port, params)
    assert.is_nil(c2)
    assert.equal("certificate does not match host '127.0.0.2'", err)
  end)

  it("connects without verification only when asked: verify = 'none'", function()
    local c = assert(tls.connect("localhost", port, { verify = "none" }))
    assert.is_false(c:getpeerverification())
    c:close()
  end)

  it("honours settimeout on receive", function()
    local c = assert(tls.connect("localhost", port, { cafile = path("ca.pem") }))
    c:settimeout(0.05)
    local data, err, partial = c:receive("*l")	-- -www waits for a request
    assert.same({ nil, "timeout", "" }, { data, err, partial })
    c:close()
  end)
end)

describe("SNI", function()
  it("connect sends the host, or params.servername", function()
    local port = s_server("-www -servername localhost -servername_fatal"
      .. " -cert2 srv.pem -key2 srv.key")
    local ca = path("ca.pem")
    local c = assert(tls.connect("127.0.0.1", port, { cafile = ca, servername = "localhost" }))
    c:close()
    local c2, err = tls.connect("127.0.0.1", port, { cafile = ca, servername = "wrong.example" })
    assert.is_nil(c2)
    assert.matches("unrecognized name", err)
  end)

  it("a green server sees the name the client sent", function()
    local srv = assert(S.listen("127.0.0.1", 0))
    local _, port = srv:getsockname()
    local server = lg.spawn(function()
      local s = tls.wrap(assert(srv:accept()), { mode = "server",
        certificate = path("srv.pem"), key = path("srv.key") })
      assert(s:dohandshake())
      local name = s:getsniname()
      s:close()
      return name
    end)
    local c = assert(tls.connect("localhost", port, { cafile = path("ca.pem") }))
    assert.equal("localhost", server:wait())
    c:close()
    srv:close()
  end)
end)

describe("lgreen.ssl server", function()
  it("handshakes with openssl s_client, which verifies it", function()
    local srv = assert(S.listen("127.0.0.1", 0))
    local _, port = srv:getsockname()
    local out = path("s_client.out")
    os.execute(("(echo hello | openssl s_client -connect 127.0.0.1:%d -servername localhost"
      .. " -CAfile %s -verify_return_error -quiet; echo EXIT:$?) >%s 2>&1 &")
      :format(port, path("ca.pem"), out))
    local s = tls.wrap(assert(srv:accept()), { mode = "server",
      certificate = path("srv.pem"), key = path("srv.key") })
    s:settimeout(10)
    assert(s:dohandshake())
    assert.equal("hello", s:receive("*l"))
    assert.equal(6, s:send("HELLO\n"))
    s:close()
    srv:close()
    local text = await_file(out, "EXIT:%d+")	-- s_client has exited
    assert.matches("HELLO", text)
    assert.matches("EXIT:0", text)
  end)

  it("moves a megabyte each way with a green client", function()
    local srv = assert(S.listen("127.0.0.1", 0))
    local _, port = srv:getsockname()
    local big = ("0123456789abcdef"):rep(65536)
    local server = lg.spawn(function()
      local s = tls.wrap(assert(srv:accept()), { mode = "server",
        certificate = path("srv.pem"), key = path("srv.key") })
      assert(s:dohandshake())
      local got = assert(s:receive(#big))
      assert(s:send(got:upper()))
      s:close()
      return #got
    end)
    local c = assert(tls.connect("localhost", port, { cafile = path("ca.pem") }))
    assert.equal(#big, c:send(big))
    assert.equal(big:upper(), c:receive("*a"))
    assert.equal(#big, server:wait())
    c:close()
    srv:close()
  end)
end)

describe("handshakes", function()
  -- A TCP server that accepts and never speaks TLS.
  local function silent()
    local srv = assert(S.listen("127.0.0.1", 0))
    local _, port = srv:getsockname()
    return srv, port
  end

  it("time out with nil, 'timeout' (connect's timeout, or settimeout)", function()
    local srv, port = silent()
    local t0 = lg.now()
    assert.same({ nil, "timeout" },
      { tls.connect("127.0.0.1", port, { verify = "none", timeout = 0.1 }) })
    local c = tls.wrap(assert(S.connect("127.0.0.1", port)), { verify = "none" })
    c:settimeout(0.1)
    assert.same({ nil, "timeout" }, { c:dohandshake() })
    c:close()
    assert.is_true(lg.now() - t0 < 3, "well under the 3 s bound")
    srv:close()
  end)

  it("park only their greenthread", function()
    local srv, port = silent()
    local hs = lg.spawn(function()
      local c = tls.wrap(assert(S.connect("127.0.0.1", port)), { verify = "none" })
      return c:dohandshake()
    end)
    local peer = assert(srv:accept())	-- the handshake has begun
    lg.sleep(0.01)			-- main runs while it waits
    assert.is_false(hs.dead)
    peer:close()				-- the peer gives up: so does the handshake
    local ok, err = hs:wait()
    assert.is_nil(ok)
    assert.is_string(err)
    srv:close()
  end)
end)

describe("checkhost", function()
  local function cert(dns, cn)
    return {
      extensions = function()
        return dns and { ["2.5.29.17"] = { dNSName = dns } } or {}
      end,
      subject = function() return { { name = "commonName", value = cn } } end,
    }
  end

  it("matches a wildcard in the left-most label only", function()
    local c = cert { "*.example.org", "Exact.Example.Net" }
    assert.is_true(tls.checkhost(c, "a.example.org"))
    assert.is_true(tls.checkhost(c, "exact.example.net."))
    assert.is_false(tls.checkhost(c, "example.org"))
    assert.is_false(tls.checkhost(c, "a.b.example.org"))
    assert.is_false(tls.checkhost(cert { "*.org" }, "example.org"))
  end)

  it("uses the commonName only without subjectAltName", function()
    assert.is_true(tls.checkhost(cert(nil, "host.test"), "host.test"))
    assert.is_false(tls.checkhost(cert({ "other.test" }, "host.test"), "host.test"))
  end)
end)

describe("arguments", function()
  it("bad ones raise, naming the argument", function()
    assert.has_error(function() tls.wrap("x", {}) end,
      "bad argument #1 to 'wrap' (socket expected, got string)")
    assert.has_error(function() tls.wrap(S.tcp()) end,
      "bad argument #2 to 'wrap' (table of TLS parameters expected, got nil)")
    assert.has_error(function() tls.connect(42, 443) end,
      "bad argument #1 to 'connect' (string expected, got number)")
    assert.has_error(function() tls.connect("localhost", 443, "none") end,
      "bad argument #3 to 'connect' (table expected, got string)")
  end)
end)
