-- Waiting on file descriptors parks only the waiting greenthread.  The fds
-- come from LuaSocket (non-blocking, settimeout(0)).
local lg = require "lgreen"
local socket = require "socket"

local function listener()
  local srv = assert(socket.bind("127.0.0.1", 0))
  srv:settimeout(0)
  local _, port = srv:getsockname()
  return srv, port
end

describe("wait_read / wait_write", function()
  it("an accept and a read wait in the hub while others run", function()
    local srv, port = listener()
    local ticks, got, parked = 0, nil, nil
    local ticker = lg.spawn(function()
      while not got do ticks = ticks + 1 lg.sleep(0.001) end
    end)
    local server = lg.spawn(function()
      parked = ticks
      assert(lg.wait_read(srv:getfd(), 5))
      local c = assert(srv:accept())
      c:settimeout(0)
      assert(lg.wait_read(c:getfd(), 5))
      got = c:receive("*l")
      c:close()
      return got
    end)
    lg.spawn_n(function()
      -- connect once the ticker has run 5 times while the server waits
      while not (parked and ticks >= parked + 5) do lg.sleep(0.001) end
      local c = assert(socket.connect("127.0.0.1", port))
      assert(lg.wait_write(c:getfd(), 5))
      c:send("hello\n")
      c:close()
    end)
    assert.equal("hello", server:wait())
    ticker:wait()
    srv:close()
    assert.is_true(ticks >= 5, "the hub kept running: " .. ticks .. " ticks")
  end)

  it("times out with nil, 'timeout' and leaves no watcher behind", function()
    local srv = listener()
    local t0 = lg.now()
    assert.same({ nil, "timeout" }, { lg.wait_read(srv:getfd(), 0.02) })
    assert.is_true(lg.now() - t0 >= 0.02)
    srv:close()
    lg.run()				-- returns: nothing active is left
  end)

  it("a killed waiter stops its watcher", function()
    local srv = listener()
    local gt = lg.spawn(function() return lg.wait_read(srv:getfd()) end)
    lg.sleep(0)
    gt:kill()
    assert.same({ false, lg.GreenletExit }, { pcall(gt.wait, gt) })
    srv:close()
    lg.run()				-- would hang on a live watcher
  end)

  it("a Timeout interrupts it", function()
    local srv = listener()
    local t = lg.Timeout(0.01)
    local ok, err = pcall(lg.wait_read, srv:getfd())
    assert.is_false(ok)
    assert.equal(t, err)
    srv:close()
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() lg.wait_read("x") end)
    assert.has_error(function() lg.wait_read(-1) end)
    assert.has_error(function() require("lgreen.core").hub.wait_fd(0, "x") end)
  end)
end)
