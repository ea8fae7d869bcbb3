-- Name resolution runs the system resolver on a few OS threads per hub and
-- parks only the greenthread that asked.  Slow lookups come from an
-- LD_PRELOAD shim (spec/c/slow_gai.c) in subprocesses.
local lg = require "lgreen"
local R = require "lgreen.resolve"
local H = require "helper"

-- Addresses /etc/hosts gives the name, as a set.
local function hosts_entries(name)
  local set, f = {}, io.open("/etc/hosts")
  if not f then return set end
  for line in f:lines() do
    line = line:gsub("#.*", "")
    local addr, names = line:match("^%s*(%S+)%s+(.*)$")
    if addr then
      for n in names:gmatch("%S+") do
	if n == name then set[addr] = true end
      end
    end
  end
  f:close()
  return set
end

describe("getaddrinfo", function()
  it("resolves localhost from /etc/hosts", function()
    local want = hosts_entries("localhost")
    assert.is_not_nil(next(want), "/etc/hosts names localhost")
    local list = assert(R.getaddrinfo("localhost", 8080))
    assert.is_true(#list >= 1)
    local got = {}
    for _, e in ipairs(list) do
      assert.is_truthy(want[e.addr], e.addr .. " is in /etc/hosts")
      assert.equal(e.addr:find(":") and "inet6" or "inet", e.family)
      assert.equal(8080, e.port)
      assert.equal("stream", e.socktype)
      got[e.addr] = true
    end
    if want["127.0.0.1"] then
      assert.same({ { family = "inet", addr = "127.0.0.1", port = 8080, socktype = "stream" } },
		  assert(R.getaddrinfo("localhost", 8080, { family = "inet" })))
    end
    if want["::1"] then assert.is_true(got["::1"]) end
  end)

  it("answers numeric hosts at once, without parking", function()
    local ran = false
    lg.spawn_n(function() ran = true end)	-- runs at the first park
    assert.same({ { family = "inet", addr = "127.0.0.1", port = 80, socktype = "stream" } },
		R.getaddrinfo("127.0.0.1", 80))
    assert.same({ { family = "inet6", addr = "::1", port = 53, socktype = "dgram" } },
		R.getaddrinfo("::1", "53", { socktype = "dgram" }))
    local any = assert(R.getaddrinfo("*", 0, { passive = true, family = "inet" }))
    assert.same({ family = "inet", addr = "0.0.0.0", port = 0, socktype = "stream" }, any[1])
    local list, err = R.getaddrinfo("::1", 80, { family = "inet" })
    assert.is_nil(list)
    assert.is_string(err)
    assert.is_false(ran)
    lg.sleep(0)
    assert.is_true(ran)
  end)

  it("#slow says 'host not found' under .invalid, or fails", function()
    -- RFC 6761: .invalid never resolves.  Without a reachable DNS server the
    -- resolver may report something else, or time out: all are answers.
    -- (That the timeout option bounds a lookup: the slow lookups below.)
    local list, err = R.getaddrinfo("no-such-host.invalid", 80, { timeout = 10 })
    assert.is_nil(list)
    assert.is_string(err)
  end)

  it("many lookups at once share at most 4 threads and leave nothing behind", function()
    local pool, n = lg.GreenPool(100), 0
    for _ = 1, 50 do
      pool:spawn_n(function()
	local list = assert(R.getaddrinfo("localhost", 1, { family = "inet" }))
	assert.equal("127.0.0.1", list[1].addr)
	n = n + 1
      end)
    end
    local peak = 0
    while n < 50 do
      peak = math.max(peak, R.stats().threads)
      lg.sleep(0.001)
    end
    pool:waitall()
    assert.is_true(peak >= 1 and peak <= 4, "threads: " .. peak)
    local s = R.stats()
    assert.equal(0, s.jobs)
    assert.equal(0, s.queued)
    assert.equal(0, s.waiting)
  end)

  it("a pending lookup keeps run() alive, an idle resolver does not", function()
    local list
    lg.spawn_n(function()	-- no timeout: no timer holds the loop
      list = R.getaddrinfo("localhost", 80, { timeout = math.huge })
    end)
    lg.run()
    assert.is_table(list)
    assert.is_true(R.stats().threads >= 1)	-- idle workers linger ...
    lg.run()				-- ... but run() returns
  end)

  it("rejects bad arguments, naming them", function()
    local function msg(f, ...)
      local ok, err = pcall(f, ...)
      assert.is_false(ok)
      return err
    end
    assert.equal("bad argument #1 to 'getaddrinfo' (string expected, got nil)",
		 msg(R.getaddrinfo))
    assert.equal("bad argument #1 to 'getaddrinfo' (string expected, got number)",
		 msg(R.getaddrinfo, 1, 80))
    assert.equal("bad argument #2 to 'getaddrinfo' (number or string expected, got table)",
		 msg(R.getaddrinfo, "localhost", {}))
    assert.equal("bad argument #2 to 'getaddrinfo' (port must be an integer from 0 to 65535)",
		 msg(R.getaddrinfo, "localhost", 70000))
    assert.equal("bad argument #3 to 'getaddrinfo' (table expected, got string)",
		 msg(R.getaddrinfo, "localhost", 80, "inet"))
    assert.matches("bad argument #3 to 'getaddrinfo' %(family must be",
		   msg(R.getaddrinfo, "localhost", 80, { family = "ipx" }))
    assert.matches("bad argument #3 to 'getaddrinfo' %(socktype must be",
		   msg(R.getaddrinfo, "localhost", 80, { socktype = "raw" }))
    assert.equal("bad argument #3 to 'getaddrinfo' (opts.timeout: seconds expected, got -1)",
		 msg(R.getaddrinfo, "localhost", 80, { timeout = -1 }))
    assert.equal("bad argument #1 to 'toip' (string expected, got nil)", msg(R.toip))
    assert.equal("bad argument #1 to 'tohostname' (string expected, got boolean)",
		 msg(R.tohostname, true))
  end)

  it("is lg.resolve", function()
    assert.equal(R, lg.resolve)
  end)
end)

describe("LuaSocket's dns functions", function()
  it("toip", function()
    local ip, res = R.toip("localhost")
    if hosts_entries("localhost")["127.0.0.1"] then
      assert.equal("127.0.0.1", ip)
      assert.equal("127.0.0.1", res.ip[1])
      assert.is_string(res.name)
      assert.same({}, res.alias)
    end
    assert.equal("10.1.2.3", (R.toip("10.1.2.3")))
    local ip, err = R.toip("::1")	-- IPv4 only
    assert.same({ nil, "host not found" }, { ip, err })
  end)

  it("tohostname", function()
    local name, res = R.tohostname("127.0.0.1")
    assert.is_string(name)
    assert.same({ name = name, alias = {}, ip = { "127.0.0.1" } }, res)
    if hosts_entries("localhost")["127.0.0.1"] then
      assert.equal("127.0.0.1", select(2, R.tohostname("localhost")).ip[1])
    end
  end)

  it("gethostname and numeric", function()
    assert.is_string(R.gethostname())
    assert.equal("inet", R.numeric("127.0.0.1"))
    assert.equal("inet6", R.numeric("fe80::1"))
    assert.is_nil(R.numeric("localhost"))
  end)
end)

describe("#subprocess slow lookups", function()
  local dir, so, gate

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -m 700 " .. dir))
    so = dir .. "/slow_gai.so"
    gate = dir .. "/gate"
    local p = io.popen(H.cc .. " -O1 -Wall -shared -fPIC -o " .. so
		       .. " spec/c/slow_gai.c -ldl 2>&1")
    local out = p:read("*a")
    p:close()
    assert.equal("", out)
  end)

  teardown(function()
    os.remove(gate)
    os.remove(so)
    os.remove(dir)
  end)

  -- H.run with the shim preloaded and extra environment.  Lookups of
  -- "held.slow.test" wait until the child calls open_gate() (or exits):
  -- the spec decides when they answer, no clock does.
  local function run(src, env)
    local lua = H.lua
    os.remove(gate)
    H.lua = (env or "") .. " SLOW_GAI_GATE='" .. gate .. "' LD_PRELOAD='" .. so .. "' " .. lua
    local code, out = H.run([[
      local lg = require "lgreen"
      local R = require "lgreen.resolve"
      local function await(cond, seconds)
        local deadline = lg.now() + seconds
        while not cond() do
          assert(lg.now() < deadline, "await: timed out")
          lg.sleep(0.01)
        end
      end
      local function open_gate() assert(io.open(os.getenv("SLOW_GAI_GATE"), "w")):close() end
      local function close_gate() assert(os.remove(os.getenv("SLOW_GAI_GATE"))) end
      local function stats()
        local s = R.stats()
        return ("threads %d queued %d waiting %d jobs %d"):format(s.threads, s.queued, s.waiting, s.jobs)
      end
    ]] .. src)
    H.lua = lua
    return code, out
  end

  it("a held lookup does not stop other greenthreads; four run at once", function()
    local code, out = run([[
      -- the gate opens once the ticker has run 10 times during the lookup
      local ticks = 0
      lg.spawn_n(function()
        while ticks < 10 do ticks = ticks + 1 lg.sleep(0.001) end
        open_gate()
      end)
      local list = assert(R.getaddrinfo("held.slow.test", 80))
      print("addr", list[1].addr, list[1].port)
      print("ticks", ticks)
      close_gate()
      local n = 0
      for _ = 1, 4 do
        lg.spawn_n(function()
          assert(R.getaddrinfo("held.slow.test", 80))
          n = n + 1
        end)
      end
      -- held, none can finish: all four on the workers at once
      await(function() return stats() == "threads 4 queued 0 waiting 4 jobs 4" end, 30)
      print("four", stats())
      open_gate()
      await(function() return n == 4 end, 30)
      print("answered", n)
    ]])
    assert.equal(0, code, out)
    assert.matches("addr\t127.0.0.1\t80", out)
    assert.matches("ticks\t10\n", out)	-- all before the lookup returned
    assert.matches("four\tthreads 4 queued 0 waiting 4 jobs 4", out)
    assert.matches("answered\t4", out)
  end)

  it("a timeout, a Timeout or a kill abandons the lookup; it is freed later", function()
    local code, out = run([[
      -- held lookups answer only once the gate opens, below
      print("timeout", R.getaddrinfo("held.slow.test", 80, { timeout = 0.1 }))
      print("with_timeout", lg.with_timeout(0.1, R.getaddrinfo, "held.slow.test", 80))
      local gt = lg.spawn(R.getaddrinfo, "held.slow.test", 80)
      await(function() return R.stats().waiting == 1 and R.stats().queued == 0 end, 30)
      gt:kill()				-- while a worker runs it
      print("killed", pcall(gt.wait, gt))
      print("abandoned", stats())
      lg.run()				-- abandoned jobs do not hold the loop:
      print("run", stats())		-- they are still held
      open_gate()
      await(function() return R.stats().jobs == 0 end, 30)
      print("freed", R.stats().jobs)
      -- the workers are free again
      print("after", assert(R.getaddrinfo("10ms.slow.test", 80))[1].addr)
    ]])
    assert.equal(0, code, out)
    assert.matches("timeout\tnil\ttimeout", out)
    assert.matches("with_timeout\tnil\ttimeout", out)
    assert.matches("killed\tfalse\tGreenletExit", out)
    assert.matches("abandoned\tthreads 3 queued 0 waiting 0 jobs 3", out)
    assert.matches("run\tthreads 3 queued 0 waiting 0 jobs 3", out)
    assert.matches("freed\t0", out)
    assert.matches("after\t127.0.0.1", out)
    local _, answered = out:gsub("held.slow.test answered", "")
    assert.equal(3, answered, out)		-- abandoned, yet each answered
  end)

  it("lua_close while lookups are running or queued does not crash", function()
    -- 6 held lookups: 4 on the workers, 2 queued.  The VM closes, then at
    -- exit the shim releases the held ones and waits (atexit) until the
    -- running ones have answered in the closed VM; the queued ones never run.
    local code, out = run([[
      for _ = 1, 6 do lg.spawn_n(R.getaddrinfo, "held.slow.test", 80) end
      await(function() return stats() == "threads 4 queued 2 waiting 6 jobs 6" end, 30)
      print("closing", stats())
    ]], "SLOW_GAI_LINGER_MS=30000")
    assert.equal(0, code, out)
    assert.matches("closing\tthreads 4 queued 2 waiting 6 jobs 6", out)
    local _, answered = out:gsub("held.slow.test answered", "")
    assert.equal(4, answered, out)		-- the 4 running, after close
  end)

  if H.vm == "luajit" then	-- C threads: the same on every VM
    it("#slow idle workers exit after a few seconds", function()
      local code, out = run([[
        assert(R.getaddrinfo("10ms.slow.test", 80))
        print("busy", R.stats().threads)
        await(function() return R.stats().threads == 0 end, 30)
        print("idle", R.stats().threads)
      ]])
      assert.equal(0, code, out)
      assert.matches("busy\t1", out)
      assert.matches("idle\t0", out)
    end)
  end
end)
