-- lg.TaskGroup: the first error cancels the siblings.
local lg = require "lgreen"
local H = require "helper"

-- Uncaught-error reports while f runs, through lg.on_error.
local function reports(f)
  local got = {}
  lg.on_error(function(err) got[#got + 1] = err end)
  local ok, e = pcall(f)
  lg.on_error(nil)
  if not ok then error(e, 0) end
  return got
end

describe("lg.TaskGroup", function()
  it("wait() returns the first result of each member, in spawn order", function()
    local tg = lg.TaskGroup()
    local a = tg:spawn(function() lg.sleep(0.002); return "a", "extra" end)
    tg:spawn(function() return nil end)
    tg:spawn(function() lg.sleep(0); return 3 end)
    assert.same({ n = 3, "a", nil, 3 }, table.pack and table.pack(tg:wait())
      or { n = select("#", tg:wait()), tg:wait() })
    assert.same({ "a", "extra" }, { a:wait() })
    assert.equal(0, tg:running())
  end)

  it("the first error kills the siblings wherever they wait, their cleanup runs, wait() raises it", function()
    local tg = lg.TaskGroup()
    local q, sem = lg.Queue(), lg.Semaphore(0)
    local srv = assert(lg.listen("127.0.0.1", 0))
    local _, port = srv:getsockname()
    local c = assert(lg.connect("127.0.0.1", port, 5))
    local parked, cleaned = 0, {}
    local function sibling(wait, ...)
      local ok, err = pcall(wait, ...)
      cleaned[#cleaned + 1] = not ok and err == lg.GreenletExit
    end
    local waits = {
      { lg.sleep, 3600 }, { q.get, q }, { sem.acquire, sem }, { c.receive, c },
    }
    local threads = {}
    for i, w in ipairs(waits) do
      threads[i] = tg:spawn(function() parked = parked + 1; sibling((unpack or table.unpack)(w)) end)
    end
    local boom = { "boom" }
    local line
    local got = reports(function()
      H.yield_until(function() return parked == #waits end)
      tg:spawn(function() line = debug.getinfo(1, "l").currentline; error(boom) end)
      local ok, err = pcall(tg.wait, tg)
      assert.is_false(ok)
      assert.equal(boom, err)
    end)
    assert.same({}, got)		-- neither the error nor the kills reported
    assert.same({ true, true, true, true }, cleaned)
    for _, t in ipairs(threads) do assert.is_true(t.dead) end
    assert.matches("72%-taskgroup_spec.lua:" .. line .. ":", tg.traceback)
    assert.equal(0, q:getting())
    c:close(); srv:close()
  end)

  it("siblings not started yet never run", function()
    local tg = lg.TaskGroup()
    local ran = false
    tg:spawn(error, "first", 0)
    local later = tg:spawn(function() ran = true end)
    -- `later` is queued behind the failing one: it is cancelled before it starts
    local got = reports(function()
      assert.same({ false, "first" }, { pcall(tg.wait, tg) })
    end)
    assert.same({}, got)
    assert.is_false(ran)
    assert.is_true(later.dead)
  end)

  it("a later error (a sibling's cleanup failing) is reported, not lost", function()
    local tg = lg.TaskGroup()
    tg:spawn(function()
      local ok = pcall(lg.sleep, 3600)
      assert(not ok)
      error("cleanup failed", 0)
    end)
    lg.sleep(0)
    local got = reports(function()
      tg:spawn(error, "first", 0)
      assert.same({ false, "first" }, { pcall(tg.wait, tg) })
    end)
    assert.same({ "cleanup failed" }, got)
  end)

  it("spawning into a group an error cancelled is refused", function()
    local tg = lg.TaskGroup()
    tg:spawn(error, "first", 0)
    pcall(tg.wait, tg)
    local ok, err = pcall(tg.spawn, tg, function() end)
    assert.is_false(ok)
    assert.matches("cancelled by an error", err)
  end)

  it("a member killed from outside is not a group error: its result is nil", function()
    local tg = lg.TaskGroup()
    local t = tg:spawn(lg.sleep, 3600)
    tg:spawn(function() return "ok" end)
    lg.sleep(0)
    t:kill()
    assert.same({ nil, "ok" }, { tg:wait() })
  end)

  it("kill() kills every member and waits: their cleanup ran, nothing reported", function()
    local tg = lg.TaskGroup()
    local cleaned = 0
    for _ = 1, 3 do
      tg:spawn(function()
        local ok = pcall(lg.sleep, 3600)
        assert(not ok)
        lg.sleep(0)	-- cleanup that parks again
        cleaned = cleaned + 1
      end)
    end
    lg.sleep(0)
    local got = reports(function() tg:kill() end)
    assert.same({}, got)
    assert.equal(3, cleaned)
    assert.equal(0, tg:running())
    assert.same({ nil, nil, nil }, { tg:wait() })
  end)

  it("kill(err): members die of err unreported, and wait() raises it", function()
    local tg = lg.TaskGroup()
    for _ = 1, 3 do tg:spawn(lg.sleep, 3600) end
    lg.sleep(0)
    local got = reports(function() tg:kill("shutdown") end)
    assert.same({}, got)
    assert.same({ false, "shutdown" }, { pcall(tg.wait, tg) })
  end)

  it("wait() interrupted by a Timeout kills the members and waits for them first", function()
    local tg = lg.TaskGroup()
    local cleaned = 0
    for _ = 1, 2 do
      tg:spawn(function()
        pcall(lg.sleep, 3600)
        cleaned = cleaned + 1
      end)
    end
    assert.same({ nil, "timeout" }, { lg.with_timeout(0.01, tg.wait, tg) })
    assert.equal(2, cleaned)
    assert.equal(0, tg:running())
  end)

  it("wait() and kill() from a member are errors naming them", function()
    local tg = lg.TaskGroup()
    local t = tg:spawn(function()
      local _, e1 = pcall(tg.wait, tg)
      local _, e2 = pcall(tg.kill, tg)
      return e1 .. "|" .. e2
    end)
    local msg = t:wait()
    assert.matches("TaskGroup:wait%(%): called from a member", msg)
    assert.matches("TaskGroup:kill%(%): called from a member", msg)
    tg:wait()
  end)

  it("spawn checks its function, naming the argument", function()
    local tg = lg.TaskGroup()
    local ok, err = pcall(tg.spawn, tg, 42)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'spawn' %(function expected, got number%)", err)
  end)
end)
