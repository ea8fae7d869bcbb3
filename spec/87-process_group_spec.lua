-- Subprocess hygiene: a child that leads its own session (opts.setsid, on
-- by default with shell = true) is killed with everything it started, on
-- p:kill and on run's timeout; run's timeout returns the output read so
-- far; opts.env_add merges into the inherited environment; and the
-- Process API the README documents (pid, poll, close, wait(t), spawn,
-- kill, getpid).
local lg = require "lgreen"
local H = require "helper"
local process = require "lgreen.process"

-- Fields of /proc/pid/stat after the command: state, ppid, pgrp, session;
-- nil once the pid is gone.
local function stat(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  local state, ppid, pgrp, sid = s:match("%) (%a) (%d+) (%d+) (%d+)")
  return state, tonumber(ppid), tonumber(pgrp), tonumber(sid)
end

-- Dead: gone, or a zombie nobody reaped yet (no longer running).
local function dead(pid)
  local state = stat(pid)
  return state == nil or state == "Z"
end

-- Park until pred() holds, checking every 10 ms, at most limit seconds
-- (a bound on a hang, not on speed); pred()'s last answer.
local function await(pred, limit)
  local deadline = lg.now() + limit
  while not pred() and lg.now() < deadline do lg.sleep(0.01) end
  return pred()
end

local function readpid(name)
  local f = io.open(name)
  local pid = f and tonumber(f:read("*a"))
  if f then f:close() end
  return pid
end

describe("process groups", function()
  it("shell = true leads a new session by default; argv does not", function()
    local p = assert(process.spawn("cat", { shell = true, stdin = "pipe" }))
    assert.is_true(p.setsid)
    if H.qemu then	-- its vfork is a fork: spawn returns before the child's setsid
      await(function() return select(4, stat(p.pid)) == p.pid end, 10)
    end
    local _, _, pgrp, sid = stat(p.pid)
    assert.same({ p.pid, p.pid }, { pgrp, sid })
    p:close()
    assert.same({ 0, "exit" }, { p:wait() })

    local q = assert(process.spawn({ "cat" }, { stdin = "pipe" }))
    assert.is_false(q.setsid)
    local _, _, qgrp = stat(q.pid)
    -- (read by cat: qemu-user fakes a process's own stat file, without pgrp)
    local f = io.popen("cat /proc/" .. H.pid() .. "/stat")
    local mygrp = tonumber(f:read("*a"):match("%) %a %d+ (%d+)"))
    f:close()
    assert.equal(mygrp, qgrp)
    q:close()
    assert.same({ 0, "exit" }, { q:wait() })

    local r = assert(process.spawn("cat", { shell = true, setsid = false, stdin = "pipe" }))
    assert.is_false(r.setsid)
    assert.equal(mygrp, select(3, stat(r.pid)))
    r:close()
    r:wait()
  end)

  it("p:kill reaches the whole group of a setsid child", function()
    local p = assert(process.spawn({ "sh", "-c", "sleep 60 & echo $!; wait" },
      { setsid = true, stdout = "pipe" }))
    local grandchild = assert(tonumber(p.stdout:receive("*l")))
    assert.equal(p.pid, select(3, stat(grandchild)))
    assert.is_true(p:kill())
    assert.same({ 15, "signal" }, { p:wait() })
    assert.is_true(await(function() return dead(grandchild) end, 30),
      "the grandchild outlived its group's SIGTERM")
    p:close()
  end)

  it("run{shell = true, timeout = t} kills the grandchild and returns the partial output", function()
    local pidfile = os.tmpname()
    local cmd = 'echo start; echo oops >&2; sleep 60 & echo $! > "' .. pidfile
      .. '"; sleep 60'
    -- The timeout must come after the shell wrote and forked: a loaded
    -- machine may need longer, so try longer timeouts until it did.
    local t, res, grandchild = 0.2, nil, nil
    repeat
      os.remove(pidfile)
      res = { process.run(cmd, { shell = true, timeout = t }) }
      grandchild = readpid(pidfile)
      if not grandchild or res[3].stdout ~= "start\n" or res[3].stderr ~= "oops\n" then
        if grandchild then process.kill(grandchild, "KILL") end
        grandchild = nil
      end
      t = t * 2
    until grandchild or t > 30
    os.remove(pidfile)
    assert.is_number(grandchild, "the shell never got to fork in time")
    assert.same({ nil, "timeout", { stdout = "start\n", stderr = "oops\n" } }, res)
    assert.is_true(await(function() return dead(grandchild) end, 30),
      "the grandchild outlived run's timeout")
  end)

  it("run's timeout with a stream not piped: nil in the partial output", function()
    local res = { process.run({ "sleep", "60" }, { timeout = 0.05, stdout = "null" }) }
    assert.same({ nil, "timeout", { stderr = "" } }, res)
  end)
end)

describe("opts.env_add", function()
  local printenv = { "sh", "-c", 'printf "%s|%s|%s" "${LG_A-unset}" "${HOME-unset}" "${LG_B-unset}"' }
  it("adds to the inherited environment; false removes a name", function()
    local home = assert(os.getenv("HOME"))
    assert.equal("1|" .. home .. "|unset", (process.run(printenv, { env_add = { LG_A = 1 } })))
    assert.equal("x|unset|unset",
      (process.run(printenv, { env_add = { LG_A = "x", HOME = false } })))
  end)

  it("adds to opts.env when both are given", function()
    local out = process.run({ "/usr/bin/env" }, { env = { LG_A = "1" }, env_add = { LG_B = "2" } })
    assert.equal("LG_A=1\nLG_B=2\n", out)
  end)

  it("refuses bad input, naming the option", function()
    local function err(o)
      local ok, e = pcall(process.run, { "true" }, o)
      assert.is_false(ok)
      return e
    end
    assert.matches("bad argument #2 to 'run' %(opts.env_add: table expected, got string%)",
      err({ env_add = "A=1" }))
    assert.matches("bad argument #2 to 'run' %(opts.env_add.A: string expected %(or false%), got table%)",
      err({ env_add = { A = {} } }))
    assert.matches("opts.env_add: keys must be variable names", err({ env_add = { ["A=B"] = "1" } }))
    assert.matches("opts.env.A: string expected, got boolean", err({ env = { A = false } }))
    assert.matches("bad argument #2 to 'run' %(opts.setsid: boolean expected, got string%)",
      err({ setsid = "yes" }))
  end)
end)

describe("the Process API", function()
  it("spawn returns a Process: pid, poll, wait(t), close", function()
    local p = assert(process.spawn({ "cat" }, { stdin = "pipe", stdout = "pipe" }))
    assert.equal(process.Process, getmetatable(p))
    assert.is_number(p.pid)
    assert.equal(H.pid(), select(2, stat(p.pid)))	-- our child
    assert.is_nil(p:poll())				-- cat waits for its stdin
    assert.same({ nil, "timeout" }, { p:wait(0.01) })
    p.stdin:send("x\n")
    assert.equal("x", p.stdout:receive("*l"))
    p:close()						-- cat reads EOF, exits 0
    assert.same({ 0, "exit" }, { p:wait() })
    assert.same({ 0, "exit" }, { p:poll() })
  end)

  it("process.kill signals any pid; getpid is this process's", function()
    assert.equal(H.pid(), process.getpid())
    local p = assert(process.spawn({ "cat" }, { stdin = "pipe" }))
    assert.is_true(process.kill(p.pid, 0))		-- alive
    assert.is_true(process.kill(p.pid, "TERM"))
    assert.same({ 15, "signal" }, { p:wait() })
    p:close()
  end)
end)
