-- Subprocesses: spawn with green pipes, wait through a pidfd (or polling),
-- kill, run().  Every wait parks only its greenthread.
local lg = require "lgreen"
local H = require "helper"
local process = lg.process
local core = require "lgreen.core"

-- Children of this process in state Z (zombies), from /proc.
local function zombies()
  local me, n = H.pid(), 0
  local p = io.popen("ls /proc")
  local pids = p:read("*a")
  p:close()
  for pid in pids:gmatch("%d+") do
    local f = io.open("/proc/" .. pid .. "/stat")
    local stat = f and f:read("*a")
    if f then f:close() end
    local state, ppid = (stat or ""):match("%) (%a) (%d+)")
    if state == "Z" and tonumber(ppid) == me then n = n + 1 end
  end
  return n
end

-- This process's open fds, listed (for a failure message).
local function fdlist()
  local p = io.popen("ls -l /proc/" .. H.pid() .. "/fd")
  local s = p:read("*a")
  p:close()
  return s
end

-- Open fds, after collecting what is garbage (streams close in __gc).
-- Counted with lfs where it is installed: H.nfds counts through io.popen,
-- and now and then sees the popen pipe's other end before the parent has
-- closed it (one fd too many under load).
local has_lfs, lfs = pcall(require, "lfs")
local function nfds()
  H.collect()
  if not has_lfs then return H.nfds() end
  local n = -1				-- the directory's own fd
  for e in lfs.dir("/proc/self/fd") do
    if e ~= "." and e ~= ".." then n = n + 1 end
  end
  return n
end

-- A start line for n children (shell scripts: sh -c gate.script(...)
-- gate.dir i).  Each child creates the file dir/i as it starts, then reads
-- its stdin (gate.stdin: a pipe that nobody writes to) until release()
-- ends the cat at the other end.  So none can exit before release(), and
-- once started() == n, all n children were alive at once.
local function gate(n)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -m 700 " .. dir))
  local cat = assert(process.spawn({ "cat" }, { stdin = "pipe", stdout = "pipe" }))
  local g = { dir = dir, stdin = cat.stdout }
  function g.script(after) return ': > "$0/$1"; read x; ' .. after end
  function g.started()
    local k = 0
    for i = 1, n do
      local f = io.open(dir .. "/" .. i)
      if f then f:close(); k = k + 1 end
    end
    return k
  end
  function g.release()
    cat.stdin:close()
    assert.same({ 0, "exit" }, { cat:wait() })
    cat:close()
    for i = 1, n do os.remove(dir .. "/" .. i) end
    os.remove(dir)
  end
  return g
end

