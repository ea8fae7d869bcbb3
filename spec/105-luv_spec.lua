-- lgreen.luv: the hub inside a luv program.  Green threads sleep, talk on
-- sockets and run a process while uv timers fire; uv.run() returns once
-- both sides are idle; detach takes lgreen's handles off the uv loop.
local lg = require "lgreen"
local uv = require "luv"
local lgluv = require "lgreen.luv"

describe("lgreen.luv", function()
  it("exposes backend_fd and next_timeout on the public module", function()
    assert.is_number(lg.backend_fd())
    local t = lg.next_timeout()
    assert.is_true(t == nil or t >= 0)
  end)

  it("runs green threads (sleeps, sockets, a process) among uv timers", function()
    local detach = lgluv.attach(uv)
    local log = {}
    local ticks = 0
    local tick = uv.new_timer()
    tick:start(1, 1, function()
      ticks = ticks + 1
      if ticks == 5 then tick:close() end
    end)
    local srv = assert(lg.listen("127.0.0.1", 0))
    local _, port = srv:getsockname()
    lg.spawn(function()
      local c = assert(srv:accept())
      local line = assert(c:receive("*l"))
      assert(c:send(line:upper() .. "\n"))
      c:close()
      srv:close()
    end)
    lg.spawn(function()
      local c = assert(lg.connect("127.0.0.1", port))
      assert(c:send("ping\n"))
      log.reply = c:receive("*l")
      c:close()
    end)
    lg.spawn(function()
      log.out, _, log.code = lg.process.run({ "echo", "out" })
    end)
    for i = 3, 1, -1 do
      lg.spawn(function() lg.sleep(0.01 * i) log[#log + 1] = i end)
    end
    uv.run()
    detach()
    assert.same({ 1, 2, 3 }, { log[1], log[2], log[3] })
    assert.equal("PING", log.reply)
    assert.equal("out\n", log.out)
    assert.equal(0, log.code)
    assert.equal(5, ticks)
  end)

  it("uv.run() waits for a green thread that a uv callback spawned", function()
    local detach = lgluv.attach(uv)
    local done
    local t = uv.new_timer()
    t:start(1, 0, function()
      t:close()
      lg.spawn_n(function() lg.sleep(0.02) done = "slept" end)
    end)
    uv.run()
    detach()
    assert.equal("slept", done)
  end)

  it("... and one that a uv I/O callback spawned", function()
    local detach = lgluv.attach(uv)
    local done
    local async
    async = uv.new_async(function()
      async:close()
      lg.spawn_n(function() lg.sleep(0.02) done = "slept" end)
    end)
    async:send()
    uv.run()
    detach()
    assert.equal("slept", done)
  end)

  it("uv.run() returns at once when neither side has work", function()
    local detach = lgluv.attach(uv)
    local tick = uv.new_timer()
    local fired = false
    tick:start(1, 0, function() fired = true tick:close() end)
    uv.run()
    assert.is_true(fired)
    assert.is_false(uv.loop_alive())
    detach()
  end)

  it("detach takes lgreen's handles off the uv loop", function()
    local detach = lgluv.attach(uv)
    local done
    lg.spawn_n(function() lg.sleep(0.01) done = true end)
    detach()
    detach()		-- a second call does nothing
    uv.run()		-- closes the handles; nothing of lgreen holds it
    assert.is_nil(done)
    assert.is_false(uv.loop_alive())
    lg.run()		-- lgreen's own loop finishes it
    assert.is_true(done)
  end)

  it("names its argument when it is not the luv module", function()
    assert.has_error(function() lgluv.attach(nil) end,
      "bad argument #1 to 'attach' (the luv module expected, got nil)")
  end)
end)
