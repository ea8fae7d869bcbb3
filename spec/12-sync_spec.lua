-- Event, Semaphore, BoundedSemaphore, Lock: FIFO wake-ups, timeouts, and no
-- stale waiter left by a timeout or a kill.
local lg = require "lgreen"

describe("Event", function()
  it("wakes every waiter with the value, and later waiters get it at once", function()
    local ev = lg.Event()
    local got = {}
    for i = 1, 3 do lg.spawn_n(function() local v = ev:wait(); got[#got + 1] = { i, v } end) end
    lg.sleep(0)
    assert.equal(3, ev:waiting())
    assert.is_false(ev:ready())
    ev:send("v")
    assert.is_true(ev:ready())
    lg.sleep(0)
    assert.same({ { 1, "v" }, { 2, "v" }, { 3, "v" } }, got)
    assert.equal("v", ev:wait())
  end)

  it("send twice is an error; reset allows sending again", function()
    local ev = lg.Event()
    ev:send(1)
    assert.has_error(function() ev:send(2) end)
    ev:reset()
    assert.is_false(ev:ready())
    ev:send(3)
    assert.equal(3, ev:wait())
  end)

  it("wait with a timeout returns nil, 'timeout' and leaves no waiter", function()
    local ev = lg.Event()
    local t0 = lg.now()
    assert.same({ nil, "timeout" }, { ev:wait(0.02) })
    assert.is_true(lg.now() - t0 >= 0.02)
    assert.equal(0, ev:waiting())
  end)

  it("send_exception makes waiters raise", function()
    local ev = lg.Event()
    local gt = lg.spawn(function() return ev:wait() end)
    lg.sleep(0)
    ev:send_exception("bad")
    assert.same({ false, "bad" }, { pcall(gt.wait, gt) })
  end)

  it("a killed waiter leaves no entry behind", function()
    local ev = lg.Event()
    local gts = {}
    for i = 1, 3 do gts[i] = lg.spawn(function() return ev:wait() end) end
    lg.sleep(0)
    gts[2]:kill()
    assert.equal(2, ev:waiting())
    ev:send("x")
    assert.equal("x", gts[1]:wait())
    assert.equal("x", gts[3]:wait())
  end)
end)

describe("Semaphore", function()
  it("counts, blocks at zero, and serves waiters in FIFO order", function()
    local s = lg.Semaphore(2)
    assert.is_true(s:acquire())
    assert.is_true(s:acquire())
    assert.is_true(s:locked())
    assert.is_false(s:acquire(false))
    local order = {}
    for i = 1, 3 do
      lg.spawn_n(function() s:acquire() order[#order + 1] = i end)
    end
    lg.sleep(0)
    assert.equal(-3, s:balance())
    s:release()
    s:release()
    s:release()
    lg.sleep(0)
    assert.same({ 1, 2, 3 }, order)
  end)

  it("a waiter does not lose its turn to a newcomer", function()
    local s = lg.Semaphore(0)
    local order = {}
    lg.spawn_n(function() s:acquire() order[#order + 1] = "waiter" end)
    lg.sleep(0)
    s:release()				-- handed to the waiter
    assert.is_false(s:acquire(false))	-- the newcomer does not get it
    lg.sleep(0)
    assert.same({ "waiter" }, order)
  end)

  it("acquire with a timeout returns false and leaves no waiter", function()
    local s = lg.Semaphore(0)
    assert.is_false(s:acquire(true, 0.01))
    assert.equal(0, s:balance())
    s:release()
    assert.is_true(s:acquire(false))
  end)

  it("a killed waiter does not swallow a release", function()
    local s = lg.Semaphore(0)
    local a = lg.spawn(function() s:acquire() return "a" end)
    local b = lg.spawn(function() s:acquire() return "b" end)
    lg.sleep(0)
    a:kill()
    s:release()
    assert.equal("b", b:wait())
  end)

  it("with() releases even when the function raises", function()
    local s = lg.Semaphore(1)
    assert.has_error(function() s:with(function() error("x") end) end)
    assert.is_false(s:locked())
    assert.equal(7, s:with(function(a) return a end, 7))
  end)

  it("rejects a bad count", function()
    assert.has_error(function() lg.Semaphore(-1) end)
    assert.has_error(function() lg.Semaphore(1.5) end)
  end)
end)

describe("BoundedSemaphore and Lock", function()
  it("over-release raises", function()
    local b = lg.BoundedSemaphore(1)
    assert.has_error(function() b:release() end, "BoundedSemaphore released too many times")
    b:acquire()
    b:release()
  end)

  it("Lock excludes", function()
    local lock = lg.Lock()
    local inside, max = 0, 0
    for _ = 1, 4 do
      lg.spawn_n(function()
        lock:acquire()
        inside = inside + 1
        max = math.max(max, inside)
        lg.sleep(0.001)
        inside = inside - 1
        lock:release()
      end)
    end
    lg.run()
    assert.equal(1, max)
    assert.is_false(lock:locked())
  end)
end)
