-- Many green threads at once: on shared stacks a parked one costs its live
-- slice (a few hundred bytes) and its Lua objects, not a stack page.
local lg = require "lgreen"
local greenlet = require "lgreen.greenlet"
local H = require "helper"

-- (the ucontext build, and LGREEN_STACK=private, have private stacks: a
-- quarter of this fits)
local it = greenlet.stats().default_stack == "shared" and it or pending

describe("200,000 green threads parked at once", function()
  it("all wake with exact results, and RSS stays bounded", function()
    local n = H.slow and 5000 or 200000
    local ev = lg.Event()
    local parked, sum, done = 0, 0, 0
    local function body(i)
      parked = parked + 1
      local v = ev:wait()
      sum = sum + v * i
      done = done + 1
    end
    -- warm up: pools, the hub, the shared stacks, the allocator
    for i = 1, 1000 do lg.spawn_n(body, i) end
    lg.sleep(0)
    ev:send(0)
    lg.sleep(0)
    ev = lg.Event()
    parked, sum, done = 0, 0, 0
    H.collect()
    local before = H.rss_kib()
    for i = 1, n do lg.spawn_n(body, i) end
    lg.sleep(0)				-- every one runs, and parks
    assert.equal(n, parked)
    H.collect()
    local per = (H.rss_kib() - before) * 1024 / n
    ev:send(3)
    lg.run()
    assert.equal(3 * n * (n + 1) / 2, sum)
    assert.equal(n, done)
    -- one more page (4 KiB) per green thread must not fit.  PUC Lua parks
    -- with deeper C frames (its slice is ~2.4 KiB, LuaJIT's ~0.5 KiB) and
    -- bigger objects (each thread's Lua stack and CallInfos).
    local bound = H.vm == "luajit" and 3 * 1024 or 7 * 1024
    assert.is_true(H.slow or per < bound,
      ("%.0f bytes of RSS per parked green thread (bound %d)"):format(per, bound))
    print(("# %s: %.0f bytes RSS per parked green thread"):format(H.vm, per))
  end)
end)
