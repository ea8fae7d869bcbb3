-- The hub: sleep, ordering, run/step, the hub's clock, many sleepers.
local lg = require "lgreen"
local H = require "helper"

describe("sleep", function()
  it("sleep(0) yields to every ready greenthread, in FIFO order", function()
    local order = {}
    for i = 1, 4 do
      lg.spawn_n(function()
        order[#order + 1] = "a" .. i
        lg.sleep(0)
        order[#order + 1] = "b" .. i
      end)
    end
    lg.sleep(0)
    assert.same({ "a1", "a2", "a3", "a4" }, order)
    lg.sleep(0)
    assert.same({ "a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4" }, order)
  end)

  it("sleep(s) waits at least s by the hub's clock", function()
    local t0 = lg.now()
    lg.sleep(0.03)
    assert.is_true(lg.now() - t0 >= 0.03)
  end)

  it("timers fire in deadline order, whatever the order they were set", function()
    -- Deadlines t0 + d, 0.1 s apart: each greenthread sleeps what is left
    -- (a sleep counts from its own start; the three start one after the
    -- other, and under valgrind on a busy machine that took over 10 ms).
    local order, t0 = {}, lg.now()
    for _, d in ipairs({ 0.3, 0.1, 0.2 }) do
      lg.spawn_n(function() lg.sleep(math.max(0, t0 + d - lg.now())) order[#order + 1] = d end)
    end
    lg.run()
    assert.same({ 0.1, 0.2, 0.3 }, order)
  end)

  it("rejects bad durations", function()
    assert.has_error(function() lg.sleep(-1) end)
    assert.has_error(function() lg.sleep("1") end)
  end)
end)

describe("run", function()
  it("returns when nothing is ready and no timer is active", function()
    local done = 0
    for i = 1, 5 do lg.spawn_n(function() lg.sleep(0.001 * i) done = done + 1 end) end
    lg.run()
    assert.equal(5, done)
    assert.equal(0, require("lgreen.core").hub.stats().timers)
  end)

  it("is refused outside the main greenlet", function()
    local gt = lg.spawn(function() return pcall(lg.run) end)
    local ok, err = gt:wait()
    assert.is_false(ok)
    assert.matches("main greenlet", err)
  end)
end)

describe("blocking in main with nothing to wake it", function()
  it("raises instead of hanging", function()
    local ev = lg.Event()
    local ok, err = pcall(ev.wait, ev)
    assert.is_false(ok)
    assert.matches("would block forever", err)
    assert.equal(0, ev:waiting())
  end)
end)

describe("step", function()
  it("runs what is ready and returns without blocking", function()
    local ran = 0
    lg.spawn_n(function() ran = ran + 1 end)
    local sleeper = lg.spawn(function() lg.sleep(10) ran = ran + 100 end)
    local t0 = lg.now()
    local more = lg.step()
    assert.equal(1, ran)
    assert.is_true(more)		-- the sleeper's timer is active
    assert.is_true(lg.now() - t0 < 5)
    sleeper:kill()
    assert.is_false(lg.step())	-- nothing left
    assert.equal(1, ran)
  end)
end)

describe("a foreign poller", function()
  it("gets the loop's fd and the next deadline", function()
    local hub = require("lgreen.core").hub
    local fd = hub.backend_fd()
    assert.is_number(fd)
    local p = io.popen("readlink /proc/" .. H.pid() .. "/fd/" .. fd)
    assert.equal("anon_inode:[eventpoll]", p:read("*l"))
    p:close()
    local gt = lg.spawn(function() lg.sleep(0.5) end)
    lg.step()				-- it starts, and parks for 0.5 s
    local t = hub.next_timeout()
    assert.is_true(t > 0.3 and t <= 0.5, tostring(t))
    gt:kill()
  end)
end)

describe("100,000 greenthreads", function()
  it("sleep concurrently and all wake, past the guarded-stack budget", function()
    local n = H.slow and 2000 or 100000
    local woke, t0 = 0, lg.now()
    for i = 1, n do
      lg.spawn_n(function() lg.sleep((i % 100) / 1000) woke = woke + 1 end)
    end
    lg.run()
    assert.equal(n, woke)
    assert.is_true(lg.now() - t0 >= 0.099)
    local stats = require("lgreen.greenlet").stats()
    -- on shared stacks, a few mappings serve them all
    if stats.default_stack == "shared" then assert.is_true(stats.stacks_mapped < 16) end
  end)
end)

describe("a plain switch into a waiting greenthread", function()
  it("makes the hub forget that wait", function()
    local log = {}
    local g
    local gt = lg.spawn(function()
      g = require("lgreen.greenlet").getcurrent()
      local r = { lg.sleep(0.02) }	-- woken by a plain switch instead
      log[#log + 1] = "woke early"
      lg.sleep(0.05)			-- a new, honest wait
      log[#log + 1] = "slept"
    end)
    lg.sleep(0)
    local main = require("lgreen.greenlet").getcurrent()
    lg.spawn_n(function() g:switch() end)	-- its parent is the hub
    lg.sleep(0.03)			-- past the first sleep's deadline
    assert.same({ "woke early" }, log)	-- not resumed a second time
    gt:wait()
    assert.same({ "woke early", "slept" }, log)
    assert.equal(0, require("lgreen.core").hub.stats().timers)
  end)
end)
