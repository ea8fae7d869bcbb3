-- Nothing outside a running greenlet points into its stack: a suspended
-- greenthread's frames are copied off its shared stack while others run
-- there, so whatever the hub, a libev callback or a C thread touches while
-- it waits (watchers, jobs, buffers) must live in heap objects.  The ASan
-- build poisons a shared stack nobody runs on, so a touch is reported.
local lg = require "lgreen"
local socket = require "socket"

-- n connected pairs of non-blocking LuaSocket TCP sockets.
local function pairs_of(n)
  local srv = assert(socket.bind("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local out = {}
  for i = 1, n do
    local c = assert(socket.connect("127.0.0.1", port))
    local s = assert(srv:accept())
    c:settimeout(0)
    s:settimeout(0)
    out[i] = { c, s }
  end
  srv:close()
  return out
end

describe("waits of greenthreads on shared stacks", function()
  it("wait_read: 40 waiters, interleaved with sleepers, each gets its own fd", function()
    local n = 40
    local p = pairs_of(n)
    local got, busy = {}, true
    local gts = {}
    for i = 1, n do
      gts[i] = lg.spawn(function()
        -- a few frames of its own below the wait, with values to keep
        local function nest(k, acc)
          if k == 0 then
            assert(lg.wait_read(p[i][2]:getfd(), 10))
            return acc .. p[i][2]:receive("*l")
          end
          return nest(k - 1, acc .. k)
        end
        got[i] = nest(i % 7, "")
      end)
    end
    -- others keep using the shared stacks while the readers wait
    for k = 1, 20 do lg.spawn_n(function() while busy do lg.sleep(0.001) end end) end
    lg.sleep(0.01)
    for i = n, 1, -1 do
      p[i][1]:send("msg" .. i .. "\n")
      lg.sleep(0)
    end
    for i = 1, n do gts[i]:wait() end
    busy = false
    lg.run()
    for i = 1, n do
      local prefix = ""
      for k = i % 7, 1, -1 do prefix = prefix .. k end
      assert.equal(prefix .. "msg" .. i, got[i])
      p[i][1]:close()
      p[i][2]:close()
    end
  end)

  it("socket receive and wait_write from many greenthreads at once", function()
    local n = 30
    local p = pairs_of(n)
    local got = {}
    local gts = {}
    for i = 1, n do
      gts[i] = lg.spawn(function()
        assert(lg.wait_write(p[i][1]:getfd(), 10))
        assert(lg.wait_read(p[i][2]:getfd(), 10))
        got[i] = p[i][2]:receive("*l")
      end)
    end
    lg.sleep(0.01)
    for i = 1, n do p[i][1]:send(("x"):rep(i) .. "\n") end
    for i = 1, n do gts[i]:wait() end
    for i = 1, n do
      assert.equal(("x"):rep(i), got[i])
      p[i][1]:close()
      p[i][2]:close()
    end
  end)
end)