describe("process", function()
  it("is callable: process(argv, opts) spawns", function()
    local p = assert(process({ "true" }))
    assert.is_number(p.pid)
    assert.equal(p.pid, (core.process.info(p.child)))
    assert.same({ 0, "exit" }, { p:wait() })
  end)

  it("reports the exit code", function()
    local p = assert(process.spawn({ "sh", "-c", "exit 7" }))
    assert.same({ 7, "exit" }, { p:wait() })
    assert.same({ 7, "exit" }, { p:wait() })		-- again: the same
    assert.same({ 7, "exit" }, { p:poll() })
  end)

  it("reports the signal that ended it, and kill after reaping refuses", function()
    local p = assert(process.spawn({ "sleep", "30" }))
    assert.is_nil(p:poll())
    assert.same({ nil, "timeout" }, { p:wait(0.01) })
    assert.is_true(p:kill())				-- SIGTERM by default
    assert.same({ 15, "signal" }, { p:wait() })
    local ok, err = p:kill("KILL")
    assert.is_nil(ok)
    assert.equal("No such process", err)
    local q = assert(process.spawn({ "sleep", "30" }))
    assert.is_true(q:kill("SIGKILL"))
    assert.same({ 9, "signal" }, { q:wait() })
  end)

  it("captures stdout and stderr through green pipes", function()
    local p = assert(process.spawn({ "sh", "-c", "echo out; echo err >&2" },
      { stdout = "pipe", stderr = "pipe" }))
    assert.equal("out\n", p.stdout:receive("*a"))
    assert.equal("err\n", p.stderr:receive("*a"))
    assert.same({ 0, "exit" }, { p:wait() })
    p:close()
  end)

  it("stderr = 'stdout' merges them; 'null' discards", function()
    local out = process.run({ "sh", "-c", "echo a; echo b >&2" }, { stderr = "stdout" })
    assert.equal("a\nb\n", out)
    local o, e, code = process.run({ "sh", "-c", "echo a; echo b >&2" },
      { stdout = "null" })
    assert.same({ nil, "b\n", 0 }, { o, e, code })
  end)

  it("writes stdin; closing it is EOF for the child", function()
    local p = assert(process.spawn({ "tr", "a-z", "A-Z" }, { stdin = "pipe", stdout = "pipe" }))
    p.stdin:send("hello ")
    p.stdin:send("world\n")
    p.stdin:close()
    assert.equal("HELLO WORLD\n", p.stdout:receive("*a"))
    assert.same({ 0, "exit" }, { p:wait() })
    p:close()
    local out, err, code, how = process.run({ "cat" }, { input = ("x"):rep(200000) })
    assert.equal(200000, #out)				-- more than a pipe holds
    assert.same({ "", 0, "exit" }, { err, code, how })
  end)

  it("takes an fd number or a stream for a stdio stream (pipelines)", function()
    local name = os.tmpname()
    local f = assert(io.open(name, "w"))
    f:write("from a file\n")
    f:close()
    local p = assert(process.spawn({ "cat" }, { stdout = "pipe", stdin = "null" }))
    assert.same({ nil, "closed", "" }, { p.stdout:receive("*a") })	-- no output
    p:wait()
    p:close()
    -- cat file | tr: the child gets a blocking fd though ours is not,
    -- and it must not read EAGAIN before cat has written
    local src = assert(process.spawn({ "sh", "-c", "sleep 0.05; cat " .. name }, { stdout = "pipe" }))
    local dst = assert(process.spawn({ "tr", "a-z", "A-Z" }, { stdin = src.stdout, stdout = "pipe" }))
    src.stdout:close()				-- dst holds the read end now
    assert.equal("FROM A FILE\n", dst.stdout:receive("*a"))
    assert.same({ 0, "exit" }, { dst:wait() })
    assert.same({ 0, "exit" }, { src:wait() })
    dst:close()
    -- the same with the fd number
    src = assert(process.spawn({ "sh", "-c", "sleep 0.05; cat " .. name }, { stdout = "pipe" }))
    local fd = src.stdout:getfd()
    assert.equal("FROM A FILE\n", (process.run({ "tr", "a-z", "A-Z" }, { stdin = fd })))
    src:wait()
    src:close()
    assert.has_error(function() process.spawn({ "cat" }, { stdin = src.stdout }) end,
      "bad argument #2 to 'spawn' (opts.stdin: stream is closed)")
    os.remove(name)
  end)

  it("sets the environment and the working directory", function()
    local out = process.run({ "sh", "-c", "echo \"$A|$B|$HOME\"; pwd" },
      { env = { A = "one", B = 2 }, cwd = "/" })
    assert.equal("one|2|\n/\n", out)
    -- inherited by default
    out = process.run({ "sh", "-c", "echo \"$PATH\"" })
    assert.equal(os.getenv("PATH") .. "\n", out)
  end)

  it("reports exec failure as nil, err (not as exit 127)", function()
    if H.valgrind or H.qemu then
      return pending((H.qemu and "qemu-user" or "valgrind")
        .. " runs vfork as fork: posix_spawn cannot see the exec fail")
    end
    local p, err, name = process.spawn({ "lgreen-no-such-command" })
    assert.is_nil(p)
    assert.equal("No such file or directory", err)
    assert.equal("ENOENT", name)
    p, err = process.spawn({ "/etc/passwd" })		-- not executable
    assert.is_nil(p)
    assert.equal("Permission denied", err)
    p, err = process.spawn({ "true" }, { cwd = "/no/such/dir" })
    assert.is_nil(p)
    assert.equal("No such file or directory", err)
    assert.same({ nil, "No such file or directory", "ENOENT" },
      { process.run({ "lgreen-no-such-command" }) })
  end)

  it("runs a string through /bin/sh -c with opts.shell", function()
    local out, _, code = process.run("echo $((6 * 7)); exit 3", { shell = true })
    assert.same({ "42\n", 3 }, { out, code })
  end)

  it("rejects bad arguments, naming them", function()
    assert.has_error(function() process.spawn("ls -l") end,
      "bad argument #1 to 'spawn' (argv table expected, got string (set opts.shell = true to run it through /bin/sh -c))")
    assert.has_error(function() process("ls") end)
    assert.has_error(function() process.spawn({}) end, "bad argument #1 to 'spawn' (argv is empty)")
    assert.has_error(function() process.spawn({ "ls", {} }) end,
      "bad argument #1 to 'spawn' (argv[2] is a table, not a string)")
    assert.has_error(function() process.spawn({ "ls" }, { stdout = "file" }) end,
      "bad argument #2 to 'spawn' (opts.stdout: \"pipe\", \"inherit\", \"null\", an fd or a stream expected)")
    assert.has_error(function() process.spawn({ "ls" }, { env = { 1 } }) end,
      "bad argument #2 to 'spawn' (opts.env: keys must be variable names)")
    assert.has_error(function() process.run({ "ls" }, { timeout = "x" }) end,
      "bad argument #2 to 'run' (opts.timeout: seconds expected, got string)")
    assert.has_error(function() process.spawn({ "ls" }, { shell = true }) end)
    local p = assert(process.spawn({ "true" }))
    assert.has_error(function() p:kill("SIGNOPE") end, "bad argument #1 to 'kill' (unknown signal 'SIGNOPE')")
    assert.has_error(function() p:wait(-1) end)
    p:wait()
  end)

  it("run() with a timeout kills the child and returns nil, 'timeout'", function()
    -- the grandchild holds the pipes: run must not wait for it either
    local pidfile = os.tmpname()
    assert.same({ nil, "timeout", { stdout = "", stderr = "" } }, { process.run({ "sh", "-c",
      'sleep 30 & echo $! > "$0"; sleep 30', pidfile }, { timeout = 0.2 }) })
    local grandchild = tonumber(H.read(pidfile))
    os.remove(pidfile)
    if grandchild then		-- (unless the timeout came before sh forked it)
      assert.is_true(process.kill(grandchild, 0), "returned while the grandchild lives")
      process.kill(grandchild, "KILL")
    end
    assert.same({ "ok\n", "", 0, "exit" },
      { process.run({ "echo", "ok" }, { timeout = 5 }) })
  end)

  it("100 concurrent subprocesses run while the hub keeps running", function()
    local base, before = nfds(), fdlist()
    local ticks, done = 0, false
    local ticker = lg.spawn(function()
      while not done do ticks = ticks + 1; lg.sleep(0.005) end
    end)
    local g = gate(100)
    local gts = {}
    for i = 1, 100 do
      gts[i] = lg.spawn(process.run, { "sh", "-c", g.script("echo $$"), g.dir, i },
        { stdin = g.stdin })
    end
    assert.is_true(H.await(function() return g.started() == 100 end, 60),
      "all 100 started, none has exited: " .. g.started() .. " started")
    -- 100 run() calls parked, their children alive: the hub goes on
    local t = ticks
    assert.is_true(H.await(function() return ticks >= t + 10 end, 60), "the ticker ran")
    g.release()
    local pids = {}
    for i = 1, 100 do
      local out, _, code = gts[i]:wait()
      assert.equal(0, code)
      pids[assert(tonumber(out))] = true
    end
    done = true
    ticker:wait()
    local n = 0
    for _ in pairs(pids) do n = n + 1 end
    assert.equal(100, n)
    assert.equal(0, zombies())
    assert.equal(base, nfds(), "fds before:\n" .. before .. "after:\n" .. fdlist())
  end)

  it("a greenthread killed in wait or in a pipe read leaves no fd behind", function()
    local base, before = nfds(), fdlist()
    local p = assert(process.spawn({ "sleep", "30" }, { stdout = "pipe" }))
    local waiter = lg.spawn(function() return p:wait() end)
    local reader = lg.spawn(function() return p.stdout:receive("*a") end)
    lg.sleep(0.01)
    waiter:kill()
    reader:kill()
    assert.same({ false, lg.GreenletExit }, { pcall(waiter.wait, waiter) })
    assert.same({ false, lg.GreenletExit }, { pcall(reader.wait, reader) })
    assert.is_true(p:kill("KILL"))
    assert.same({ 9, "signal" }, { p:wait() })
    p:close()
    assert.equal(base, nfds(), "fds before:\n" .. before .. "after:\n" .. fdlist())
    assert.equal(0, zombies())
    lg.run()				-- no watcher is left behind either
  end)

  it("a killed run() kills its child and readers", function()
    local base, before = nfds(), fdlist()
    local gt = lg.spawn(process.run, { "sleep", "30" })
    lg.sleep(0.01)
    gt:kill()
    assert.same({ false, lg.GreenletExit }, { pcall(gt.wait, gt) })
    assert.equal(base, nfds(), "fds before:\n" .. before .. "after:\n" .. fdlist())
    assert.equal(0, zombies())
  end)

  it("several greenthreads may wait for one child", function()
    local p = assert(process.spawn({ "sleep", "0.05" }))
    local a = lg.spawn(function() return p:wait() end)
    local b = lg.spawn(function() return p:wait() end)
    assert.same({ 0, "exit" }, { a:wait() })
    assert.same({ 0, "exit" }, { b:wait() })
  end)

  it("a Timeout interrupts a wait", function()
    local p = assert(process.spawn({ "sleep", "30" }))
    local t = lg.Timeout(0.02)
    local ok, err = pcall(p.wait, p)
    assert.is_false(ok)
    assert.equal(t, err)
    p:kill("KILL")
    assert.same({ 9, "signal" }, { p:wait() })
  end)

  it("waits by polling waitpid where there is no pidfd", function()
    local base, before = nfds(), fdlist()
    local p = assert(process.spawn({ "sleep", "30" }, { pidfd = false }))
    assert.is_nil(select(2, core.process.info(p.child)))	-- no pidfd
    assert.same({ nil, "timeout" }, { p:wait(0.02) })
    local waiter = lg.spawn(function() return p:wait() end)
    lg.sleep(0.01)
    waiter:kill()
    p:kill("KILL")
    assert.same({ 9, "signal" }, { p:wait() })
    -- 20 run() calls wait by polling, all at once: their children are alive together
    local g, gts = gate(20), {}
    for i = 1, 20 do
      gts[i] = lg.spawn(process.run, { "sh", "-c", g.script("exit $1"), g.dir, i },
        { pidfd = false, stdin = g.stdin })
    end
    assert.is_true(H.await(function() return g.started() == 20 end, 60),
      "all 20 started, none has exited: " .. g.started() .. " started")
    g.release()
    for i = 1, 20 do assert.same({ "", "", i, "exit" }, { gts[i]:wait() }) end
    assert.equal(base, nfds(), "fds before:\n" .. before .. "after:\n" .. fdlist())
    assert.equal(0, zombies())
  end)

  it("leaves other children alone (no waitpid(-1))", function()
    local p = assert(process.spawn({ "sleep", "0.05" }))
    -- io.popen's child exits while we wait for ours: its status stays its own
    local f = io.popen("exit 3")
    assert.same({ 0, "exit" }, { p:wait() })
    local ok, how, code = f:close()
    if _VERSION ~= "Lua 5.1" then	-- 5.1's close gives no status
      assert.same({ nil, "exit", 3 }, { ok, how, code })
    end
  end)
end)
