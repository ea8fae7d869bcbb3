-- The switch's check for "inside a debug hook or a __gc finalizer" is exact
-- and leaves hooks alone: a count hook (a sandbox's CPU limit) keeps
-- firing in code that switches, a hook that cleared itself is still known
-- to run, and a finalizer that restarts the collector is still a finalizer.
local greenlet = require "lgreen.greenlet"
local H = require "helper"

-- LuaJIT calls no hook inside compiled code: the loops below must run in
-- the interpreter for a count hook to fire at all.
if jit then
  setup(function() jit.off() jit.flush() end)
  teardown(function() jit.on() end)
end

-- A greenlet that hands control back to its parent each time.
local function pingpong()
  return greenlet.new(function()
    while true do greenlet.getcurrent().parent:switch() end
  end)
end

describe("a count hook", function()
  it("fires in a loop of greenlet switches", function()
    local g = pingpong()
    local fired = 0
    debug.sethook(function() fired = fired + 1 end, "", 1000)
    for _ = 1, 100000 do g:switch() end
    debug.sethook()
    assert.is_true(fired > 0, "the count hook never fired")
  end)

  it("still refuses a switch made from inside it", function()
    local g = pingpong()
    local res
    debug.sethook(function()
      if not res then res = { pcall(g.switch, g) } end
    end, "", 100)
    for _ = 1, 10000 do g:switch() end
    debug.sethook()
    assert.is_false(res[1])
    assert.matches("debug hook", res[2])
  end)
end)

describe("a hook that clears itself, then switches", function()
  it("is refused", function()
    local g = greenlet.new(function() return "ran" end)
    local res
    debug.sethook(function()
      debug.sethook()
      res = { pcall(g.switch, g) }
    end, "", 100)
    for i = 1, 1000 do local _ = i end
    debug.sethook()
    assert.is_false(res[1])
    assert.matches("debug hook", res[2])
    assert.equal("ran", g:switch())	-- and works once out of the hook
  end)
end)

describe("an error raised by a hook", function()
  it("propagates, and leaves switching allowed afterwards", function()
    local ok, err = pcall(function()
      debug.sethook(function() debug.sethook() error("from the hook") end, "", 10)
      for i = 1, 1000 do local _ = i end
    end)
    debug.sethook()
    assert.is_false(ok)
    assert.matches("from the hook", err)
    local g = greenlet.new(function() return "ran" end)
    assert.equal("ran", g:switch())
  end)
end)

describe("debug.gethook", function()
  it("shows the hook as it was set, after switches", function()
    local g = pingpong()
    local function f() end
    debug.sethook(f, "l", 7)
    g:switch()
    local h, mask, count = debug.gethook()
    debug.sethook()
    assert.equal(f, h)
    assert.equal("l", mask)
    assert.equal(7, count)
  end)
end)

describe("a finalizer that restarts the collector, then switches", function()
  it("is refused", function()
    local g = greenlet.new(function() return "ran" end)
    local res
    do
      local _ = H.finalized(function()
        collectgarbage("restart")
        res = { pcall(g.switch, g) }
      end)
    end
    collectgarbage()
    collectgarbage()
    assert.is_false(res[1])
    assert.matches("__gc finalizer", res[2])
    assert.equal("ran", g:switch())
  end)
end)
