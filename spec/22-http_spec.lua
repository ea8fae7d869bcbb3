-- HTTP(S) clients, green: lgreen.http, and LuaSocket's own socket.http made
-- green by monkey_patch.  The servers run in this process, on lgreen.socket.
local lg = require "lgreen"
local H = require "helper"
local http = require "lgreen.http"
local tls = require "lgreen.ssl"

local dir
local function path(name) return dir .. "/" .. name end

-- The server: GET /<delay>/<group>/<name> answers "hello <name>" after
-- delay seconds.  Per group: busy[group] requests in progress, peak[group]
-- the most at once.
local busy, peak = {}, {}

local function handle(c)
  c:settimeout(10)
  local line = c:receive("*l")
  repeat local h = c:receive("*l") until h == nil or h == ""
  local delay, group, name = (line or ""):match("^GET /([%d.]+)/([^/]+)/(%S*)")
  if not delay then c:close() return end
  busy[group] = (busy[group] or 0) + 1
  peak[group] = math.max(peak[group] or 0, busy[group])
  lg.sleep(tonumber(delay))
  busy[group] = busy[group] - 1
  local body = "hello " .. name
  c:send(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s")
    :format(#body, body))
  c:close()
end

local function start(wrap)
  local srv = assert(lg.listen("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local gt = lg.spawn(lg.serve, srv, function(c)
    if wrap then
      c = wrap(c)
      if not c then return end
    end
    handle(c)
  end, 200)
  return port, function() gt:kill() srv:close() end
end

local port, stop, sport, sstop

setup(function()
  dir = H.certs()
  port, stop = start()
  local params = { mode = "server", certificate = path("srv.pem"), key = path("srv.key") }
  sport, sstop = start(function(c)
    local s = tls.wrap(c, params)
    s:settimeout(10)
    if s:dohandshake() then return s end
    s:close()
  end)
end)

teardown(function()
  stop()
  sstop()
  os.execute("rm -rf " .. dir)
end)

describe("lgreen.http.request", function()
  it("returns what socket.http returns", function()
    local body, code, headers, status = http.request(("http://127.0.0.1:%d/0/g/x"):format(port))
    assert.equal("hello x", body)
    assert.equal(200, code)
    assert.equal("7", headers["content-length"])
    assert.equal("HTTP/1.1 200 OK", status)
    local t = {}
    local ok, code2 = http.request { url = ("http://127.0.0.1:%d/0/g/y"):format(port),
      sink = require("ltn12").sink.table(t) }
    assert.same({ 1, 200, "hello y" }, { ok, code2, table.concat(t) })
    assert.same({ nil, "connection refused" },
      { http.request(("http://127.0.0.1:%d/"):format(require("helper").pid() % 1000 + 1)) })
  end)

  it("fetches 50 URLs that each take 200 ms in well under 50 x 200 ms", function()
    local pool = lg.GreenPool(50)
    local got = {}
    local t0 = lg.now()
    for i = 1, 50 do
      pool:spawn_n(function()
        got[i] = http.request(("http://127.0.0.1:%d/0.2/batch/%d"):format(port, i))
      end)
    end
    pool:waitall()
    local took = lg.now() - t0
    for i = 1, 50 do assert.equal("hello " .. i, got[i]) end
    assert.equal(50, peak.batch)		-- all 50 were in flight at once
    assert.is_true(took >= 0.2 and took < 5, ("took %.2f s"):format(took))
  end)

  it("ends a request past its timeout with nil, 'timeout'", function()
    local url = ("http://127.0.0.1:%d/10/slow/s"):format(port)
    local t0 = lg.now()
    assert.same({ nil, "timeout" }, { http.request { url = url, timeout = 0.1, sink = function() return 1 end } })
    local saved = http.TIMEOUT
    http.TIMEOUT = 0.1
    assert.same({ nil, "timeout" }, { http.request(url) })
    http.TIMEOUT = saved
    assert.is_true(lg.now() - t0 < 5, "well under the server's 10 s")
  end)

  it("a killed request ends its greenthread", function()
    local gt = lg.spawn(http.request, ("http://127.0.0.1:%d/10/kill/k"):format(port))
    repeat lg.sleep(0.01) until peak.kill == 1	-- the server has it
    gt:kill()
    assert.same({ false, lg.GreenletExit }, { pcall(gt.wait, gt) })
    local body, code = http.request(("http://127.0.0.1:%d/0/g/z"):format(port))
    assert.same({ "hello z", 200 }, { body, code })	-- the next one is fine
  end)

  it("rejects bad arguments, naming them", function()
    assert.has_error(function() http.request(42) end,
      "bad argument #1 to 'request' (string or table expected, got number)")
    assert.has_error(function() http.request { url = "http://x/", timeout = "soon" } end,
      "bad argument #1 to 'request' (timeout: seconds expected, got string)")
  end)
end)

describe("lgreen.http over https", function()
  it("verifies the server by default, and passes with its CA", function()
    local url = ("https://localhost:%d/0/g/tls"):format(sport)
    local body, err = http.request(url)
    assert.is_nil(body)
    assert.matches("certificate verify failed", err)
    local t = {}
    local ok, code = http.request { url = url, cafile = path("ca.pem"),
      sink = require("ltn12").sink.table(t) }
    assert.same({ 1, 200, "hello tls" }, { ok, code, table.concat(t) })
    ok, code = http.request { url = url, verify = "none", sink = function() return 1 end }
    assert.same({ 1, 200 }, { ok, code })
  end)

  it("runs many at once", function()
    local pool = lg.GreenPool(10)
    local got = {}
    for i = 1, 10 do
      pool:spawn_n(function()
        local t = {}
        http.request { url = ("https://localhost:%d/0.2/tls/%d"):format(sport, i),
          cafile = path("ca.pem"), sink = require("ltn12").sink.table(t) }
        got[i] = table.concat(t)
      end)
    end
    pool:waitall()
    for i = 1, 10 do assert.equal("hello " .. i, got[i]) end
    assert.equal(10, peak.tls)
  end)
end)

describe("monkey_patch", function()
  it("makes unmodified socket.http green, and restore undoes it", function()
    local socket = require "socket"
    local shttp = require "socket.http"
    local tcp = socket.tcp
    local restore = lg.monkey_patch()
    assert.equal(require("lgreen.socket").tcp, socket.tcp)
    local a = lg.spawn(shttp.request, ("http://127.0.0.1:%d/0.2/patch/a"):format(port))
    local b = lg.spawn(shttp.request, ("http://127.0.0.1:%d/0.2/patch/b"):format(port))
    assert.equal("hello a", a:wait())
    assert.equal("hello b", b:wait())
    assert.equal(2, peak.patch)		-- the two overlapped
    assert.is_true(restore())
    assert.equal(tcp, socket.tcp)
    assert.is_false(restore())		-- once only
  end)

  it("also reaches socket.http's https, through ssl.https.tcp", function()
    local https = require "ssl.https"
    local request = https.request
    local restore = lg.monkey_patch { "socket", "https" }
    local t = {}
    local ok, code = require("socket.http").request { url = ("https://localhost:%d/0/g/p"):format(sport),
      cafile = path("ca.pem"), sink = require("ltn12").sink.table(t) }
    assert.same({ 1, 200, "hello p" }, { ok, code, table.concat(t) })
    restore()
    assert.equal(request, https.request)
  end)

  it("rejects unknown groups", function()
    assert.has_error(function() lg.monkey_patch { "sockets" } end,
      "bad argument #1 to 'monkey_patch' (unknown group 'sockets'; groups: socket, dns, https)")
    assert.has_error(function() lg.monkey_patch(1) end,
      "bad argument #1 to 'monkey_patch' (table of group names expected, got number)")
  end)
end)
