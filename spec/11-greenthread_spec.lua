-- spawn, spawn_n, spawn_after and GreenThread, with eventlet's semantics.
local lg = require "lgreen"
local H = require "helper"

describe("spawn", function()
  it("runs the function when the caller yields, and wait() returns its results", function()
    local started = false
    local gt = lg.spawn(function(a, b) started = true return a + b, nil, "x" end, 2, 3)
    assert.is_false(started)		-- not before the caller blocks
    local r = { n = 0 }
    r = (function(...) return { n = select("#", ...), ... } end)(gt:wait())
    assert.same({ n = 3, 5, nil, "x" }, r)
    assert.is_true(gt.dead)
    assert.equal(5, gt:wait())		-- again: same results
  end)

  it("wait() raises the same error value", function()
    local e = { code = 1 }
    local gt = lg.spawn(function() error(e) end)
    local ok, err = pcall(gt.wait, gt)
    assert.is_false(ok)
    assert.equal(e, err)
  end)

  it("several greenthreads can wait for one", function()
    local slow = lg.spawn(function() lg.sleep(0.01) return "v" end)
    local got = {}
    for i = 1, 3 do lg.spawn_n(function() got[i] = slow:wait() end) end
    lg.run()
    assert.same({ "v", "v", "v" }, got)
  end)

  it("a greenthread cannot wait for itself", function()
    local gt
    gt = lg.spawn(function() return pcall(function() return gt:wait() end) end)
    local ok, err = gt:wait()
    assert.is_false(ok)
    assert.matches("cannot wait for itself", err)
  end)

  it("refuses what is not callable", function()
    assert.has_error(function() lg.spawn(42) end,
      "bad argument #1 to 'spawn' (function expected, got number)")
    assert.has_error(function() lg.spawn_n() end)
    local callable = setmetatable({}, { __call = function(_, x) return x * 2 end })
    assert.equal(42, lg.spawn(callable, 21):wait())
  end)
end)

describe("spawn_n", function()
  it("runs without keeping a result", function()
    local seen
    lg.spawn_n(function(...) seen = { ... } end, 1, 2)
    lg.sleep(0)
    assert.same({ 1, 2 }, seen)
  end)
end)

describe("spawn_after", function()
  it("starts after the delay, by the hub's clock", function()
    local t0 = lg.now()
    local gt = lg.spawn_after(0.02, function() return lg.now() end)
    assert.is_true(gt:wait() - t0 >= 0.02)
  end)

  it("cancel() before the start means the function never runs", function()
    local ran = false
    local gt = lg.spawn_after(0.01, function() ran = true end)
    gt:cancel()
    assert.is_true(gt.dead)
    lg.sleep(0.02)
    assert.is_false(ran)
    local ok, err = pcall(gt.wait, gt)
    assert.is_false(ok)
    assert.equal(lg.GreenletExit, err)
  end)

  it("cancel() after the start does nothing", function()
    local gt = lg.spawn(function() lg.sleep(0.01) return "finished" end)
    lg.sleep(0)
    gt:cancel()
    assert.equal("finished", gt:wait())
  end)
end)

describe("kill", function()
  local function blocked_in(what)
    return function()
      local cleaned = false
      local gt = lg.spawn(function()
        local ok, err = pcall(what)
        cleaned = (err == lg.GreenletExit)
        error(err, 0)
      end)
      lg.sleep(0)			-- let it block
      gt:kill()
      assert.is_true(gt.dead)
      assert.is_true(cleaned)
      local ok, err = pcall(gt.wait, gt)
      assert.same({ false, lg.GreenletExit }, { ok, err })
      assert.equal(0, require("lgreen.core").hub.stats().timers)
    end
  end

  it("wakes a greenthread blocked in sleep", blocked_in(function() lg.sleep(10) end))
  it("wakes one blocked on an Event", blocked_in(function() lg.Event():wait() end))
  it("wakes one blocked on a Queue", blocked_in(function() lg.Queue():get() end))
  it("wakes one blocked on a Semaphore", blocked_in(function()
    local s = lg.Semaphore(0)
    s:acquire()
  end))
  it("wakes one blocked in wait() on another", blocked_in(function()
    lg.spawn(function() lg.Event():wait() end):wait()
  end))

  it("takes a custom error", function()
    local gt = lg.spawn(function() lg.sleep(10) end)
    lg.sleep(0)
    lg.kill(gt, "stop now")
    assert.same({ false, "stop now" }, { pcall(gt.wait, gt) })
  end)

  it("of a greenthread not yet started: it never runs", function()
    local ran = false
    local gt = lg.spawn(function() ran = true end)
    gt:kill()
    lg.sleep(0)
    assert.is_false(ran)
    assert.is_true(gt.dead)
  end)

  it("of itself raises at once", function()
    local after = false
    local gt
    gt = lg.spawn(function() gt:kill() after = true end)
    assert.same({ false, lg.GreenletExit }, { pcall(gt.wait, gt) })
    assert.is_false(after)
  end)

  it("of a dead greenthread does nothing", function()
    local gt = lg.spawn(function() return 1 end)
    gt:wait()
    gt:kill()
    assert.equal(1, gt:wait())
  end)

  it("refuses what is not a GreenThread", function()
    assert.has_error(function() lg.kill({}) end)
  end)
end)

