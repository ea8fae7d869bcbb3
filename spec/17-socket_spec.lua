-- lgreen.socket: LuaSocket's behaviour, parking only the caller.
local lg = require "lgreen"
local S = require "lgreen.socket"
local H = require "helper"

-- A listening server on a free loopback port, and a connected pair.
local function server(host)
  local srv = assert(lg.listen(host or "127.0.0.1", 0))
  local _, port = srv:getsockname()
  return srv, port
end

local function pair(host)
  local srv, port = server(host)
  local acc = lg.spawn(function() return assert(srv:accept()) end)
  local c = assert(lg.connect(host or "127.0.0.1", port, 5))
  local s = acc:wait()
  srv:close()
  return c, s
end

describe("lgreen.socket TCP", function()
  it("connects over IPv4 and IPv6 and names both ends", function()
    local hosts = { "127.0.0.1", "::1" }
    local probe = S.tcp6()
    if not probe:bind("::1", 0) then	-- a container without IPv6 loopback
      hosts[2] = nil
    end
    probe:close()
    for _, host in ipairs(hosts) do
      local c, s = pair(host)
      local ip, port, fam = c:getpeername()
      local sip, sport, sfam = s:getsockname()
      assert.equal(host, ip)
      assert.equal(port, sport)
      assert.equal(ip, sip)
      assert.equal(fam, sfam)
      assert.equal(host == "::1" and "inet6" or "inet", fam)
      assert.matches("^tcp{client}", tostring(c))
      c:close()
      s:close()
      assert.matches("^tcp{closed}", tostring(c))
    end
    if not hosts[2] then pending("no IPv6 loopback here: IPv4 only") end
  end)

  it("resolves localhost through lgreen.resolve", function()
    local srv, port = server()
    lg.spawn_n(function() local a = srv:accept() if a then a:close() end end)
    local c = assert(lg.connect("localhost", port, 5))
    c:close()
    srv:close()
  end)

  it("receive: lines drop CRs, numbers are exact, *a reads to the end, prefix first", function()
    local c, s = pair()
    local msg = "one\r\ntwo\nthr\ree\n0123456789tail"
    assert.equal(#msg, c:send(msg))
    c:close()
    assert.equal("one", s:receive())
    assert.equal("two", s:receive("*l"))
    assert.equal("three", s:receive("l"))
    assert.equal("01234", s:receive(5))
    assert.equal(">5678", s:receive(5, ">"))	-- LuaSocket 3: n counts the prefix
    assert.equal("9", s:receive(1))
    assert.equal("tail", s:receive("*a"))
    local d, err, partial = s:receive("*a")	-- nothing left: LuaSocket's nil, "closed"
    assert.is_nil(d)
    assert.equal("closed", err)
    assert.equal("", partial)
    d, err, partial = s:receive("*l")
    assert.is_nil(d)
    assert.equal("closed", err)
    assert.equal("", partial)
    s:close()
  end)

  it("receive returns partial results with closed, as LuaSocket does", function()
    local c, s = pair()
    c:send("no newline")
    c:close()
    assert.same({ nil, "closed", "pre:no newline" }, { s:receive("*l", "pre:") })
    s:close()
    c, s = pair()
    c:send("abc")
    c:close()
    assert.same({ nil, "closed", "abc" }, { s:receive(10) })
    s:close()
  end)

  it("send(data, i, j) returns the last byte sent", function()
    local c, s = pair()
    assert.equal(4, c:send("0123456789", 2, 4))
    assert.equal(10, c:send("0123456789", -3))
    assert.equal(2, c:send("0123456789", 3, 2))	-- empty range: i - 1
    assert.equal("123789", s:receive(6))
    c:close()
    s:close()
    local ok, err = c:send("x")
    assert.is_nil(ok)
    assert.equal("closed", err)
  end)

  it("timeouts: receive gives nil, 'timeout', partial; others keep running", function()
    local c, s = pair()
    local ticks, done = 0, false
    lg.spawn_n(function() while not done do ticks = ticks + 1 lg.sleep(0.005) end end)
    c:send("part")
    s:settimeout(0.1)
    assert.same({ nil, "timeout", "part" }, { s:receive("*l") })
    done = true
    assert.is_true(ticks >= 3, "ticks " .. ticks)
    s:settimeout(0)		-- never parks
    assert.same({ nil, "timeout", "" }, { s:receive(1) })
    c:send("!\n")
    s:settimeout(nil)
    assert.equal("!", s:receive())
    c:close()
    s:close()
  end)

  it("a total timeout ('t') bounds the whole call", function()
    local c, s = pair()
    s:settimeout(5, "b")	-- a byte every 0.03 s: only 't' can end it early
    s:settimeout(0.15, "t")
    c:send("x")
    local feeder = lg.spawn(function()
      for _ = 2, 10 do lg.sleep(0.03) c:send("x") end
    end)
    local d, err, partial = s:receive(100)
    assert.is_nil(d)
    assert.equal("timeout", err)
    -- ended before the 10th byte, sent 0.27 s on at the earliest
    assert.is_true(#partial >= 1 and #partial < 10, #partial .. " bytes")
    feeder:wait()
    c:close()
    s:close()
  end)

  it("send to a peer that never reads times out with the last byte sent", function()
    local c, s = pair()
    c:setoption("send-buffer-size", 4096)
    c:settimeout(0.2)
    local big = ("x"):rep(1024 * 1024)
    local last, err, sent = c:send(big)
    assert.is_nil(last)
    assert.equal("timeout", err)
    assert.is_true(sent > 0 and sent < #big, "sent " .. tostring(sent))
    -- the bytes it says it sent are the ones the peer gets first
    c:close()
    local got = s:receive("*a")
    assert.equal(sent, #got)
    s:close()
  end)

  it("close from another greenthread wakes a blocked receive with 'closed'", function()
    local c, s = pair()
    local reader = lg.spawn(function() return { s:receive("*l") } end)
    lg.sleep(0)
    s:close()
    assert.same({ nil, "closed", "" }, reader:wait())
    c:close()
  end)

  it("a killed reader leaves the socket usable and its buffer intact", function()
    local c, s = pair()
    c:send("hel")
    local reader = lg.spawn(function() return s:receive("*l") end)
    lg.sleep(0.01)
    reader:kill()
    c:send("lo\n")
    assert.equal("lo", s:receive("*l"))	-- "hel" went with the killed call
    c:send("again\n")
    assert.equal("again", s:receive())
    c:close()
    s:close()
  end)

  it("two greenthreads reading one socket at once is an error", function()
    local c, s = pair()
    lg.spawn_n(function() s:receive() end)
    lg.sleep(0)
    assert.has_error(function() s:receive() end,
      "socket is already being read by another greenthread")
    c:send("x\n")
    lg.sleep(0.01)
    c:close()
    s:close()
  end)

  it("a peer reset reads as 'closed'", function()
    local c, s = pair()
    c:setoption("linger", { on = true, timeout = 0 })
    c:close()				-- RST
    local d, err = s:receive()
    assert.is_nil(d)
    assert.equal("closed", err)
    s:close()
  end)

  it("connect: refused, and a timeout against a full backlog", function()
    local srv, port = server()
    srv:close()
    assert.same({ nil, "connection refused", "ECONNREFUSED" }, { lg.connect("127.0.0.1", port) })
    local full = S.tcp()
    assert(full:bind("127.0.0.1", 0))
    assert(full:listen(0))
    local _, fport = full:getsockname()
    local conns, timedout = {}, false
    for _ = 1, 64 do
      local c, err = lg.connect("127.0.0.1", fport, 0.2)
      if not c then assert.equal("timeout", err) timedout = true break end
      conns[#conns + 1] = c
    end
    assert.is_true(timedout)
    for _, c in ipairs(conns) do c:close() end
    full:close()
  end)

  it("options, shutdown, dirty, getstats, getfd and setfd", function()
    local c, s = pair()
    assert.equal(1, c:setoption("tcp-nodelay", true))
    assert.is_true(c:getoption("tcp-nodelay"))
    assert(c:setoption("keepalive", true))
    assert.is_true(c:getoption("keepalive"))
    assert.same({ on = true, timeout = 3 },
      (function() c:setoption("linger", { on = true, timeout = 3 }) return c:getoption("linger") end)())
    assert.has_error(function() c:setoption("no-such", 1) end)
    c:send("ab\ncd")
    assert.equal("ab", s:receive())
    assert.is_true(s:dirty())
    assert.equal("cd", s:receive(2))
    assert.is_false(s:dirty())
    assert.equal(1, c:shutdown("send"))
    assert.same({ nil, "closed", "" }, { s:receive("*a") })
    local r, sent, age = c:getstats()
    assert.equal(0, r)
    assert.equal(5, sent)
    assert.is_true(age >= 0)
    assert.is_true(c:getfd() >= 0)
    local fd = c:getfd()
    c:setfd(-1)				-- detached: not closed
    assert.equal(-1, c:getfd())
    local c2 = S.wrap(fd)
    c2:close()
    s:close()
  end)

  it("bad arguments name the argument", function()
    local c, s = pair()
    assert.has_error(function() s:receive("*x") end,
      "bad argument #1 to 'receive' (invalid receive pattern)")
    assert.has_error(function() lg.connect("127.0.0.1", "x") end,
      "bad argument #2 to 'connect' (number expected)")
    assert.has_error(function() lg.connect({}, 80) end,
      "bad argument #1 to 'connect' (string expected, got table)")
    assert.has_error(function() lg.serve(c, 1) end,
      "bad argument #2 to 'serve' (function expected)")
    c:close()
    s:close()
  end)
end)

describe("lgreen.socket UDP and Unix", function()
  it("sendto/receivefrom, setpeername/setsockname, receive", function()
    local a, b = S.udp(), S.udp()
    assert(a:setsockname("127.0.0.1", 0))
    local aip, aport = a:getsockname()
    assert.equal(3, b:sendto("one", aip, aport))
    local d, ip, port = a:receivefrom()
    assert.equal("one", d)
    assert.equal("127.0.0.1", ip)
    assert(b:setpeername(ip, aport))
    assert.matches("^udp{connected}", tostring(b))
    assert(a:setpeername(ip, port))
    b:send("two")
    assert.equal("two", a:receive())
    a:settimeout(0.05)
    assert.same({ nil, "timeout" }, { a:receive() })
    assert(b:setpeername("*"))
    assert.matches("^udp{unconnected}", tostring(b))
    assert.has_error(function() b:sendto("x", "localhost", 1) end)
    a:close()
    b:close()
  end)

  it("Unix stream sockets", function()
    local path = os.tmpname()
    os.remove(path)
    local srv = S.unix()
    assert(srv:bind(path))
    assert(srv:listen())
    local acc = lg.spawn(function() local s = srv:accept() local l = s:receive() s:close() return l end)
    local c = S.unix()
    assert(c:connect(path))
    c:send("over unix\n")
    assert.equal("over unix", acc:wait())
    c:close()
    srv:close()
    os.remove(path)
  end)
end)

describe("lg.serve", function()
  it("serves concurrently at most concurrency at a time, stops when closed", function()
    local srv, port = server()
    local inflight, peak = 0, 0
    local served = lg.spawn(lg.serve, srv, function(c)
      inflight = inflight + 1
      peak = math.max(peak, inflight)
      local l = c:receive()
      lg.sleep(0.02)
      c:send(l:upper() .. "\n")
      inflight = inflight - 1
    end, 4)
    local pool = lg.GreenPool(10)
    local got = {}
    for i = 1, 10 do
      pool:spawn_n(function()
        local c = assert(lg.connect("127.0.0.1", port))
        c:send("req" .. i .. "\n")
        got[i] = c:receive()
        c:close()
      end)
    end
    pool:waitall()
    srv:close()
    assert.is_true(served:wait())
    for i = 1, 10 do assert.equal("REQ" .. i, got[i]) end
    assert.equal(4, peak)
  end)

  it("a handler error closes that connection, is reported, and serving goes on", function()
    local code, out = H.run([[
      local lg = require "lgreen"
      local srv = assert(lg.listen("127.0.0.1", 0))
      local _, port = srv:getsockname()
      lg.spawn_n(lg.serve, srv, function(c)
        local l = c:receive()
        if l == "boom" then error("handler failed on " .. l) end
        c:send(l .. "!\n")
      end)
      local bad = assert(lg.connect("127.0.0.1", port))
      bad:send("boom\n")
      print("bad:", bad:receive())
      local good = assert(lg.connect("127.0.0.1", port))
      good:send("fine\n")
      print("good:", good:receive())
      srv:close()
    ]])
    assert.equal(0, code, out)
    assert.matches("bad:%s+nil%s+closed", out)
    assert.matches("good:%s+fine!", out)
    assert.matches("uncaught error in greenthread .*handler failed on boom", out)
  end)
end)

describe("no leaks", function()
  it("10,000 connections and kills leave the fd count unchanged", function()
    local n = H.slow and 1000 or 10000
    local srv, port = server()
    lg.spawn_n(lg.serve, srv, function(c)
      local l = c:receive()
      if l then c:send(l .. "\n") end
    end, 200)
    lg.sleep(0)
    collectgarbage()
    local before = H.nfds()
    local pool = lg.GreenPool(100)
    for i = 1, n do
      pool:spawn_n(function()
        local c = assert(lg.connect("127.0.0.1", port, 5))
        if i % 2 == 0 then
          c:send("x\n")
          assert.equal("x", c:receive())
          c:close()
        else
          -- killed while blocked in receive: the socket is closed by its owner
          local t = lg.spawn(function() return c:receive() end)
          lg.sleep(0)
          t:kill()
          c:close()
        end
      end)
    end
    pool:waitall()
    collectgarbage()
    lg.sleep(0.05)
    local after = H.nfds()
    srv:close()
    lg.sleep(0)
    assert.equal(before, after)
  end)
end)

describe("accept at EMFILE", function()
  it("backs off without spinning and recovers when fds free up", function()
    if H.vm ~= "luajit" then return pending("setrlimit through the FFI: LuaJIT only") end
    local code, out = H.run([[
      local ffi = require "ffi"
      ffi.cdef("struct lg_rlimit { unsigned long cur, max; };" ..
        "int setrlimit(int, const struct lg_rlimit *);" ..
        "int getrlimit(int, struct lg_rlimit *);")
      local lg = require "lgreen"
      local srv = assert(lg.listen("127.0.0.1", 0, 64))
      local _, port = srv:getsockname()
      local clients = {}
      for i = 1, 20 do clients[i] = assert(lg.connect("127.0.0.1", port)) end
      local f = io.open("/proc/self/stat")
      local pid = f:read("*n")
      f:close()
      local p = io.popen("ls /proc/" .. pid .. "/fd | wc -l")  -- with its pipe
      local nfd = tonumber(p:read("*a"))
      p:close()
      local lim = ffi.new("struct lg_rlimit")
      assert(ffi.C.getrlimit(7, lim) == 0)
      lim.cur = nfd + 4
      assert(ffi.C.setrlimit(7, lim) == 0)
      local held, total = {}, 0
      lg.spawn_n(function()
        while true do
          local c = srv:accept()
          if not c then return end
          total = total + 1
          held[#held + 1] = c
        end
      end)
      lg.sleep(0.05)
      local first = total
      local cpu0 = os.clock()
      lg.sleep(0.5)                       -- the acceptor is stuck at EMFILE
      local cpu = os.clock() - cpu0
      print("first", first, "cpu", cpu)
      assert(first > 0 and first < 20, "accepted " .. first .. " before EMFILE")
      assert(total == first, "nothing accepted while out of fds")
      assert(cpu < 0.25, "backoff, not a busy loop: cpu " .. cpu)
      local t = lg.Timeout(10)
      while total < 20 do                 -- free fds: it recovers
        for i = #held, 1, -1 do held[i]:close() held[i] = nil end
        lg.sleep(0.05)
      end
      t:cancel()
      print("recovered", total)
      srv:close()
    ]])
    assert.equal(0, code, out)
    assert.matches("recovered%s+20", out)
  end)
end)
