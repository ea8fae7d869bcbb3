-- Group cancellation: GreenPool:killall, lg.kill of what spawn_n returns,
-- and what pool:spawn_n returns when it runs the function inline.
local lg = require "lgreen"
local H = require "helper"

local function pair()
  local srv = assert(lg.listen("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local acc = lg.spawn(function() return assert(srv:accept()) end)
  local c = assert(lg.connect("127.0.0.1", port, 5))
  local s = acc:wait()
  srv:close()
  return c, s
end

describe("GreenPool:killall", function()
  it("kills spawn and spawn_n members parked in sleep, Queue:get, receive and Semaphore, and their cleanup runs", function()
    local pool = lg.GreenPool(10)
    local q, sem = lg.Queue(), lg.Semaphore(0)
    local c, s = pair()
    local parked, cleaned = 0, {}
    local waits = {
      sleep = function() lg.sleep(3600) end,
      get = function() q:get() end,
      receive = function(sock) sock:receive() end,
      acquire = function() sem:acquire() end,
    }
    local function member(kind, sock)
      local ok, err = pcall(function()
        parked = parked + 1
        waits[kind](sock)
      end)
      cleaned[#cleaned + 1] = { kind, ok, err }
      if not ok then error(err, 0) end
    end
    local threads = {}
    for _, kind in ipairs({ "sleep", "get", "receive", "acquire" }) do
      threads[#threads + 1] = pool:spawn(member, kind, c)
      pool:spawn_n(member, kind, s)
    end
    H.yield_until(function() return parked == 8 end)
    assert.equal(8, pool:running())
    pool:killall()
    assert.equal(0, pool:running())
    assert.equal(10, pool:free())
    assert.equal(8, #cleaned)
    for _, r in ipairs(cleaned) do
      assert.is_false(r[2])
      assert.equal(lg.GreenletExit, r[3])
    end
    for _, t in ipairs(threads) do
      assert.is_true(t.dead)
      assert.equal(lg.GreenletExit, select(2, pcall(t.wait, t)))
    end
    -- nothing was left behind in what they waited on
    assert.equal(0, q:getting())
    sem:release()
    assert.equal(1, sem:balance())
    c:close(); s:close()
  end)

  it("kills members that have not started: they never run, and their slots come back", function()
    local pool = lg.GreenPool(4)
    local ran = 0
    local t = pool:spawn(function() ran = ran + 1 end)
    pool:spawn_n(function() ran = ran + 1 end)
    pool:killall()
    assert.equal(0, ran)
    assert.is_true(t.dead)
    assert.equal(4, pool:free())
  end)

  it("kills with the error given, which :wait() raises", function()
    local pool = lg.GreenPool(2)
    local t = pool:spawn(function() lg.sleep(3600) end)
    lg.sleep(0)
    local code, out = 0, ""
    lg.on_error(function(err) out = out .. tostring(err) end)
    pool:killall("shutdown")
    lg.on_error(nil)
    assert.same({ false, "shutdown" }, { pcall(t.wait, t) })
    assert.equal("shutdown", out)
    assert.equal(0, code)
  end)

  it("a spawner blocked on the full pool loses no slot", function()
    local pool = lg.GreenPool(1)
    pool:spawn(function() lg.sleep(3600) end)
    local ran = false
    local spawner = lg.spawn(function()
      return pool:spawn(function() ran = true end)
    end)
    H.yield_until(function() return pool:waiting() == 1 end)
    pool:killall()
    spawner:wait()
    pool:waitall()
    assert.equal(1, pool:free())
    assert.equal(0, pool:waiting())
  end)

  it("a member parked in a spawn it runs inline (its pool full) dies, not carries on", function()
    local pool = lg.GreenPool(1)
    local parked, carried_on, cleaned = false, false, false
    pool:spawn(function()
      local ok = pcall(function()
        pool:spawn(function() parked = true; lg.sleep(3600) end)	-- inline
        carried_on = true
      end)
      cleaned = not ok
      if not ok then error(lg.GreenletExit) end
    end)
    H.yield_until(function() return parked end)
    pool:killall()
    assert.is_false(carried_on)
    assert.is_true(cleaned)
    assert.equal(1, pool:free())
  end)

  it("from a member of the pool is an error naming killall", function()
    local pool = lg.GreenPool(2)
    local t = pool:spawn(function() return pcall(pool.killall, pool) end)
    local ok, err = t:wait()
    assert.is_false(ok)
    assert.matches("killall%(%): called from a member", err)
  end)

  it("waits for a member whose cleanup blocks", function()
    local pool = lg.GreenPool(2)
    local done = false
    pool:spawn_n(function()
      local ok = pcall(lg.sleep, 3600)
      assert(not ok)
      lg.sleep(0.001)		-- cleanup that parks again
      done = true
    end)
    lg.sleep(0)
    pool:killall()
    assert.is_true(done)
    assert.equal(0, pool:running())
  end)
end)

describe("lg.kill of what spawn_n returns", function()
  it("kills a started one where it is parked; its cleanup runs", function()
    local cleaned = false
    local g = lg.spawn_n(function()
      local ok, err = pcall(lg.sleep, 3600)
      cleaned = not ok and err == lg.GreenletExit
    end)
    lg.sleep(0)
    lg.kill(g)
    assert.is_true(cleaned)
    assert.is_true(g.dead)
    lg.kill(g)		-- over: nothing to do
  end)

  it("one that has not started never runs; a pool's slot comes back", function()
    local ran = false
    local g = lg.spawn_n(function() ran = true end)
    lg.kill(g)
    lg.sleep(0)
    assert.is_false(ran)
    local pool = lg.GreenPool(1)
    local pg = pool:spawn_n(function() ran = true end)
    assert.equal(0, pool:free())
    lg.kill(pg)
    assert.equal(1, pool:free())
    lg.sleep(0)
    assert.is_false(ran)
  end)

  it("a pool's spawn_n member killed while parked frees its slot", function()
    local pool = lg.GreenPool(1)
    local g = pool:spawn_n(lg.sleep, 3600)
    lg.sleep(0)
    lg.kill(g)
    assert.equal(1, pool:free())
  end)

  it("works with lgreen.greenthread required alone (no lgreen.greenlet loaded first)", function()
    local code, out = H.run([[
      local gt = require "lgreen.greenthread"
      local g = gt.spawn_n(function() end)
      gt.kill(g)
      print(g.dead)
    ]])
    assert.equal(0, code, out)
    assert.equal("true\n", out)
  end)

  it("refuses anything else, naming the argument", function()
    local ok, err = pcall(lg.kill, 42)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'kill' %(GreenThread or greenlet of spawn_n expected, got number%)", err)
    local raw = lg.greenlet.new(function() lg.greenlet.getcurrent().parent:switch() end)
    raw:switch()	-- suspended outside the hub
    ok, err = pcall(lg.kill, raw)
    assert.is_false(ok)
    assert.matches("got another greenlet", err)
  end)

  it("of one switched away outside the hub, raises at the line of the kill", function()
    local here = debug.getinfo(1, "S").short_src
    local got = {}
    -- f runs on a raw greenlet: the one it kills is neither running nor
    -- blocked in the hub.  f returns the kill's pcall and its line.
    local function outside(name, f)
      lg.greenlet.new(function() got[name] = { f() } end):switch()
    end
    local t
    t = lg.spawn(function()
      outside("t:kill", function()
        local line = H.next_line()
        return line, pcall(function() t:kill() end)
      end)
    end)
    t:wait()
    local g, done
    g = lg.spawn_n(function()
      outside("lg.kill(g)", function()
        local line = H.next_line()
        return line, pcall(function() lg.kill(g) end)
      end)
      done = true
    end)
    H.yield_until(function() return done end)
    local function check(name, who)
      local r = assert(got[name], name)
      assert.is_false(r[2], name)
      assert.equal(here .. ":" .. r[1] .. ": " .. who .. ": it is not blocked in the hub",
        r[3], name)
    end
    check("t:kill", "GreenThread:kill()")
    check("lg.kill(g)", "kill()")
  end)
end)

describe("pool:spawn_n from a member of its own full pool", function()
  it("runs the function in the caller and returns a greenlet that is over, not its results", function()
    local pool = lg.GreenPool(1)
    local ran_in
    local t = pool:spawn(function()
      local g = pool:spawn_n(function() ran_in = lg.getcurrent(); return "result" end)
      return g, lg.getcurrent()
    end)
    local g, member = t:wait()
    assert.equal(member, ran_in)
    assert.not_equal("result", g)
    assert.is_true(g.dead)
    lg.kill(g)		-- killable, and over
  end)

  it("an error of the inline function goes on in the caller", function()
    local pool = lg.GreenPool(1)
    local t = pool:spawn(function()
      return pcall(pool.spawn_n, pool, error, "inline boom", 0)
    end)
    assert.same({ false, "inline boom" }, { t:wait() })
  end)
end)
