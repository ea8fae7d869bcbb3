-- Bad arguments get a clear error naming the function and the argument,
-- never an abort, a silent default or a call to another host: closed fds,
-- misspelt option keys, host names with a NUL, signals that cannot be
-- handled.
local lg = require "lgreen"
local H = require "helper"
local S = require "lgreen.socket"
local resolve = require "lgreen.resolve"
local process = require "lgreen.process"
local args = require "lgreen.args"

-- err's message, or a failure if fn returned.
local function raised(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "no error raised")
  return tostring(err)
end

describe("wait_read and wait_write on a bad fd", function()
  -- libev aborts the process on a closed fd: run in a child
  it("refuse a closed fd with an error instead of aborting", function()
    local code, out = H.run([[
      local lg = require "lgreen"
      local socket = require "socket"
      local s = socket.udp()
      assert(s:setsockname("127.0.0.1", 0))
      local fd = s:getfd()
      s:close()
      -- the hub starts here, and its epoll instance takes the freed number
      print(pcall(function() lg.wait_read(fd, 0.01) end))
      s = socket.udp()
      assert(s:setsockname("127.0.0.1", 0))
      fd = s:getfd()
      s:close()
      print(pcall(function() lg.wait_read(fd, 0.01) end))
      print(pcall(function() lg.wait_write(9999, 0.01) end))
      print("alive")
    ]])
    assert.equal(0, code, out)
    assert.matches("bad argument #1 to 'wait_read' %(an epoll fd %(the hub's own%?%) cannot be waited on%)", out)
    local _, n = out:gsub("bad argument #1 to 'wait_%a+' %(bad file descriptor%)", "")
    assert.equal(2, n, out)
    assert.matches("alive", out)
  end)

  it("refuse negative and fractional fds", function()
    assert.matches("bad argument #1 to 'wait_read' %(file descriptor expected%)",
      raised(function() lg.wait_read(-1, 0.01) end))
    assert.matches("^spec/30%-args_spec%.lua:%d+: bad argument #1 to 'wait_write'",
      raised(function() lg.wait_write(1.5, 0.01) end))
    assert.matches("file descriptor expected", raised(lg.wait_read, 1.5, 0.01))
  end)

  it("return nil, 'closed' to a waiter whose fd is closed under it", function()
    local socket = require "socket"
    local s = socket.udp()
    assert(s:setsockname("127.0.0.1", 0))
    local fd = s:getfd()
    local started = lg.Event()
    local gt = lg.spawn(function()
      started:send()
      return lg.wait_read(fd, 0.3)
    end)
    started:wait()
    s:close()		-- the kernel drops fd from epoll: no event comes
    local r, err = gt:wait()
    assert.is_nil(r)
    assert.equal("closed", err)
  end)
end)

