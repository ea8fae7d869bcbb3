-- fork(): a child gets a loop and a resolver pool of its own, and the
-- parent keeps its.  Each case runs in a subprocess that forks for real
-- (lua-posix; on Lua 5.4, which Debian ships no lua-posix for, the same
-- calls from spec/c/posix_shim.c).  Parent and child talk over a socketpair
-- with green I/O; the parent waits for the child's one-line report with a
-- timeout and kills it if none comes, so a hang fails the case.
local H = require "helper"

-- qemu-user (7.2) accepts MADV_WIPEONFORK and ignores it: a child cannot
-- tell it was forked (hub.c's fork flag stays set), so there these cases
-- would test the emulator, not lgreen.
local it = H.qemu and function(name)
  pending(name .. ": qemu-user ignores MADV_WIPEONFORK, a child cannot tell it was forked")
end or it

describe("#subprocess fork", function()
  local dir, shim, slow

  local function cc(args)
    local p = io.popen(H.cc .. " -O1 -Wall -shared -fPIC " .. args .. " 2>&1")
    local out = p:read("*a")
    p:close()
    assert.equal("", out)
  end

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -m 700 " .. dir))
    slow = dir .. "/slow_gai.so"
    cc("-o " .. slow .. " spec/c/slow_gai.c -ldl")
    if not pcall(require, "posix.unistd") then
      shim = dir .. "/posix_shim.so"
      cc("-I/usr/include/lua5.4 -o " .. shim .. " spec/c/posix_shim.c")
    end
  end)

  teardown(function()
    os.remove(slow)
    if shim then os.remove(shim) end
    os.remove(dir)
  end)

  -- The calls the cases need, and child(fn) / report(c, seconds).
  local prelude = [[
    local lg = require "lgreen"
    local S = require "lgreen.socket"
    local R = require "lgreen.resolve"
    local P
    if SHIM then
      package.cpath = SHIM .. ";" .. package.cpath
      P = require "posix_shim"
    else
      local unistd, wait = require "posix.unistd", require "posix.sys.wait"
      local sock, signal = require "posix.sys.socket", require "posix.signal"
      P = { fork = unistd.fork, _exit = unistd._exit, wait = wait.wait,
	    kill = signal.kill }
      function P.socketpair()
	return sock.socketpair(sock.AF_UNIX, sock.SOCK_STREAM, 0)
      end
    end
    io.stdout:setvbuf("line")	-- whole lines: stderr writes interleave
    -- Run fn(stream to the parent) in a child, which reports one line.
    -- Both ends stay open on both sides: a process polling an epoll set
    -- shared with the other would see the other's fds ready, and drop them
    -- from the set (they are the same files, and it watches none).
    local function child(fn)
      local a, b = assert(P.socketpair())
      local pid = assert(P.fork())
      if pid == 0 then
	local s = S.wrap(b)
	local ok, msg = pcall(fn, s)
	s:settimeout(10)
	s:send((ok and "ok " or "error ") .. (tostring(msg):gsub("\n", " | ")) .. "\n")
	P._exit(ok and 0 or 1)
      end
      return { pid = pid, s = S.wrap(a) }
    end
    -- The child's report within seconds; none: it hung, kill it.
    local function report(c, seconds)
      c.s:settimeout(seconds)
      local line, err = c.s:receive("*l")
      if not line then P.kill(c.pid, 9) end
      local _, how, code = P.wait(c.pid)
      return line or ("no report (" .. tostring(err) .. "): child "
		      .. tostring(how) .. " " .. tostring(code))
    end
  ]]

  local function run(src, env)
    local lua = H.lua
    H.lua = "timeout -s KILL 120 env " .. (env or "") .. " " .. lua
    local code, out = H.run("local SHIM = " .. (shim and ("%q"):format(shim) or "nil")
			    .. "\n" .. prelude .. src)
    H.lua = lua
    return code, out
  end

  it("a lookup before fork: the next lookups in child and parent answer", function()
    local code, out = run([[
      -- The pool has an idle worker waiting on its condition variable.
      local first = assert(R.getaddrinfo("localhost", 80))[1].addr
      local c = child(function()
	return assert(R.getaddrinfo("localhost", 80))[1].addr
      end)
      print("parent", assert(R.getaddrinfo("localhost", 80))[1].addr == first)
      print("child", report(c, 20) == "ok " .. first)
    ]])
    assert.equal(0, code, out)
    assert.matches("parent\ttrue\nchild\ttrue\n", out, 1, true)
  end)

  it("a hub used before fork: timers, sockets and lookups work on both sides", function()
    local code, out = run([[
      local ev = lg.Event()
      lg.spawn_n(function() lg.sleep(0.05) ev:send("timer") end)
      assert(R.getaddrinfo("localhost", 80))
      -- Both sides: a timer set before the fork fires, a Timeout fires,
      -- a TCP connection to a listener of their own echoes.
      local function work()
	assert(ev:wait() == "timer")
	local t = lg.Timeout(0.01)
	local ok, e = pcall(lg.sleep, 10)
	assert(not ok and e == t, "the Timeout did not fire")
	local srv = assert(S.listen("127.0.0.1", 0))
	local _, port = srv:getsockname()
	lg.spawn_n(function()
	  local cl = assert(srv:accept())
	  cl:send(assert(cl:receive("*l")) .. "!\n")
	  cl:close()
	end)
	local cl = assert(S.connect("127.0.0.1", port))
	cl:send("echo\n")
	local line = assert(cl:receive("*l"))
	cl:close()
	srv:close()
	return line
      end
      local c = child(function(s)
	local line = work()
	-- Idle on the hub until the parent is done with its lookups: a
	-- shared epoll set would take the wake-ups of the parent's pool.
	s:settimeout(60)
	assert(s:receive("*l") == "done")
	return line
      end)
      print("parent", work())
      for i = 1, 20 do
	assert(R.getaddrinfo("localhost", 80, { timeout = 10 }))
      end
      print("lookups", 20)
      c.s:send("done\n")
      print("child", report(c, 20))
    ]])
    assert.equal(0, code, out)
    assert.matches("parent\techo!\nlookups\t20\nchild\tok echo!\n", out, 1, true)
  end)

  it("a socketpair between parent and child, green I/O on both sides; a greenthread parked at the fork goes on in the child", function()
    local code, out = run([[
      local a, b = assert(P.socketpair())
      local x, y = S.wrap(a), S.wrap(b)
      local reader = lg.spawn(function() return x:receive("*l") end)
      lg.sleep(0)				-- it waits on x now
      local rounds = 50
      local c = child(function(s)
	assert(y:send("for the child\n"))
	local line = reader:wait()
	s:settimeout(20)
	for i = 1, rounds do
	  local l = assert(s:receive("*l"))
	  assert(l == "ping " .. i, l)
	  assert(s:send("pong " .. i .. "\n"))
	end
	return line
      end)
      reader:kill()				-- the parent's copy leaves x alone
      c.s:settimeout(20)
      local n = 0
      for i = 1, rounds do
	assert(c.s:send("ping " .. i .. "\n"))
	if c.s:receive("*l") == "pong " .. i then n = n + 1 end
      end
      print("pongs", n == rounds)
      print("child", report(c, 20))
    ]])
    assert.equal(0, code, out)
    assert.matches("pongs\ttrue\nchild\tok for the child\n", out, 1, true)
  end)

  it("a signal handler set before fork runs in each process for its own signals", function()
    local code, out = run([[
      local got = lg.Queue()
      lg.signal("USR1", function() got:put(lg.process.getpid()) end)
      local function selfsignal()
	assert(lg.process.kill(lg.process.getpid(), "USR1"))
	local pid = lg.with_timeout(10, got.get, got)
	return pid == lg.process.getpid()
      end
      local c = child(selfsignal)
      print("parent", selfsignal())
      print("child", report(c, 20))
    ]])
    assert.equal(0, code, out)
    assert.matches("parent\ttrue\nchild\tok true\n", out, 1, true)
  end)

  it("a fork while lookups are in flight: they answer in both processes", function()
    local code, out = run([[
      local gts = {}
      for i = 1, 3 do
	gts[i] = lg.spawn(function()
	  return assert(R.getaddrinfo("300ms.slow.test", 80))[1].addr
	end)
      end
      repeat lg.sleep(0) until R.stats().waiting == 3
      local function answers()
	local t = {}
	for i = 1, #gts do t[i] = gts[i]:wait() end
	return table.concat(t, " ")
      end
      local c = child(answers)
      print("parent", answers())
      print("child", report(c, 20))
    ]], "LD_PRELOAD='" .. (os.getenv("LD_PRELOAD") or "") .. " " .. slow .. "'")
    assert.equal(0, code, out)
    assert.matches("parent\t127.0.0.1 127.0.0.1 127.0.0.1\n", out, 1, true)
    assert.matches("child\tok 127.0.0.1 127.0.0.1 127.0.0.1\n", out, 1, true)
  end)
end)
