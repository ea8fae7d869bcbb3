-- lgreen.debug.watch_blocking: a green thread that runs without switching
-- is reported while it still runs, and again when it switches out.
local lg = require "lgreen"
local dbg = require "lgreen.debug"
local core = require "lgreen.core"
local H = require "helper"

-- A child VM whose green thread 'cruncher' spins until the parent has seen
-- the watchdog's first report (the parent then creates the flag file),
-- while another green thread ticks on a 5 ms timer.
local CHILD = [[
local lg = require "lgreen"
local dbg = require "lgreen.debug"
local FLAG = ...
local ticks = 0
lg.spawn(function() while true do lg.sleep(0.005) ticks = ticks + 1 end end)
dbg.watch_blocking(100)
local gt = lg.spawn(function()
  lg.sleep(0.01)                          -- RESUMED
  local before = ticks
  while not io.open(FLAG) do end          -- busy, no switch
  io.stdout:write("ticks while busy: ", ticks - before, "\n")
  lg.sleep(0)                             -- SWITCHED
end)
gt.greenlet.name = "cruncher"
gt:wait()
io.stdout:write("done\n")
os.exit(0)
]]

-- The line of CHILD that holds marker.
local function lineof(marker)
  local n = 0
  for l in CHILD:gmatch("([^\n]*)\n") do
    n = n + 1
    if l:find(marker, 1, true) then return n end
  end
end

describe("debug.watch_blocking", function()
  it("reports a busy green thread at once, then where it switched out; the others waited", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(CHILD)
    f:close()
    local flag = os.tmpname()
    os.remove(flag)
    local p = lg.process({ H.lua, script, flag }, { stdout = "pipe", stderr = "pipe",
      env = H.childenv() })
    local first = assert(p.stderr:receive("*l"))
    -- the parent saw the report while the child still spins: let it go
    assert(io.open(flag, "w")):close()
    local rest = p.stderr:receive("*a")
    local out = p.stdout:receive("*a")
    local code = p:wait()
    os.remove(flag)
    local src = script:match("[^/]+$")
    assert.equal(0, code, first .. rest .. out)
    local ms1 = first:match("^lgreen: green thread 'cruncher' %(id %d+%) has been running for "
      .. "(%d+) ms without switching %(resumed at .-" .. src .. ":" .. lineof("RESUMED") .. "%)$")
    assert.is_string(ms1, first)
    local ms2, tb = rest:match("^lgreen: green thread 'cruncher' %(id %d+%) blocked the hub for "
      .. "(%d+) ms %(resumed at .-" .. src .. ":" .. lineof("RESUMED")
      .. "%), until it switched out here:\n(.*)$")
    assert.is_string(ms2, rest)
    assert.is_true(tonumber(ms2) >= tonumber(ms1))
    assert.matches("stack traceback:", tb, 1, true)
    assert.matches(src .. ":" .. lineof("SWITCHED") .. ": in function", tb, 1, true)
    assert.equal("ticks while busy: 0\ndone\n", out)	-- the timers were late
    os.remove(script)
  end)

  it("hands fn both reports as tables, after the blocker switched out", function()
    local got, hold = lg.Queue(), lg.Event()
    local function spin()
      local n = core.debug.stats().blocking
      while core.debug.stats().blocking == n do end	-- until the watchdog saw us
      lg.sleep(0)
      hold:wait()		-- alive when fn gets the reports
    end
    local LINE = debug.getinfo(1, "l").currentline - 3
    dbg.watch_blocking(20, function(r) got:put(r) end)
    local gt = lg.spawn(spin)
    gt.greenlet.name = "spinner"
    local a, b = got:get(), got:get()
    dbg.watch_blocking(false)
    hold:send()
    gt:wait()
    assert.equal("blocking", a.phase)
    assert.equal("blocked", b.phase)
    for _, r in ipairs({ a, b }) do
      assert.equal("spinner", r.name)
      assert.equal(gt, r.thread)
      assert.is_number(r.id)
      assert.is_true(r.ms >= 20)
    end
    assert.is_true(b.ms >= a.ms)
    local src = debug.getinfo(1, "S").short_src
    assert.matches(src .. ":" .. LINE .. ": in function", b.traceback, 1, true)
  end)

  it("does not wake while the hub is idle", function()
    local code, out = H.run([[
      local lg = require "lgreen"
      local dbg = require "lgreen.debug"
      local stats = require("lgreen.core").debug.stats
      dbg.watch_blocking(5)
      lg.sleep(0.01)
      local w0 = stats().wakeups
      lg.sleep(0.3)	-- idle: a polling watchdog would wake about 60 times
      print("woke " .. stats().wakeups - w0)
    ]])
    assert.equal(0, code, out)
    local woke = tonumber(out:match("^woke (%d+)\n$"))
    assert.is_number(woke, out)
    assert.is_true(woke <= 3, woke .. " wake-ups")
  end)

  it("refuses bad arguments, naming them", function()
    assert.error_matches(function() dbg.watch_blocking("10") end,
      "bad argument #1 to 'watch_blocking' %(milliseconds > 0 or false expected%)")
    assert.error_matches(function() dbg.watch_blocking(0) end,
      "bad argument #1 to 'watch_blocking'")
    assert.error_matches(function() dbg.watch_blocking(10, 5) end,
      "bad argument #2 to 'watch_blocking' %(function expected, got number%)")
  end)
end)
