-- lgreen.debug.top: CPU time and switches per green thread over an interval.
local lg = require "lgreen"
local dbg = require "lgreen.debug"

describe("debug.top", function()
  it("ranks a busy green thread above an idle one, and accounts for the hub", function()
    local stop = false
    local busy = lg.spawn(function()
      while not stop do
        local x = 0
        for i = 1, 20000 do x = x + i % 7 end
        lg.sleep(0)
      end
    end)
    local idle = lg.spawn(function()
      while not stop do lg.sleep(0.01) end
    end)
    busy.greenlet.name = "busy"
    local t = dbg.top(0.2)
    stop = true
    busy:wait()
    idle:wait()
    local rank = {}
    for i, r in ipairs(t) do if r.thread then rank[r.thread] = i end end
    assert.is_number(rank[busy])
    assert.is_number(rank[idle])
    assert.is_true(rank[busy] < rank[idle])
    local b, i = t[rank[busy]], t[rank[idle]]
    assert.is_true(b.cpu > i.cpu)
    assert.is_true(b.switches > 0)
    assert.is_true(i.switches > 0)
    for k = 2, #t do assert.is_true(t[k - 1].cpu >= t[k].cpu) end
    assert.is_true(t.elapsed > 0)
    assert.is_true(t.loop_wait >= 0)
    assert.is_number(t.hub)
    local text = tostring(t)
    assert.matches("^lgreen top: ", text)
    assert.matches("\n +" .. b.id .. " +[%d.]+ +%d+  'busy' ", text)
  end)

  it("refuses a bad interval, naming the argument", function()
    assert.error_matches(function() dbg.top(-1) end,
      "bad argument #1 to 'top' %(seconds > 0 expected%)")
    assert.error_matches(function() dbg.top("1") end,
      "bad argument #1 to 'top' %(seconds > 0 expected%)")
  end)
end)
