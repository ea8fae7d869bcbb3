-- Timeout and with_timeout.
local lg = require "lgreen"

describe("Timeout", function()
  it("raises itself in the greenthread that made it, around any blocking call", function()
    local t = lg.Timeout(0.01)
    assert.is_true(t.pending)
    local ok, err = pcall(function() lg.Event():wait() end)
    assert.is_false(ok)
    assert.equal(t, err)
    assert.is_false(t.pending)
    assert.is_false(t:cancel())
  end)

  it("raises a given error instead", function()
    local t = lg.Timeout(0.01, "too slow")
    assert.same({ false, "too slow" }, { pcall(lg.sleep, 1) })
    t:cancel()
  end)

  it("cancelled in time, never fires", function()
    local t = lg.Timeout(0.01)
    lg.sleep(0.001)
    assert.is_true(t:cancel())
    lg.sleep(0.02)			-- past its deadline: nothing raised
    assert.is_false(t.pending)
  end)

  it("that ran out while its greenthread was busy raises at its next block", function()
    local t = lg.Timeout(0.005)
    local spin = lg.now() + 0.02
    while lg.now() < spin do end	-- busy: never blocks
    -- the hub sees the timer at its next poll, between two passes
    local ok, err = pcall(lg.sleep, 0)
    if ok then ok, err = pcall(lg.sleep, 0) end
    assert.is_false(ok)
    assert.equal(t, err)
  end)

  it("does not take a value a greenthread was already handed", function()
    local q = lg.Queue()
    local gt = lg.spawn(function()
      local t = lg.Timeout(0.005)
      local item = q:get()		-- woken with the item...
      local spin = lg.now() + 0.02
      while lg.now() < spin do end	-- ...while the timeout runs out
      local cancelled = t:cancel()
      return item, cancelled
    end)
    lg.sleep(0)
    q:put("item")
    assert.same({ "item", true }, { gt:wait() })
  end)

  it("Timeout(nil) never fires", function()
    local t = lg.Timeout(nil)
    assert.is_false(t.pending)
    assert.is_false(t:cancel())
  end)

  it("rejects bad seconds", function()
    assert.has_error(function() lg.Timeout(-1) end)
    assert.has_error(function() lg.Timeout("1") end)
  end)
end)

describe("with_timeout", function()
  it("returns the function's results in time", function()
    assert.same({ 1, nil, 3 }, { lg.with_timeout(0.1, function() return 1, nil, 3 end) })
  end)

  it("returns nil, 'timeout' when it runs out", function()
    local t0 = lg.now()
    assert.same({ nil, "timeout" }, { lg.with_timeout(0.01, lg.sleep, 1) })
    assert.is_true(lg.now() - t0 >= 0.01)
  end)

  it("passes other errors through", function()
    assert.has_error(function() lg.with_timeout(1, error, "boom", 0) end, "boom")
  end)

  it("nested: the inner one fires first and only once", function()
    local r = { lg.with_timeout(0.05, function()
      local inner = { lg.with_timeout(0.01, lg.sleep, 1) }
      return inner[2], "outer still running"
    end) }
    assert.same({ "timeout", "outer still running" }, r)
  end)
end)
