-- Switching from JIT-compiled code (DESIGN rules 1 and 2).  The cases run on
-- every VM; on LuaJIT they are hot enough to be compiled.
local greenlet = require "lgreen.greenlet"
local H = require "helper"

local main = greenlet.getcurrent()
local N = H.slow and 20000 or 1000000

describe("hot loops", function()
  it("1,000,000 switches between two greenlets count exactly", function()
    local ping, pong
    ping = greenlet.new(function(n)
      local sum = 0
      for i = 1, n do sum = sum + pong:switch(i) end
      return sum
    end)
    pong = greenlet.new(function(x)
      while true do x = ping:switch(x * 2 + 1) end
    end, ping)
    -- sum of 2i+1 for i = 1..N
    assert.equal(N * (N + 1) + N, ping:switch(N))
  end)

  it("values computed in compiled code survive the switch", function()
    local g = greenlet.new(function()
      local acc = 0.5
      for i = 1, N / 10 do
        acc = acc + main:switch(i) / 2
      end
      return acc
    end)
    local v = g:switch()
    while not g.dead do v = g:switch(v * 2) end
    local n = N / 10
    assert.equal(0.5 + n * (n + 1) / 2, v)
  end)

  it("an error raised right after a switch, then hot code, is fine", function()
    local thrower = greenlet.new(function()
      while true do main:switch(main:switch()) end
    end)
    thrower:switch()
    local caught, acc, per = 0, 0, 0
    for j = 1, 200 do per = per + (j % 7) end
    for i = 1, 2000 do
      local ok, err = pcall(thrower.throw, thrower, i)
      -- thrower did not catch it: it died, pass the error up to us
      if not ok and err == i then caught = caught + 1 end
      if thrower.dead then
        thrower = greenlet.new(function()
          while true do main:switch(main:switch()) end
        end)
        thrower:switch()
      end
      for j = 1, 200 do acc = acc + (j % 7) end	-- hot, compiled
    end
    assert.equal(2000, caught)
    assert.equal(2000 * per, acc)
  end)

  it("errors from a dying greenlet are caught in compiled loops", function()
    local n = 0
    for i = 1, 5000 do
      local g = greenlet.new(function(k) if k % 2 == 0 then error(k, 0) end return k end)
      local ok, v = pcall(g.switch, g, i)
      if ok == (i % 2 == 1) and v == i then n = n + 1 end
    end
    assert.equal(5000, n)
  end)
end)