describe("link", function()
  it("calls the function with the greenthread and curried arguments at the end", function()
    local calls = {}
    local gt = lg.spawn(function() lg.sleep(0) return "r" end)
    gt:link(function(t, a, b) calls[#calls + 1] = { t:wait(), a, b } end, "x", nil)
    gt:wait()
    assert.same({ { "r", "x", nil } }, calls)
  end)

  it("on a dead greenthread calls at once", function()
    local gt = lg.spawn(function() return 1 end)
    gt:wait()
    local called = false
    gt:link(function() called = true end)
    assert.is_true(called)
  end)

  it("unlink removes it", function()
    local called = false
    local f = function() called = true end
    local gt = lg.spawn(function() lg.sleep(0) end)
    gt:link(f)
    assert.is_true(gt:unlink(f))
    assert.is_false(gt:unlink(f))
    gt:wait()
    assert.is_false(called)
  end)
end)

describe("uncaught errors", function()
  it("are printed once with a traceback naming the greenthread and the spawn site, and the hub goes on", function()
    local code, out = H.run([[
      local lg = require "lgreen"
      local gt = lg.spawn(function() local x = nil; return x.field end)  -- line 2
      lg.spawn_n(function() error("from spawn_n") end)                   -- line 3
      local other = lg.spawn(function() lg.sleep(0.01) return "still here" end)
      print(pcall(gt.wait, gt))
      print(other:wait())
      lg.run()
    ]])
    assert.equal(0, code)
    local _, n1 = out:gsub("uncaught error in greenthread", "")
    assert.equal(2, n1)
    assert.matches("uncaught error in greenthread 0x%x+ spawned at [^\n]*:2:\n[^\n]*attempt to index", out)
    assert.matches("stack traceback:", out)
    assert.matches("spawned at [^\n]*:3:\n[^\n]*from spawn_n", out)
    assert.matches("false\t[^\n]*attempt to index", out)
    assert.matches("still here", out)
  end)

  it("killing is not an error: nothing printed", function()
    local code, out = H.run([[
      local lg = require "lgreen"
      local gt = lg.spawn(function() lg.sleep(1) end)
      lg.sleep(0)
      gt:kill()
      lg.run()
      print("ok")
    ]])
    assert.equal(0, code)
    assert.equal("ok\n", out)
  end)
end)

describe("spawn and finish", function()
  it("1,000,000 cycles keep RSS flat", function()
    local n = H.slow and 20000 or 1000000
    local batch = 1000
    local function round()
      local pending = {}
      for i = 1, batch do pending[i] = lg.spawn(function(x) return x end, i) end
      local s = 0
      for i = 1, batch do s = s + pending[i]:wait() end
      return s
    end
    for _ = 1, n / 10 / batch do round() end
    H.collect()
    local before, heap0 = H.rss_kib(), collectgarbage("count")
    local total = 0
    for _ = 1, n * 9 / 10 / batch do total = total + round() end
    H.collect()
    local after, heap1 = H.rss_kib(), collectgarbage("count")
    assert.equal(n * 9 / 10 / batch * batch * (batch + 1) / 2, total)
    assert.is_true(heap1 - heap0 < 1024, ("Lua heap grew by %.0f KiB"):format(heap1 - heap0))
    assert.is_true(H.slow or after - before < 32768,
      ("RSS grew by %d KiB"):format(after - before))
  end)
end)

describe("kill of a greenthread already woken", function()
  it("by a sleep that ran out: it raises the kill, nothing else is lost", function()
    local got
    local gt = lg.spawn(function()
      local ok, err = pcall(lg.sleep, 0.001)
      got = err
      error(err, 0)
    end)
    lg.sleep(0)			-- it sleeps
    local spin = lg.now() + 0.01
    while lg.now() < spin do end	-- its timer runs out meanwhile...
    lg.sleep(0)			-- ...and the hub queues it; main runs first
    gt:kill("stop")
    assert.same({ false, "stop" }, { pcall(gt.wait, gt) })
    assert.equal("stop", got)
  end)

  it("by a Timeout: the kill wins and the Timeout is settled", function()
    local t
    local gt = lg.spawn(function()
      t = lg.Timeout(0.001)
      local ok, err = pcall(lg.Event().wait, lg.Event())
      error(err, 0)
    end)
    lg.sleep(0)
    local spin = lg.now() + 0.01
    while lg.now() < spin do end
    lg.sleep(0)
    gt:kill("stop")
    assert.same({ false, "stop" }, { pcall(gt.wait, gt) })
    assert.is_false(t.pending)
  end)
end)