describe("unknown option keys are refused", function()
  local tls = require "lgreen.ssl"
  local http = require "lgreen.http"

  it("by lgreen.ssl.connect, wrap and handshake", function()
    assert.matches("bad argument #3 to 'connect' %(unknown option 'timout'%)",
      raised(tls.connect, "localhost", 1, { timout = 1 }))
    local s = S.tcp()
    assert.matches("bad argument #2 to 'wrap' %(unknown option 'vrify'%)",
      raised(tls.wrap, s, { mode = "client", vrify = "none" }))
    assert.matches("bad argument #3 to 'handshake' %(unknown option 'severname'%)",
      raised(tls.handshake, s, "localhost", { severname = "x" }))
    assert.matches("bad argument #3 to 'connect' %(params.timeout: seconds expected, got string%)",
      raised(tls.connect, "localhost", 1, { timeout = "5" }))
    s:close()
  end)

  it("by process.run, process.spawn and process()", function()
    assert.matches("bad argument #2 to 'run' %(unknown option 'timout'%)",
      raised(process.run, { "true" }, { timout = 1 }))
    assert.matches("bad argument #2 to 'spawn' %(unknown option 'stdot'%)",
      raised(process.spawn, { "true" }, { stdot = "pipe" }))
    assert.matches("bad argument #2 to 'process' %(unknown option 'cdw'%)",
      raised(process, { "true" }, { cdw = "/" }))
    -- the error blames the caller, not lgreen's files
    assert.matches("^spec/30%-args_spec%.lua:", raised(function()
      process.run({ "true" }, { x = 1 })
    end))
    -- every documented key still passes
    local out, _, code = process.run({ "cat" }, { input = "hi", timeout = 30,
      cwd = "/", env = { A = "1" }, stderr = "inherit", pidfd = false })
    assert.equal("hi", out)
    assert.equal(0, code)
  end)

  it("by resolve.getaddrinfo", function()
    assert.matches("bad argument #3 to 'getaddrinfo' %(unknown option 'famliy'%)",
      raised(resolve.getaddrinfo, "localhost", 80, { famliy = "inet" }))
    assert.matches("bad argument #3 to 'getaddrinfo' %(unknown option 'number'%)",
      raised(resolve.getaddrinfo, "localhost", 80, { "inet" }))
    assert.matches("bad argument #3 to 'getaddrinfo' %(opts.timeout: seconds expected, got %-1%)",
      raised(resolve.getaddrinfo, "localhost", 80, { timeout = -1 }))
  end)

  it("by http.request with a table (a typo'd timeout used to hang forever)", function()
    assert.matches("bad argument #1 to 'request' %(unknown option 'timout'%)",
      raised(http.request, { url = "https://127.0.0.1:1/", timout = 1 }))
    assert.matches("bad argument #1 to 'request' %(timeout: seconds expected, got string%)",
      raised(http.request, { url = "http://127.0.0.1:1/", timeout = "1" }))
    assert.matches("bad argument #1 to 'tcp' %(unknown option 'cafle'%)",
      raised(http.tcp, { cafle = "ca.pem" }))
    -- every TLS key of lgreen.ssl passes (LuaSec's own included)
    assert.is_function(http.tcp({ verifyext = { "lsec_continue" }, dhparam = nil,
      curveslist = "P-256", cafile = "x", url = "https://x/" }))
  end)

  it("by greenlet.new, also after an explicit nil parent", function()
    local greenlet = lg.greenlet
    assert.matches("unknown option 'nmae'", raised(greenlet.new, print, nil, { nmae = "x" }))
    local g = greenlet.new(print, nil, { name = "x" })
    assert.equal("x", g.name)
  end)
end)

describe("lgreen.args", function()
  it("check_options returns the table, or {} for nil", function()
    local t = { a = 1 }
    assert.equal(t, args.check_options(t, { a = true }, 1, "f"))
    assert.same({}, args.check_options(nil, { a = true }, 1, "f"))
    assert.matches("bad argument #2 to 'f' %(table expected, got string%)",
      raised(args.check_options, "x", {}, 2, "f"))
  end)

  it("check_seconds takes nil and numbers >= 0, refuses NaN", function()
    assert.is_nil(args.check_seconds(nil, 1, "f"))
    assert.equal(0, args.check_seconds(0, 1, "f"))
    assert.matches("seconds expected, got %-?nan", raised(args.check_seconds, 0/0, 1, "f"))
  end)
end)

describe("host names with a NUL byte are refused", function()
  local server, port
  setup(function()
    server = assert(lg.listen("127.0.0.1", 0))
    port = select(2, server:getsockname())
  end)
  teardown(function() server:close() end)

  local evil = "127.0.0.1\0.evil.example"

  it("by connect (it used to dial 127.0.0.1) and listen", function()
    assert.matches("bad argument #1 to 'connect' %(host name contains a NUL byte%)",
      raised(S.connect, evil, port))
    assert.matches("host name contains a NUL byte", raised(function() return S.tcp():connect(evil, port) end))
    assert.matches("bad argument #1 to 'listen' %(host name contains a NUL byte%)",
      raised(S.listen, evil, 0))
  end)

  it("by the resolver", function()
    assert.matches("bad argument #1 to 'getaddrinfo' %(host name contains a NUL byte%)",
      raised(resolve.getaddrinfo, "localhost\0.evil", 80))
    assert.matches("bad argument #1 to 'toip' %(host name contains a NUL byte%)",
      raised(resolve.toip, "localhost\0.evil"))
    assert.matches("bad argument #1 to 'tohostname' %(host name contains a NUL byte%)",
      raised(resolve.tohostname, evil))
  end)

  it("by udp sendto and setpeername", function()
    local u = S.udp()
    assert.matches("bad argument #2 to 'sendto' %(numeric IP address expected%)",
      raised(u.sendto, u, "x", evil, port))
    assert.matches("bad argument #1 to 'setpeername' %(host name contains a NUL byte%)",
      raised(u.setpeername, u, evil, port))
    u:close()
  end)

  it("by lgreen.ssl.connect and lgreen.http.request", function()
    local tls = require "lgreen.ssl"
    local http = require "lgreen.http"
    assert.matches("bad argument #1 to 'connect' %(host name contains a NUL byte%)",
      raised(tls.connect, evil, port))
    assert.matches("bad argument #1 to 'request' %(URL contains a NUL byte%)",
      raised(http.request, "http://" .. evil .. ":" .. port .. "/"))
    assert.matches("bad argument #1 to 'request' %(host name contains a NUL byte%)",
      raised(http.request, { url = "http://x/", host = evil }))
  end)
end)

describe("lg.signal", function()
  it("refuses signals a handler cannot take", function()
    for _, sig in ipairs { "SEGV", "SIGBUS", "FPE", "ILL", "KILL", "STOP",
                           process.signals.SEGV } do
      local err = raised(lg.signal, sig, function() end)
      assert.matches("bad argument #1 to 'signal' %(SIG%u+ ", err)
    end
  end)

  it("leaves the stack-overflow reporter in place", function()
    local code, out = H.run([[
      local lg = require "lgreen"
      print(pcall(lg.signal, "SEGV", function() print("HANDLER RAN") end))
      io.stdout:flush()
      local function nest(k)	-- C recursion: gsub calls back into Lua
        if k == 0 then return "" end
        return (("x"):gsub("x", function() return nest(k - 1) end))
      end
      lg.greenlet.new(function() return pcall(nest, 1e6) end,
                      { name = "deep", stack_size = 65536 }):switch()
    ]])
    assert.equal(2, code, out)
    assert.matches("SIGSEGV is synchronous", out)
    assert.matches("lgreen: stack overflow in greenlet 'deep'", out)
    assert.not_matches("HANDLER RAN", out)
  end)
end)
