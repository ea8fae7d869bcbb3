-- A blocking call refused inside a __gc finalizer changes nothing: no
-- stale timer wakes a later wait, no socket stays "being read".  And a
-- userdata that is not a greenlet is never read past its end (run under
-- ASan by spec/run.sh --asan).
local lg = require "lgreen"
local greenlet = require "lgreen.greenlet"
local H = require "helper"

-- Run fn as a finalizer now, on the running greenlet.
local function in_finalizer(fn)
  do local _ = H.finalized(fn) end
  collectgarbage()
  collectgarbage()
end

describe("a wait refused inside a __gc finalizer", function()
  it("leaves no timer behind to wake a later wait early", function()
    local q = lg.Queue()
    local refused
    local gt = lg.spawn(function()
      in_finalizer(function() refused = select(2, pcall(lg.sleep, 0.05)) end)
      return q:get()		-- no timeout: only the put may end it
    end)
    lg.sleep(0.1)		-- the stale 0.05 s timer, if any, fires first
    assert.matches("cannot switch greenlets inside a __gc finalizer", refused)
    assert.is_false(gt.dead)
    q:put("item")
    assert.equal("item", gt:wait())
  end)

  it("leaves a socket free for the next receive", function()
    local server = assert(lg.listen("127.0.0.1", 0))
    local port = select(2, server:getsockname())
    local c = assert(lg.connect("127.0.0.1", port))
    local peer = assert(server:accept())
    local refused
    in_finalizer(function() refused = select(2, pcall(c.receive, c, 1)) end)
    assert.matches("cannot switch greenlets inside a __gc finalizer", refused)
    local reader = lg.spawn(function() return c:receive(1) end)
    lg.sleep(0)		-- the reader parks on the socket
    assert(peer:send("x"))
    assert.equal("x", reader:wait())
    c:close() peer:close() server:close()
  end)
end)

describe("a userdata that is not a greenlet", function()
  it("is refused without reading past its end", function()
    local small = newproxy and newproxy(false) or io.stdout
    local ok, err = pcall(greenlet.getcurrent().switch, small)
    assert.is_false(ok)
    assert.matches("greenlet expected, got userdata", err)
    ok, err = pcall(lg.greenlet.new, print, small)
    assert.is_false(ok)
    assert.matches("greenlet or options table expected, got userdata", err)
  end)
end)
