-- A Timeout dies with the greenlet it targets: once that greenlet has
-- returned, raised or been killed, a Timeout still armed for it is
-- cancelled and anchors nothing, so lg.run() does not wait for it.
local lg = require "lgreen"
local greenlet = require "lgreen.greenlet"
local H = require "helper"

-- After the owner is gone: the Timeout is no longer pending, and neither
-- it nor the owner's greenlet is kept alive by the hub.  case(keep) runs
-- the owner and calls keep(t, g) once it is gone; only the weak table
-- below keeps them after case returns.
local function check_gone(case)
  local weak = setmetatable({}, { __mode = "v" })
  case(function(t, g)
    assert.is_false(t.pending)
    assert.is_false(t:cancel())
    weak[1], weak[2] = t, g
  end)
  H.collect()
  assert.is_nil(weak[1], "the Timeout is still anchored")
  assert.is_nil(weak[2], "its greenlet is still anchored")
end

describe("a Timeout armed when its greenthread ends", function()
  it("is cancelled when the greenthread returns", function()
    check_gone(function(keep)
      local t
      local gt = lg.spawn(function() t = lg.Timeout(30) return "done" end)
      assert.equal("done", gt:wait())
      keep(t, gt.greenlet)
    end)
  end)

  it("is cancelled when the greenthread raises", function()
    check_gone(function(keep)
      local t
      local gt = lg.spawn(function() t = lg.Timeout(30, "late") error("boom", 0) end)
      local ok, err = pcall(gt.wait, gt)
      assert.is_false(ok)
      assert.equal("boom", err)
      keep(t, gt.greenlet)
    end)
  end)

  it("is cancelled when the greenthread is killed while it waits", function()
    check_gone(function(keep)
      local t
      local gt = lg.spawn(function() t = lg.Timeout(30) lg.Event():wait() end)
      lg.sleep(0)			-- it runs, arms t, parks
      assert.is_true(t.pending)
      gt:kill()
      assert.is_true(gt.dead)
      keep(t, gt.greenlet)
    end)
  end)

  it("is cancelled when a spawn_n body returns, and several at once", function()
    local ts = {}
    local done = lg.Event()
    lg.spawn_n(function()
      for i = 1, 3 do ts[i] = lg.Timeout(30 + i) end
      ts[2]:cancel()		-- one settled already: the others still go
      done:send()
    end)
    done:wait()
    lg.sleep(0)				-- let the body return
    for i = 1, 3 do assert.is_false(ts[i].pending) end
  end)

  it("is cancelled when a plain greenlet returns", function()
    check_gone(function(keep)
      local t
      local g = greenlet.new(function() t = lg.Timeout(30) end)
      g:switch()
      assert.is_true(g.dead)
      keep(t, g)
    end)
  end)

  it("a Timeout of another greenthread is left alone", function()
    local t
    local armed, go = lg.Event(), lg.Event()
    local owner = lg.spawn(function()
      t = lg.Timeout(30)
      armed:send()
      go:wait()
      t:cancel()
    end)
    armed:wait()
    lg.spawn(function() end):wait()	-- another greenthread ends
    assert.is_true(t.pending)
    go:send()
    owner:wait()
    assert.is_false(t.pending)
  end)

  -- In a process of its own, where nothing else runs: lg.step() says
  -- whether any watcher is left, which is what lg.run() waits for (it
  -- waited the Timeout's 30 s).
  it("leaves no watcher: lg.run() has nothing to wait for", function()
    local code, out = H.run([[
      local lg = require "lgreen"
      local greenlet = require "lgreen.greenlet"
      local function left(name) print(name, "left", tostring(lg.step())) end
      lg.spawn(function() lg.Timeout(30) end):wait()
      left("returned")
      pcall(lg.spawn(function() lg.Timeout(30) error("boom", 0) end).wait)
      left("raised")
      local gt = lg.spawn(function() lg.Timeout(30) lg.Event():wait() end)
      lg.sleep(0)
      gt:kill()
      left("killed")
      lg.spawn_n(function() lg.Timeout(30) end)
      lg.sleep(0)
      left("spawn_n")
      greenlet.new(function() lg.Timeout(30) end):switch()
      left("greenlet")
    ]])
    assert.equal(0, code, out)
    for _, name in ipairs({ "returned", "raised", "killed", "spawn_n", "greenlet" }) do
      assert.matches(name .. "%s+left%s+false", out)
    end
  end)
end)
