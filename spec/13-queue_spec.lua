-- Queue, LightQueue, PriorityQueue, LifoQueue; maxsize 0 is a channel.
local lg = require "lgreen"

describe("Queue", function()
  it("is FIFO and counts", function()
    local q = lg.Queue()
    for i = 1, 3 do assert.is_true(q:put(i)) end
    assert.equal(3, q:qsize())
    assert.same({ 1, 2, 3 }, { q:get(), q:get(), q:get() })
    assert.is_true(q:empty())
  end)

  it("get blocks until a put, getters served in order", function()
    local q = lg.Queue()
    local got = {}
    for i = 1, 3 do lg.spawn_n(function() local v = q:get(); got[#got + 1] = i .. v end) end
    lg.sleep(0)
    assert.equal(3, q:getting())
    q:put("a") q:put("b") q:put("c")
    lg.sleep(0)
    assert.same({ "1a", "2b", "3c" }, got)
  end)

  it("put blocks while full, in order", function()
    local q = lg.Queue(2)
    q:put(1) q:put(2)
    assert.is_true(q:full())
    assert.same({ nil, "full" }, { q:put(3, false) })
    lg.spawn_n(function() q:put(3) end)
    lg.spawn_n(function() q:put(4) end)
    lg.sleep(0)
    assert.equal(2, q:putting())
    assert.same({ 1, 2, 3, 4 }, { q:get(), q:get(), q:get(), q:get() })
  end)

  it("timeouts return nil, 'timeout' and leave no waiter", function()
    local q = lg.Queue(1)
    assert.same({ nil, "timeout" }, { q:get(true, 0.01) })
    assert.equal(0, q:getting())
    q:put("x")
    assert.same({ nil, "timeout" }, { q:put("y", true, 0.01) })
    assert.equal(0, q:putting())
    assert.equal("x", q:get())
    assert.same({ nil, "empty" }, { q:get(false) })
    assert.same({ nil, "empty" }, { q:get_nowait() })
  end)

  it("refuses nil items and bad sizes", function()
    assert.has_error(function() lg.Queue():put(nil) end)
    assert.has_error(function() lg.Queue(-1) end)
    assert.has_error(function() lg.Queue("3") end)
  end)

  it("task_done and join", function()
    local q = lg.Queue()
    local done = {}
    for i = 1, 3 do q:put(i) end
    lg.spawn_n(function()
      while true do
        local item = q:get()
        lg.sleep(0.001)
        done[#done + 1] = item
        q:task_done()
      end
    end)
    assert.is_true(q:join())
    assert.same({ 1, 2, 3 }, done)
    assert.has_error(function() q:task_done() end)
  end)
end)

describe("Queue(0)", function()
  it("is a rendezvous: put waits for a getter", function()
    local ch = lg.Queue(0)
    local log = {}
    lg.spawn_n(function() log[#log + 1] = "put"; ch:put("m"); log[#log + 1] = "taken" end)
    lg.sleep(0)
    assert.same({ "put" }, log)
    assert.equal("m", ch:get())
    lg.sleep(0)
    assert.same({ "put", "taken" }, log)
  end)

  it("get waits for a putter", function()
    local ch = lg.Queue(0)
    local gt = lg.spawn(function() return ch:get() end)
    lg.sleep(0)
    assert.is_true(ch:put("direct"))
    assert.equal("direct", gt:wait())
  end)
end)

describe("PriorityQueue and LifoQueue", function()
  it("PriorityQueue returns lowest first, FIFO among equals", function()
    local q = lg.PriorityQueue()
    q:put({ 2, "b1" }) q:put({ 1, "a" }) q:put({ 2, "b2" }) q:put({ 0, "z" }) q:put({ 2, "b3" })
    local out = {}
    while not q:empty() do out[#out + 1] = q:get()[2] end
    assert.same({ "z", "a", "b1", "b2", "b3" }, out)
    q:put(5) q:put(3) q:put(4)
    assert.same({ 3, 4, 5 }, { q:get(), q:get(), q:get() })
  end)

  it("LifoQueue is a stack", function()
    local q = lg.LifoQueue()
    q:put(1) q:put(2) q:put(3)
    assert.same({ 3, 2, 1 }, { q:get(), q:get(), q:get() })
  end)

  it("LightQueue cannot join", function()
    local q = lg.LightQueue()
    q:put(1)
    assert.equal(1, q:get())
    assert.has_error(function() q:join() end)
  end)
end)
