-- lgreen.workers and lg.serve(..., { workers = n }): a master and its
-- worker processes.  Each case runs a master in a child interpreter and
-- synchronises on the lines it and its workers print (a worker's main says
-- "ready <id> <pid> <port>") and on pids, never on sleeps; every wait is
-- bounded, and a master still running at the end of a case is killed.
local lg = require "lgreen"
local S = require "lgreen.socket"
local H = require "helper"
local process = lg.process

local BOUND = 30	-- seconds any one expected event may take: else it hung

-- The master running src: m.pid, m:line(pattern) (the next stdout line
-- matching it, its captures), m:errline(pattern) (the same on stderr),
-- m:wait() -> code, how.  Lines not matched are kept in m.out / m.err.
local function master(src)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write("io.stdout:setvbuf('line')\n", src)
  f:close()
  local p = assert(process.spawn({ H.lua, script }, {
    stdout = "pipe", stderr = "pipe", env = H.childenv() }))
  local m = { p = p, pid = p.pid, script = script, out = {}, err = {},
	      qout = lg.Queue(), qerr = lg.Queue() }
  local function pump(s, q)
    while true do
      local l = s:receive("*l")
      q:put(l or false)
      if not l then return end
    end
  end
  lg.spawn_n(pump, p.stdout, m.qout)
  lg.spawn_n(pump, p.stderr, m.qerr)
  local function expect(q, log, pattern)
    while true do
      local l, e = lg.with_timeout(BOUND, q.get, q)
      if l == nil then error("no line matching '" .. pattern .. "' (" .. tostring(e) .. "); saw:\n"
			     .. table.concat(m.out, "\n") .. "\n--\n" .. table.concat(m.err, "\n"), 2) end
      if l == false then
	q:put(false)
	error("output ended before a line matching '" .. pattern .. "'; saw:\n"
	      .. table.concat(m.out, "\n") .. "\n--\n" .. table.concat(m.err, "\n"), 2)
      end
      log[#log + 1] = l
      if l:match(pattern) then return l:match(pattern) end
    end
  end
  function m:line(pattern) return expect(self.qout, self.out, pattern) end
  function m:errline(pattern) return expect(self.qerr, self.err, pattern) end
  function m:wait()
    local code, how = p:wait(BOUND)
    if code == nil then p:kill("KILL") p:wait() end
    return code, how
  end
  function m:close()
    if p:poll() == nil then p:kill("KILL") p:wait() end
    os.remove(script)
  end
  return m
end

-- Is pid a live process (not gone, not a zombie)?
local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local s = f:read("*a")
  f:close()
  return s:match("^%d+ %b() (%a)") ~= "Z"
end

-- Wait until pid is gone (bounded): the event is its death, where nothing
-- prints a line for it (a master killed with SIGKILL, a worker draining
-- after SIGHUP).  Where the master has reaped it (its exit, or the line
-- of the worker that replaced it), the specs assert not alive(pid) at once.
local function gone(pid)
  local t0 = lg.now()
  while alive(pid) do
    if lg.now() - t0 > BOUND then return false end
    lg.sleep(0.01)
  end
  return true
end

-- One request: the answer line of whatever worker takes the connection.
local function ask(port, msg)
  local c, err = S.connect("127.0.0.1", port, BOUND)
  if not c then return nil, err end
  c:settimeout(BOUND)
  c:send((msg or "hi") .. "\n")
  local l, e = c:receive("*l")
  c:close()
  return l, e
end

-- The worker main most cases run: says ready, answers each line with its pid.
local PRELUDE = [[
local lg = require "lgreen"
local workers = require "lgreen.workers"
local getpid = lg.process.getpid
local function answer(c)
  local l = c:receive("*l")
  if l then c:send(getpid() .. "\n") end
end
local function main(id, sockets)
  local pid = getpid()
  local _, port = sockets[1]:getsockname()
  print("ready", id, pid, port)
  assert(lg.serve(sockets[1], answer))
end
]]

describe("#subprocess workers", function()
  it("N workers all accept: more than one pid answers 200 connections (lg.serve, an inherited socket)", function()
    local m = master [[
      local lg = require "lgreen"
      local srv = assert(lg.listen("127.0.0.1", 0))
      print("port", (select(2, srv:getsockname())))
      print("master", lg.serve(srv, function(c)
	if c:receive("*l") then c:send(lg.process.getpid() .. "\n") end
      end, { workers = 2 }))
    ]]
    local port = tonumber(m:line("^port\t(%d+)$"))
    local pids, n = {}, 0
    for _ = 1, 200 do
      local l = assert(ask(port))
      local pid = tonumber(l)
      if not pids[pid] then pids[pid], n = true, n + 1 end
    end
    assert.is_nil(pids[m.pid])		-- the master accepts nothing
    assert.is_true(n > 1, "one pid answered every connection")
    assert(m.p:kill("TERM"))
    m:line("^master\ttrue$")
    local code, how = m:wait()
    assert.same({ 0, "exit" }, { code, how })
    for pid in pairs(pids) do assert.is_false(alive(pid), "worker " .. pid .. " still runs") end
    m:close()
  end)

  it("SO_REUSEPORT slots spread 200 connections; a worker killed with SIGKILL is reported and replaced", function()
    local m = master(PRELUDE .. [[
      print("master", workers.run { n = 2, listen = { "127.0.0.1:0" }, main = main })
    ]])
    local ids = {}
    local id, pid, port = m:line("^ready\t(%d)\t(%d+)\t(%d+)$")
    ids[tonumber(id)] = tonumber(pid)
    id, pid = m:line("^ready\t(%d)\t(%d+)\t" .. port .. "$")
    ids[tonumber(id)] = tonumber(pid)
    assert.is_number(ids[1])
    assert.is_number(ids[2])
    local seen = {}
    for _ = 1, 200 do seen[tonumber(assert(ask(port)))] = true end
    assert.is_true(seen[ids[1]] and seen[ids[2]], "both workers answer")
    -- Kill worker 2: the master says so and starts another in its slot.
    assert(process.kill(ids[2], "KILL"))
    local what = m:errline("^lgreen: worker 2 %(pid " .. ids[2] .. "%) (.*)$")
    assert.equal("killed by SIGKILL; restarting in 0.1 s", what)
    local nid, npid = m:line("^ready\t(%d)\t(%d+)\t" .. port .. "$")
    npid = tonumber(npid)
    assert.equal("2", nid)
    assert.are_not.equal(ids[2], npid)
    assert.is_false(alive(ids[2]))
    -- The new worker answers: its slot's socket outlived the old one.
    local fresh = {}
    for _ = 1, 200 do fresh[tonumber(assert(ask(port)))] = true end
    assert.is_true(fresh[npid], "the new worker answers")
    assert.is_nil(fresh[ids[2]])
    assert(m.p:kill("TERM"))
    m:line("^master\ttrue$")
    assert.same({ 0, "exit" }, { m:wait() })
    assert.is_false(alive(ids[1]))
    assert.is_false(alive(npid))
    m:close()
  end)

  it("SIGTERM with 50 slow requests in flight: all complete, the master exits 0", function()
    local m = master [[
      local lg = require "lgreen"
      local workers = require "lgreen.workers"
      local srv = assert(lg.listen("127.0.0.1", 0, 128))
      print("port", (select(2, srv:getsockname())))
      print("master", lg.serve(srv, function(c)
	local pid = lg.process.getpid()
	local l = c:receive("*l")
	print("in", pid)
	-- slow: answered only once this worker has been told to stop
	assert(workers.stopping:wait(60))
	c:send("done " .. l .. " " .. pid .. "\n")
      end, { workers = 2, grace = 60 }))
    ]]
    local port = tonumber(m:line("^port\t(%d+)$"))
    local clients, pids = {}, {}
    for i = 1, 50 do
      local c = assert(S.connect("127.0.0.1", port, BOUND))
      c:settimeout(BOUND)
      assert(c:send(i .. "\n"))
      clients[i] = c
    end
    for _ = 1, 50 do pids[tonumber(m:line("^in\t(%d+)$"))] = true end
    assert(m.p:kill("TERM"))
    local done = 0
    for i = 1, 50 do
      local l = clients[i]:receive("*l")
      if l and l:match("^done " .. i .. " %d+$") then done = done + 1 end
      clients[i]:close()
    end
    assert.equal(50, done)
    m:line("^master\ttrue$")
    assert.same({ 0, "exit" }, { m:wait() })
    for pid in pairs(pids) do assert.is_false(alive(pid)) end
    -- the master closed the socket at the stop: nothing listens there now
    local c, err = S.connect("127.0.0.1", port)
    assert.is_nil(c)
    assert.equal("connection refused", err)
    m:close()
  end)

  it("SIGHUP under a steady client loop: new workers take over, no connection is refused", function()
    local m = master(PRELUDE .. [[
      print("master", workers.run { n = 2, listen = { "127.0.0.1:0" }, main = main })
    ]])
    local old, port = {}, nil
    for _ = 1, 2 do
      local _, pid, p = m:line("^ready\t(%d)\t(%d+)\t(%d+)$")
      old[tonumber(pid)], port = true, p
    end
    local answered, failures, stop = {}, {}, false
    local nanswers, steady = 0, lg.Event()
    local client = lg.spawn(function()
      while not stop do
	local l, err = ask(port)
	if l then
	  answered[tonumber(l)] = true
	  nanswers = nanswers + 1
	  if nanswers == 20 then steady:send(true) end
	else
	  failures[#failures + 1] = err
	end
      end
    end)
    assert(steady:wait(BOUND))		-- the loop runs: then the HUP
    assert(m.p:kill("HUP"))
    local fresh = {}
    for _ = 1, 2 do
      local _, pid = m:line("^ready\t(%d)\t(%d+)\t" .. port .. "$")
      fresh[tonumber(pid)] = true
    end
    for pid in pairs(old) do assert.is_true(gone(pid), "an old worker still runs") end
    -- the new workers answer the loop
    local t0 = lg.now()
    local function both()
      for pid in pairs(fresh) do if not answered[pid] then return false end end
      return true
    end
    while not both() and lg.now() - t0 < BOUND do lg.sleep(0.01) end
    stop = true
    client:wait()
    assert.is_true(both(), "a new worker never answered")
    assert.same({}, failures)
    assert.is_true(nanswers > 0)
    assert(m.p:kill("TERM"))
    m:line("^master\ttrue$")
    assert.same({ 0, "exit" }, { m:wait() })
    for pid in pairs(fresh) do assert.is_false(alive(pid)) end
    m:close()
  end)

  it("nothing outlives a master killed with SIGKILL", function()
    local m = master(PRELUDE .. [[
      workers.run { n = 2, listen = { "127.0.0.1:0" }, main = main }
    ]])
    local pids = {}
    for _ = 1, 2 do pids[#pids + 1] = tonumber((select(2, m:line("^ready\t(%d)\t(%d+)\t(%d+)$")))) end
    assert(m.p:kill("KILL"))
    assert.same({ 9, "signal" }, { m:wait() })
    for _, pid in ipairs(pids) do assert.is_true(gone(pid), "worker " .. pid .. " outlived its master") end
    m:close()
  end)

  it("a worker's uncaught errors name it: a greenthread's, and main's, which restarts it", function()
    local flag = os.tmpname()	-- exists: the first worker's main fails
    local m = master(PRELUDE .. ([[
      print("master", workers.run { n = 1, listen = { "127.0.0.1:0" }, main = function(id, sockets)
	lg.spawn_n(function() error("oops in a greenthread") end)
	if os.remove(%q) then
	  lg.sleep(0)
	  error("main failed")
	end
	return main(id, sockets)
      end })
    ]]):format(flag))
    local pid = m:errline("^lgreen: worker 1 %(pid (%d+)%): uncaught error in greenthread .* spawned at ")
    m:errline("oops in a greenthread")
    local p2 = m:errline("^lgreen: worker 1 %(pid (%d+)%) failed: .*main failed")
    assert.equal(pid, p2)
    m:errline("^lgreen: worker 1 %(pid " .. pid .. "%) exited with status 1; restarting in 0%.1 s$")
    local npid = m:line("^ready\t1\t(%d+)")
    assert.are_not.equal(pid, npid)
    assert(m.p:kill("TERM"))
    m:line("^master\ttrue$")
    assert.same({ 0, "exit" }, { m:wait() })
    m:close()
  end)

  it("README's lg.serve example runs as printed: a worker answers, SIGTERM ends it with true", function()
    local readme = H.read("README.md")
    local src = assert(readme:match("## Using every core.-```lua\n(.-)```"))
    -- Hold a port: bound with SO_REUSEPORT, not listening, so nothing
    -- else takes it and the master can bind it too.
    local hold = assert(S.tcp4())
    assert(hold:setoption("reuseport", true))
    assert(hold:bind("127.0.0.1", 0))
    local _, port = hold:getsockname()
    local m = master("arg = { " .. port .. " }\n" .. src)
    local c, err
    local t0 = lg.now()
    repeat		-- until the master listens: connect is the event
      c, err = S.connect("127.0.0.1", port, BOUND)
      if not c then lg.sleep(0.01) end
    until c or lg.now() - t0 > BOUND
    assert(c, err)
    c:settimeout(BOUND)
    c:send("hello\n")
    local id, pid = assert(c:receive("*l")):match("^worker (%d+) %(pid (%d+)%): hello$")
    c:close()
    assert.is_true(tonumber(id) >= 1 and tonumber(id) <= lg.workers.ncpu())
    assert(m.p:kill("TERM"))
    m:line("^true\tnil$")
    assert.same({ 0, "exit" }, { m:wait() })
    assert.is_false(alive(tonumber(pid)))
    hold:close()
    m:close()
  end)

  it("a worker that overruns grace is killed; run returns nil and says so", function()
    local m = master(PRELUDE .. [[
      print("master", workers.run { n = 1, grace = 0.2, listen = {}, main = function(id)
	print("ready", id, getpid(), 0)
	lg.sleep(1e6)		-- ignores workers.stopping
      end })
    ]])
    local pid = m:line("^ready\t1\t(%d+)")
    assert(m.p:kill("TERM"))
    m:errline("^lgreen: worker 1 %(pid " .. pid .. "%) still running 0%.2 s after SIGTERM; killing it$")
    local what = m:line("^master\tnil\t(.*)$")
    assert.equal("worker 1 (pid " .. pid .. ") killed 0.2 s after SIGTERM", what)
    assert.same({ 0, "exit" }, { m:wait() })
    assert.is_false(alive(tonumber(pid)))
    m:close()
  end)

  it("fork safety under workers: the master's resolver pool and loop, then lookups, timers and I/O in each worker", function()
    local m = master [[
      local lg = require "lgreen"
      local workers = require "lgreen.workers"
      -- "localhost:0" is looked up by the master's resolver pool
      print("master", workers.run { n = 2, listen = { "localhost:0" }, main = function(id, sockets)
	local addr = assert(lg.resolve.getaddrinfo("localhost", 80))[1].addr
	local t = lg.spawn(function() lg.sleep(0.01) return "timer" end)
	-- a listener of its own (one of the shared ones may hash a
	-- connection to the other worker), and a connection to it
	local srv = assert(lg.listen("127.0.0.1", 0))
	local _, port = srv:getsockname()
	lg.spawn_n(function()
	  local c = assert(lg.connect("localhost", port))
	  c:send("x\n")
	  c:close()
	end)
	local c = assert(srv:accept())
	print("worker", id, addr, t:wait(), c:receive("*l"))
      end })
    ]]
    for _ = 1, 2 do
      local addr, timer, line = m:line("^worker\t%d\t(%S+)\t(%a+)\t(%a+)$")
      assert.is_truthy(addr == "127.0.0.1" or addr == "::1", addr)
      assert.equal("timer", timer)
      assert.equal("x", line)
    end
    m:line("^master\ttrue$")
    assert.same({ 0, "exit" }, { m:wait() })
    m:close()
  end)

  it("a worker whose main returns is done: not replaced; run returns once all are", function()
    local m = master [[
      local lg = require "lgreen"
      local workers = require "lgreen.workers"
      print("master", workers.run { n = 3, main = function(id)
	print("worker", id, workers.id, lg.process.getpid())
      end })
    ]]
    local ids = {}
    for _ = 1, 3 do
      local id, wid = m:line("^worker\t(%d)\t(%d)\t%d+$")
      assert.equal(id, wid)
      ids[#ids + 1] = tonumber(id)
    end
    table.sort(ids)
    assert.same({ 1, 2, 3 }, ids)
    m:line("^master\ttrue$")
    assert.same({ 0, "exit" }, { m:wait() })
    assert.same({}, m.err)
    m:close()
  end)
end)

describe("workers: arguments", function()
  local workers = require "lgreen.workers"
  local function main() end

  it("refuse bad input before forking, naming the argument", function()
    assert.has_error(function() workers.run { n = 0, main = main } end,
      "bad argument #1 to 'run' (opts.n: positive integer or \"auto\" expected, got 0)")
    assert.has_error(function() workers.run { n = 2 } end,
      "bad argument #1 to 'run' (opts.main: function expected, got nil)")
    assert.has_error(function() workers.run { n = 2, main = main, nn = 3 } end,
      "bad argument #1 to 'run' (unknown option 'nn')")
    assert.has_error(function() workers.run { n = 1, main = main, listen = { 8080 } } end,
      "bad argument #1 to 'run' (opts.listen[1]: \"host:port\" or a listening socket expected, got number)")
    assert.has_error(function() workers.run { n = 1, main = main, listen = { "8080" } } end,
      "bad argument #1 to 'run' (opts.listen[1]: \"host:port\" expected, got \"8080\")")
    assert.has_error(function() workers.run { n = 1, main = main, grace = -1 } end,
      "bad argument #1 to 'run' (opts.grace: seconds expected, got -1)")
    assert.has_error(function() lg.serve("127.0.0.1:0", main, { workers = "many" }) end,
      "bad argument #3 to 'serve' (opts.workers: positive integer or \"auto\" expected, got many)")
    assert.has_error(function() lg.serve("127.0.0.1:0", main, { worker = 2 }) end,
      "bad argument #3 to 'serve' (unknown option 'worker')")
    assert.has_error(function() lg.serve(S.tcp(), main, { backlog = 10 }) end,
      "bad argument #3 to 'serve' (opts.backlog needs an address (a socket listens already))")
    assert.has_error(function() lg.serve(42, main, { workers = 2 }) end,
      "bad argument #1 to 'serve' (address: \"host:port\" or a listening socket expected, got number)")
  end)

  it("an address in use: nil and the error, before any fork", function()
    local srv = assert(S.listen("127.0.0.1", 0))
    local _, port = srv:getsockname()
    local ok, err = lg.serve("127.0.0.1:" .. port, main, { workers = 2 })
    assert.is_nil(ok)
    assert.matches("^127%.0%.0%.1:" .. port .. ": address already in use", err)
    srv:close()
  end)

  it("without workers, an address is bound for this process alone (no SO_REUSEPORT sharing)", function()
    local hold = assert(S.tcp4())
    assert(hold:setoption("reuseport", true))
    assert(hold:bind("127.0.0.1", 0))
    local _, port = hold:getsockname()
    -- (bound, it would serve: the bound turns that into a failure)
    local ok, err = lg.with_timeout(BOUND, lg.serve, "127.0.0.1:" .. port, main)
    assert.is_nil(ok)
    assert.matches("address already in use", err, 1, true)
    hold:close()
  end)

  it("\"auto\" is the number of CPUs online", function()
    local p = io.popen("getconf _NPROCESSORS_ONLN")
    local n = tonumber(p:read("*a"))
    p:close()
    assert.equal(n, workers.ncpu())
  end)
end)
