-- Slices of shared stacks: deep parks come back intact while shallow ones
-- switch around them, and greenlets of one shared stack switch directly to
-- each other (the switcher does the copies).
local lg = require "lgreen"
local greenlet = require "lgreen.greenlet"
local H = require "helper"

local shared = greenlet.stats().switch == "asm"	-- ucontext: all private

-- Recurse depth levels; every 10th level goes through pcall, every 50th
-- through a table.sort comparator (C frames on every VM), and the bottom
-- calls park().  Each level's locals must survive: returns their sum.
local function deep(depth, park)
  local function level(k)
    local mine = k * 3 + 1
    if k == 0 then
      park()
      return mine
    end
    local below
    if k % 50 == 0 then
      local t = { 2, 1 }
      table.sort(t, function(a, b)
        if not below then below = level(k - 1) end
        return a < b
      end)
    elseif k % 10 == 0 then
      local ok, v = pcall(level, k - 1)
      assert(ok, v)
      below = v
    else
      below = level(k - 1)
    end
    return below + mine
  end
  return level(depth)
end

local function expect(depth)
  local s = 0
  for k = 0, depth do s = s + k * 3 + 1 end
  return s
end

describe("a deep park", function()
  it("resumes intact while 300 shallow green threads switch around it", function()
    local depth = 1000
    local ev, rounds, busy = lg.Event(), 0, true
    local placed0 = greenlet.stats().slices_placed
    local deep_gt = lg.spawn(function()
      return deep(depth, function()
        for _ = 1, 20 do lg.sleep(0) end	-- parked deep, many times
        ev:wait()
      end)
    end)
    local shallow = {}
    for i = 1, 300 do
      shallow[i] = lg.spawn(function()
        local n = 0
        while busy do n = n + i lg.sleep(0) rounds = rounds + 1 end
        return n
      end)
    end
    lg.sleep(0.02)
    ev:send(true)
    assert.equal(expect(depth), deep_gt:wait())
    busy = false
    for i = 1, 300 do assert.equal(0, shallow[i]:wait() % i) end
    assert.is_true(rounds > 300)
    if greenlet.stats().default_stack == "shared" then
      assert.is_true(greenlet.stats().slices_placed > placed0 + 300)
    end
  end)

  it("many deep ones at once, each with its own values", function()
    local n = 40
    local ev = lg.Event()
    local gts = {}
    for i = 1, n do
      gts[i] = lg.spawn(function() return deep(100 + i, function() ev:wait() end) end)
    end
    lg.sleep(0)
    ev:send(true)
    for i = 1, n do assert.equal(expect(100 + i), gts[i]:wait()) end
  end)
end)

describe("greenlets of one shared stack", function()
  it("switch directly to each other, deep and shallow, values intact", function()
    local main = greenlet.getcurrent()
    local hops0 = greenlet.stats().hops
    local gs = {}
    for i = 1, 8 do		-- twice the shared stacks: i and i + 4 share one
      gs[i] = greenlet.new(function()
        local partner = gs[(i + 3) % 8 + 1]
        local depth = i <= 4 and 300 or 0	-- one of each pair parks deep
        local v = main:switch()		-- started: wait for the go
        while true do
          local keep, d, got = v * 7, depth + v % 5, nil
          local back = deep(d, function() got = partner:switch(v + 1) end)
          assert(back == expect(d), "frames below the switch")
          assert(keep == v * 7, "locals of the switching frame")
          if got == "stop" then return "stopped" end
          if got >= 200 then return got end
          v = got
        end
      end, { stack = "shared" })
    end
    -- started in a row from main, round robin pairs i and i + 4
    for i = 1, 8 do gs[i]:switch() end
    for i = 1, 4 do
      assert.equal(200, gs[i]:switch(0))	-- 200 switches between the two
      assert.equal("stopped", gs[i + 4]:switch("stop"))
      assert.is_true(gs[i].dead and gs[i + 4].dead)
    end
    if shared then assert.is_true(greenlet.stats().hops >= hops0 + 4 * 200) end
  end)

  it("a greenlet dying into a parent on its own stack hands over its results", function()
    local main = greenlet.getcurrent()
    local p = greenlet.new(function()
      local got
      local d = deep(60, function() got = main:switch("parked") end)
      return d, got
    end, { stack = "shared" })
    assert.equal("parked", p:switch())
    -- three more from main: the next one lands on p's stack
    for _ = 1, 3 do greenlet.new(function() main:switch() end, { stack = "shared" }):switch() end
    local hops0 = greenlet.stats().hops
    local c = greenlet.new(function(x)
      local t = {}
      for i = 1, 100 do t[i] = i end
      return x + #t
    end, p, { stack = "shared" })
    -- c's 105 comes back out of p's switch, under p's 60 levels
    assert.same({ expect(60), 105 }, { c:switch(5) })
    assert.is_true(c.dead and p.dead)
    if shared then assert.equal(hops0 + 1, greenlet.stats().hops) end
  end)
end)
