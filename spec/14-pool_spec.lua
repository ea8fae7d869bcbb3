-- GreenPool and GreenPile.
local lg = require "lgreen"

local function tracker()
  local t = { cur = 0, max = 0 }
  function t.enter() t.cur = t.cur + 1; if t.cur > t.max then t.max = t.cur end end
  function t.leave() t.cur = t.cur - 1 end
  return t
end

describe("GreenPool", function()
  it("runs at most size at once; spawn blocks the caller while full", function()
    local pool = lg.GreenPool(3)
    local tr = tracker()
    local spawned_at = {}
    for i = 1, 9 do
      pool:spawn(function() tr.enter(); lg.sleep(0.005); tr.leave() end)
      spawned_at[i] = pool:running()
    end
    assert.equal(3, tr.max)
    for i = 1, 9 do assert.is_true(spawned_at[i] <= 3) end
    assert.same({ 1, 2, 3 }, { spawned_at[1], spawned_at[2], spawned_at[3] })
    pool:waitall()
    assert.equal(0, pool:running())
    assert.equal(3, pool:free())
  end)

  it("spawn_n too, and errors do not leak slots", function()
    local pool = lg.GreenPool(2)
    for _ = 1, 4 do pool:spawn_n(function() error("x") end) end
    pool:waitall()
    assert.equal(2, pool:free())
  end)

  it("spawn returns a GreenThread with the result", function()
    local pool = lg.GreenPool(2)
    local gt = pool:spawn(function(a) return a * 2 end, 21)
    assert.equal(42, gt:wait())
  end)

  it("waiting() counts blocked spawners, resize() lets them in", function()
    local pool = lg.GreenPool(1)
    local ev = lg.Event()
    pool:spawn_n(function() ev:wait() end)
    local started = 0
    for _ = 1, 3 do
      lg.spawn_n(function() pool:spawn_n(function() started = started + 1; ev:wait() end) end)
    end
    lg.sleep(0)
    assert.equal(3, pool:waiting())
    pool:resize(3)			-- two more slots: two spawners go in
    lg.sleep(0)
    lg.sleep(0)
    assert.equal(1, pool:waiting())
    assert.equal(2, started)
    assert.equal(3, pool:running())
    ev:send()
    pool:waitall()
    assert.equal(3, started)
  end)

  it("a member spawning into its own full pool runs the function inline", function()
    local pool = lg.GreenPool(1)
    local gt = pool:spawn(function()
      local inner = pool:spawn(function() return "inner" end)
      return inner:wait()
    end)
    assert.equal("inner", gt:wait())
  end)

  it("imap yields results in input order with bounded concurrency", function()
    local pool = lg.GreenPool(2)
    local tr = tracker()
    local out = {}
    for r in pool:imap(function(x, y)
      tr.enter(); lg.sleep(0.001 * (5 - x)); tr.leave()
      return x + y
    end, { 1, 2, 3, 4 }, { 10, 20, 30, 40 }) do
      out[#out + 1] = r
    end
    assert.same({ 11, 22, 33, 44 }, out)
    assert.equal(2, tr.max)
  end)

  it("imap raises a worker's error at the consumer", function()
    local pool = lg.GreenPool(2)
    local it = pool:imap(function(x) if x == 2 then error("bad item", 0) end return x end, { 1, 2, 3 })
    assert.equal(1, it())
    assert.has_error(function() it() end, "bad item")
  end)

  it("imap takes iterator functions", function()
    local pool = lg.GreenPool(4)
    local i = 0
    local src = function() i = i + 1; if i <= 5 then return i end end
    local out = {}
    for r in pool:imap(function(x) return x * x end, src) do out[#out + 1] = r end
    assert.same({ 1, 4, 9, 16, 25 }, out)
  end)

  it("starmap unpacks argument tables", function()
    local pool = lg.GreenPool(2)
    local out = {}
    for r in pool:starmap(function(a, b) return a .. b end, { { "a", 1 }, { "b", 2 } }) do
      out[#out + 1] = r
    end
    assert.same({ "a1", "b2" }, out)
  end)

  it("rejects a bad size", function()
    assert.has_error(function() lg.GreenPool(-1) end)
    assert.has_error(function() lg.GreenPool("8") end)
  end)
end)

describe("GreenPile", function()
  it("returns results in spawn order", function()
    local pile = lg.GreenPile(3)
    for i = 1, 5 do pile:spawn(function() lg.sleep(0.001 * (6 - i)) return i end) end
    local out = {}
    for r in pile do out[#out + 1] = r end
    assert.same({ 1, 2, 3, 4, 5 }, out)
  end)

  it("shares a pool", function()
    local pool = lg.GreenPool(2)
    local pile = lg.GreenPile(pool)
    pile:spawn(function() return "x" end)
    assert.equal("x", pile:next())
    assert.is_nil(pile:next())
  end)
end)
