-- lgreen.debug: threads(), traceback() and dump() say which green threads
-- exist, what each waits on and where.
local lg = require "lgreen"
local dbg = require "lgreen.debug"

local SRC = debug.getinfo(1, "S").short_src
local function line() return debug.getinfo(2, "l").currentline end

-- The records of threads() whose thread is one of gts.
local function records(gts)
  local want, out = {}, {}
  for _, gt in ipairs(gts) do want[gt] = true end
  for _, r in ipairs(dbg.threads()) do
    if want[r.thread] then out[#out + 1] = r end
  end
  return out
end

describe("debug.threads", function()
  it("lists a parked GreenThread with what it waits on, where, and who spawned it", function()
    local ev = lg.Event()
    local gt, L1, L2
    L2 = line() gt = lg.spawn(function()
      L1 = line() ev:wait()
    end)
    gt.greenlet.name = "waiter"
    lg.sleep(0)
    local r = records({ gt })[1]
    assert.is_table(r)
    assert.equal(gt, r.thread)
    assert.equal(gt.greenlet, r.greenlet)
    assert.equal("waiter", r.name)
    assert.equal("parked", r.state)
    assert.equal("Event:wait", r.waiting)
    assert.equal(SRC .. ":" .. L1, r.where)
    assert.equal(SRC .. ":" .. L2, r.spawned_at)
    assert.is_number(r.id)
    local me
    for _, x in ipairs(dbg.threads()) do if x.state == "running" then me = x end end
    assert.equal(me.id, r.parent)			-- spawned by this one
    assert.is_true(r.since >= 0)
    assert.is_true(r.switches >= 1)
    assert.is_true(r.cpu >= 0)
    ev:send()
    gt:wait()
    assert.equal(0, #records({ gt }))			-- gone once dead
  end)

  it("says sleep with the time left, a Queue, a pool slot, a join, a socket's fd", function()
    local q, pool = lg.Queue(), lg.GreenPool(1)
    local a = lg.spawn(function() lg.sleep(30) end)
    local b = lg.spawn(function() q:get() end)
    local c = lg.spawn(function() pool:spawn(function() q:get() end) pool:spawn(print) end)
    local d = lg.spawn(function() b:wait() end)
    local srv = assert(lg.listen("127.0.0.1", 0))
    local e = lg.spawn(function() srv:accept() end)
    lg.sleep(0)
    lg.sleep(0)
    local by = {}
    for _, r in ipairs(records({ a, b, c, d, e })) do by[r.thread] = r end
    assert.equal("sleep", by[a].waiting)
    assert.is_true(by[a].timeout > 0 and by[a].timeout <= 30)
    assert.equal("Queue:get", by[b].waiting)
    assert.equal("GreenPool:spawn", by[c].waiting)
    assert.equal("GreenThread:wait", by[d].waiting)
    assert.equal("socket:accept", by[e].waiting)
    assert.equal(srv:getfd(), by[e].fd)
    assert.equal("read", by[e].io)
    for _, gt in ipairs({ a, b, c, d, e }) do gt:kill() end
    srv:close()
    q:put(1)
    pool:waitall()
  end)

  it("names a subprocess wait, a signal's dispatcher, and gives spawn_n's greenlet", function()
    local ev = lg.Event()
    local g = lg.spawn_n(function() ev:wait() end)
    local p = lg.process({ "sleep", "30" })
    local w = lg.spawn(function() p:wait() end)
    local h = lg.signal("USR2", function() end)
    lg.sleep(0)
    local by, dispatcher = {}, nil
    for _, r in ipairs(dbg.threads()) do
      if r.thread then by[r.thread] = r end
      if r.waiting == "signal.signal_wait" then dispatcher = r end
    end
    assert.equal("Event:wait", by[g].waiting)
    assert.equal(g, by[g].greenlet)
    assert.equal("process:wait", by[w].waiting)
    assert.is_table(dispatcher)
    p:kill()
    w:wait()
    ev:send()
    h:cancel()
  end)

  it("lists spawned green threads that have not started yet", function()
    local gt = lg.spawn(function() end)
    local later = lg.spawn_after(30, function() end)
    local by = {}
    for _, r in ipairs(records({ gt, later })) do by[r.thread] = r end
    assert.equal("new", by[gt].state)
    assert.equal("scheduled", by[later].state)
    assert.equal(SRC, by[later].spawned_at:match("^(.*):%d+$"))
    later:cancel()
    gt:wait()
  end)
end)

describe("debug.traceback", function()
  it("gives where a green thread is parked and where it was spawned", function()
    local ev = lg.Event()
    local L1, L2, gt
    L2 = line() gt = lg.spawn(function()
      L1 = line() ev:wait()
    end)
    lg.sleep(0)
    local tb = dbg.traceback(gt)
    assert.matches("Event:wait", tb, 1, true)
    assert.matches("stack traceback:", tb, 1, true)
    assert.matches(SRC .. ":" .. L1 .. ":", tb, 1, true)
    assert.matches("spawned at " .. SRC .. ":" .. L2, tb, 1, true)
    assert.equal(dbg.traceback(gt), dbg.traceback(gt.greenlet))
    ev:send()
    gt:wait()
    assert.equal("dead", dbg.traceback(gt))
  end)

  it("finds a spawn_n greenlet made while accounting was off", function()
    local core = require "lgreen.core"
    local ev = lg.Event()
    core.debug.disable()
    local L1, g
    L1 = line() g = lg.spawn_n(function() ev:wait() end)
    core.debug.enable()
    lg.sleep(0)
    local tb = dbg.traceback(g)
    assert.matches("Event:wait", tb, 1, true)
    assert.matches(SRC .. ":" .. L1 .. ":", tb, 1, true)
    ev:send()
  end)

  it("refuses what is not a green thread, naming the argument", function()
    assert.error_matches(function() dbg.traceback(42) end,
      "bad argument #1 to 'traceback' %(GreenThread or greenlet expected, got number%)")
    assert.error_matches(function() dbg.dump(42) end,
      "bad argument #1 to 'dump' %(file expected, got number%)")
  end)
end)

describe("debug.dump", function()
  it("groups 1,000 green threads parked in three places, largest first, with counts and lines", function()
    local q, ev, sem = lg.Queue(), lg.Event(), lg.Semaphore(0)
    local LQ, LE, LS, SQ, SE, SS
    local function onq() LQ = line() q:get() end
    local function onev() LE = line() ev:wait() end
    local function onsem() LS = line() sem:acquire() end
    local gts = {}
    SQ = line() for _ = 1, 500 do gts[#gts + 1] = lg.spawn(onq) end
    SE = line() for _ = 1, 300 do gts[#gts + 1] = lg.spawn(onev) end
    SS = line() for _ = 1, 200 do gts[#gts + 1] = lg.spawn(onsem) end
    lg.sleep(0)
    local name = os.tmpname()
    local f = assert(io.open(name, "w"))
    dbg.dump(f)
    f:close()
    f = assert(io.open(name))
    local text = f:read("*a")
    f:close()
    os.remove(name)
    -- each group: a header, ids, its frames, its spawn site
    local function group(count, what, L, S)
      local at = text:find(("\n%d parked on %s"):format(count, what), 1, true)
      assert.is_number(at, what .. " group of " .. count .. " in:\n" .. text:sub(1, 2000))
      local block = text:sub(at + 1):match("^(.-)\n\n") or text:sub(at + 1)
      assert.matches("\n  " .. SRC:gsub("%p", "%%%0") .. ":" .. L .. ": in ", block)
      assert.matches("\n  spawned at " .. SRC:gsub("%p", "%%%0") .. ":" .. S .. " by ", block)
      return at
    end
    local a = group(500, "Queue:get", LQ, SQ)
    local b = group(300, "Event:wait", LE, SE)
    local c = group(200, "Semaphore:acquire", LS, SS)
    assert.is_true(a < b and b < c, "largest groups first")
    ev:send()
    for _ = 1, 200 do sem:release() end
    for _ = 1, 500 do q:put(1) end
    for _, gt in ipairs(gts) do gt:wait() end
  end)
end)
