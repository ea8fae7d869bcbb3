-- A kill that lands while a greenthread blocks inside an xpcall message
-- handler: Lua turns any error raised in a message handler into "error in
-- error handling", on every VM, so the kill cannot cross it.  This is the
-- documented limit (README, "Rules for C code and LuaJIT's FFI").
local lg = require "lgreen"

describe("a kill inside an xpcall message handler", function()
  it("ends the xpcall with 'error in error handling'; the greenthread runs on", function()
    local parked = lg.Event()
    local seen
    local gt = lg.spawn(function()
      local ok, err = xpcall(function() error("boom") end, function(e)
        parked:send()
        lg.sleep(30)		-- blocked in the handler when the kill lands
        return e
      end)
      seen = { ok, err }
      return "ran on"
    end)
    parked:wait()
    gt:kill()
    assert.equal("ran on", gt:wait())
    assert.is_false(seen[1])
    assert.matches("error in error handling", tostring(seen[2]))
  end)

  it("but a kill after the handler returned goes through", function()
    local handled = lg.Event()
    local gt = lg.spawn(function()
      xpcall(function() error("boom") end, function(e) return e end)
      handled:send()
      lg.sleep(30)
      return "not reached"
    end)
    handled:wait()
    gt:kill()
    local ok, err = pcall(gt.wait, gt)	-- a killed greenthread's wait raises
    assert.is_false(ok)
    assert.equal(lg.GreenletExit, err)
  end)
end)
