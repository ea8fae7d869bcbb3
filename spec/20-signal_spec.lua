-- Signals: a handler runs in a greenthread of its own; cancel restores the
-- old disposition; a server shuts down cleanly on SIGTERM.
local lg = require "lgreen"
local H = require "helper"
local process = lg.process
local core = require "lgreen.core"

local me = process.getpid()

-- Run Lua source in a child VM (the build under test) through sh -c with
-- prefix before it; returns { code, how } and its stdout.
local function luachild(src, prefix)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(src)
  f:close()
  local out, _, code, how = process.run((prefix or "") .. "exec " .. H.lua .. " " .. script, {
    shell = true,
    stderr = "inherit",
    env = H.childenv(),
  })
  os.remove(script)
  return { code, how }, out
end

-- Send sig to this process from another one, as the outside world would.
local function selfsend(sig)
  assert.same({ "", "", 0, "exit" }, { process.run({ "kill", "-" .. sig, tostring(me) }) })
end

describe("signal", function()
  it("runs the handler in a greenthread on a self-sent SIGUSR1", function()
    local got = lg.Event()
    local h = lg.signal("SIGUSR1", function(signum)
      got:send({ signum, lg.getcurrent() })
    end)
    selfsend("USR1")
    local v = got:wait()
    assert.equal(core.process.signals.USR1, v[1])
    assert.not_equal(lg.getcurrent(), v[2])		-- a greenthread of its own
    assert.is_true(h:cancel())
    assert.is_false(h:cancel())
  end)

  it("accepts numbers and names with or without SIG; rejects others", function()
    local usr2 = core.process.signals.USR2
    local a = lg.signal(usr2, function() end)
    local b = lg.signal("USR2", function() end)
    assert.equal(usr2, b.signum)
    a:cancel()
    b:cancel()
    assert.has_error(function() lg.signal("SIGFOO", print) end,
      "bad argument #1 to 'signal' (unknown signal 'SIGFOO')")
    assert.has_error(function() lg.signal("USR1") end,
      "bad argument #2 to 'signal' (function expected, got nil)")
    assert.has_error(function() lg.signal("KILL", print) end,
      "bad argument #1 to 'signal' (SIGKILL and SIGSTOP cannot be caught)")
  end)

  it("process.kill signals any pid", function()
    local got = lg.Event()
    local h = lg.signal("USR2", function(n) got:send(n) end)
    assert.is_true(process.kill(me, "USR2"))
    assert.equal(core.process.signals.USR2, got:wait())
    h:cancel()
    assert.same({ nil, "No such process", "ESRCH" }, { process.kill(2^22 + 1, 0) })
    assert.has_error(function() process.kill("x", 0) end, "bad argument #1 to 'kill' (pid expected)")
  end)

  it("runs every handler of a signal; a handler may block", function()
    local seen, done = {}, lg.Semaphore(0)
    local a = lg.signal("USR1", function() lg.sleep(0.01); seen[#seen + 1] = "a"; done:release() end)
    local b = lg.signal("USR1", function() seen[#seen + 1] = "b"; done:release() end)
    selfsend("USR1")
    done:acquire()
    done:acquire()
    table.sort(seen)
    assert.same({ "a", "b" }, seen)
    a:cancel()
    b:cancel()
  end)

  it("does not keep run() alive by itself", function()
    -- step() says whether anything keeps the loop alive (run() waits for
    -- exactly that), so this fails instead of hanging.
    local sleeper = lg.spawn(lg.sleep, 0.01)
    assert.is_true(lg.step(), "a timer keeps the loop alive")
    sleeper:wait()
    local got = lg.Event()
    local h = lg.signal("USR1", function(n) got:send(n) end)
    assert.is_false(lg.step(), "the signal watcher alone keeps the loop alive")
    lg.run()
    -- still watched after run() returned
    selfsend("USR1")
    assert.equal(core.process.signals.USR1, got:wait())
    assert.is_true(h:cancel())
    assert.is_false(lg.step())
  end)

  it("cancel restores the previous disposition", function()
    -- A child VM starts with SIGUSR1 ignored (the shell's trap "" is
    -- inherited through exec).  After cancel it must be ignored again:
    -- libev alone would leave SIG_DFL, and the next SIGUSR1 would kill it.
    local code, out = luachild([[
      local lg = require "lgreen"
      local P = lg.process
      local me = require("lgreen.core").process.getpid()
      local n = 0
      local h = lg.signal("USR1", function() n = n + 1 end)
      P.run({ "kill", "-USR1", tostring(me) })
      while n == 0 do lg.sleep(0.001) end
      h:cancel()
      P.run({ "kill", "-USR1", tostring(me) })
      lg.sleep(0.05)
      print("handled " .. n .. ", still alive")
    ]], "trap '' USR1; ")
    assert.equal("handled 1, still alive\n", out)
    assert.same({ 0, "exit" }, { code[1], code[2] })
  end)

  it("a server stops cleanly on SIGTERM", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
      local lg = require "lgreen"
      local server = assert(lg.listen("127.0.0.1", 0))
      local _, port = server:getsockname()
      local term = lg.signal("TERM", function() server:close() end)
      io.stdout:write("port ", port, "\n")
      io.stdout:flush()
      assert(lg.serve(server, function(c)
        local line = c:receive("*l")
        c:send("echo " .. line .. "\n")
      end))
      term:cancel()
      lg.run()
      io.stdout:write("stopped cleanly\n")
    ]])
    f:close()
    local p = assert(process.spawn({ H.lua, script }, {
      stdout = "pipe",
      env = H.childenv(),
    }))
    finally(function() p:kill("KILL"); p:wait(); p:close() end)
    local port = tonumber(p.stdout:receive("*l"):match("^port (%d+)$"))
    local c = assert(lg.connect("127.0.0.1", port))
    c:send("hi\n")
    assert.equal("echo hi", c:receive("*l"))
    c:close()
    assert.is_true(p:kill("TERM"))
    assert.equal("stopped cleanly\n", p.stdout:receive("*a"))
    assert.same({ 0, "exit" }, { p:wait(10) })
    os.remove(script)
  end)
end)
