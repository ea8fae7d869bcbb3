-- Ctrl-C with no lg.signal("INT") handler: the hub raises "interrupted!"
-- in main, idle or busy, and the interpreter exits non-zero with it; a
-- handler, while set, gets SIGINT instead.  Each case runs a child
-- interpreter and sends SIGINT once the child says "ready" on stdout: a
-- greenthread says it, so main is parked in the hub by then.
local lg = require "lgreen"
local H = require "helper"
local process = lg.process

local BOUND = 20	-- seconds a child may take after a signal: else it hung

-- Run src in a child interpreter; each time it prints "ready", send it
-- SIGINT.  Returns what it printed after, its stderr, code and how.
local function interrupt(src)
  local name = os.tmpname()
  local f = assert(io.open(name, "w"))
  f:write("io.stdout:setvbuf('line')\n", src)
  f:close()
  local p = assert(process.spawn("exec env " .. H.env .. H.lua .. " " .. name,
				 { shell = true, stdout = "pipe", stderr = "pipe" }))
  local err = lg.spawn(function()
    p.stderr:settimeout(BOUND)
    return p.stderr:receive("*a")
  end)
  local out = {}
  p.stdout:settimeout(BOUND)
  while true do
    local line = p.stdout:receive("*l")
    if line == nil then break end
    if line == "ready" then assert(p:kill("INT")) else out[#out + 1] = line end
  end
  local code, how = p:wait(BOUND)
  if code == nil then p:kill("KILL") p:wait() end
  os.remove(name)
  return table.concat(out, "\n"), err:wait() or "", code, how
end

describe("#subprocess Ctrl-C", function()
  it("on an idle hub: main raises interrupted!, the interpreter exits 1", function()
    local out, err, code, how = interrupt([[
      local lg = require "lgreen"
      lg.spawn_n(print, "ready")
      lg.sleep(100)
      print("not reached")
    ]])
    assert.equal("exit", how, err)
    assert.equal(1, code, err)
    assert.matches("interrupted!", err, 1, true)
    assert.equal("", out)
  end)

  it("while main waits on a queue", function()
    local out, err, code, how = interrupt([[
      local lg = require "lgreen"
      local q = lg.Queue()
      lg.spawn_after(100, function() q:put("late") end)
      lg.spawn_n(print, "ready")
      print(q:get())
    ]])
    assert.equal("exit", how, err)
    assert.equal(1, code, err)
    assert.matches("interrupted!", err, 1, true)
    assert.equal("", out)
  end)

  it("on a busy hub: green threads switching, main still gets it", function()
    local out, err, code, how = interrupt([[
      local lg = require "lgreen"
      local n = 0
      for _ = 1, 3 do
	lg.spawn_n(function() while true do n = n + 1 lg.sleep(0) end end)
      end
      lg.spawn_n(print, "ready")
      lg.sleep(100)
      print("not reached")
    ]])
    assert.equal("exit", how, err)
    assert.equal(1, code, err)
    assert.matches("interrupted!", err, 1, true)
    assert.is_nil(err:find("uncaught error", 1, true), err)
    assert.equal("", out)
  end)

  it("main may catch it and wait again: the next Ctrl-C interrupts again", function()
    local out, err, code, how = interrupt([[
      local lg = require "lgreen"
      lg.spawn_n(function() while true do lg.sleep(0) end end)
      lg.spawn_n(print, "ready")
      print(pcall(lg.sleep, 100))
      lg.spawn_n(print, "ready")
      lg.sleep(100)
    ]])
    assert.equal("exit", how, err)
    assert.equal(1, code, err)
    assert.equal("false\tinterrupted!", out)
    assert.matches("interrupted!", err, 1, true)
  end)

  it("a handler set with lg.signal takes it instead, every time; cancelled, main gets it", function()
    local out, err, code, how = interrupt([[
      local lg = require "lgreen"
      local q = lg.Queue()
      local h = lg.signal("INT", function() q:put("handled") end)
      lg.spawn_n(function() while true do lg.sleep(0) end end)
      for _ = 1, 3 do
	lg.spawn_n(print, "ready")
	print(q:get())
      end
      h:cancel()
      lg.spawn_n(print, "ready")
      lg.sleep(100)
    ]])
    assert.equal("exit", how, err)
    assert.equal(1, code, err)
    assert.equal("handled\nhandled\nhandled", out)
    assert.matches("interrupted!", err, 1, true)
  end)

  it("a green thread that never yields: a second Ctrl-C ends the process", function()
    local name = os.tmpname()
    local f = assert(io.open(name, "w"))
    f:write([[
      io.stdout:setvbuf("line")
      local lg = require "lgreen"
      lg.spawn_n(function() print("ready") while true do end end)
      lg.sleep(100)
    ]])
    f:close()
    local p = assert(process.spawn("exec env " .. H.env .. H.lua .. " " .. name,
				   { shell = true, stdout = "pipe" }))
    p.stdout:settimeout(BOUND)
    assert.equal("ready", p.stdout:receive("*l"))
    -- The first SIGINT only marks it for the hub, which never runs; each
    -- try sends one more (two sent at once may merge into one).
    local code, how
    for _ = 1, 50 do
      p:kill("INT")
      code, how = p:wait(0.2)
      if code then break end
    end
    if not code then p:kill("KILL") p:wait() end
    os.remove(name)
    assert.equal("signal", how)
    assert.equal(process.signals.INT, code)
  end)
end)
