-- lgreen.debug.dump_on_signal and LGREEN_DUMP_SIGNAL: a dump on stderr
-- when the signal arrives; the program goes on.
local lg = require "lgreen"
local dbg = require "lgreen.debug"
local H = require "helper"

-- Three green threads wait on an Event; the child says "ready" and goes on
-- until its stdin closes, then says "after" and exits 0.
local CHILD = [[
local lg = require "lgreen"
if ... == "call" then require("lgreen.debug").dump_on_signal("SIGUSR1") end
local ev = lg.Event()
for _ = 1, 3 do lg.spawn(function() ev:wait() end) end   -- PARKED
lg.sleep(0)
io.stdout:write("ready\n")
io.stdout:flush()
lg.wait_read(0)
io.stdout:write("after\n")
os.exit(0)
]]

local function parkedline()
  local n = 0
  for l in CHILD:gmatch("([^\n]*)\n") do
    n = n + 1
    if l:find("PARKED", 1, true) then return n end
  end
end

-- Run CHILD with arg and extra environment; send SIGUSR1 once it is ready,
-- read stderr up to the end of the dump, then close its stdin.
local function run(arg, extra)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(CHILD)
  f:close()
  local env = H.childenv()
  for k, v in pairs(extra or {}) do env[k] = v end
  local p = lg.process({ H.lua, script, arg }, { stdin = "pipe", stdout = "pipe",
    stderr = "pipe", env = env })
  assert.equal("ready", p.stdout:receive("*l"))
  p:kill("USR1")
  local lines = {}
  repeat	-- the dump ends with the group that holds the spawn site
    local l = assert(p.stderr:receive("*l"))
    lines[#lines + 1] = l
  until l:find("spawned at", 1, true) and lines[#lines - 2] and
    lines[#lines - 3]:find("^3 parked")
  p.stdin:close()
  local after = p.stdout:receive("*a")
  local code = p:wait()
  os.remove(script)
  return table.concat(lines, "\n"), after, code, script:match("[^/]+$")
end

describe("debug.dump_on_signal", function()
  it("writes the dump to stderr on SIGUSR1 and the program goes on", function()
    local dump, after, code, src = run("call")
    assert.matches("^lgreen: %d+ green threads in %d+ groups, largest first\n", dump)
    assert.matches("\n3 parked on Event:wait", dump)
    assert.matches(src .. ":" .. parkedline() .. ": in function", dump, 1, true)
    assert.matches("spawned at .-" .. src .. ":" .. parkedline() .. " by 'main' %(id 1%)", dump)
    assert.equal("after\n", after)
    assert.equal(0, code)
  end)

  it("is turned on by LGREEN_DUMP_SIGNAL without changing the program", function()
    local dump, after, code, src = run("env", { LGREEN_DUMP_SIGNAL = "USR1" })
    assert.matches("\n3 parked on Event:wait", dump)
    assert.matches(src .. ":" .. parkedline() .. ": in function", dump, 1, true)
    assert.equal("after\n", after)
    assert.equal(0, code)
  end)

  it("refuses an unknown signal, in the call and in the environment", function()
    assert.error_matches(function() dbg.dump_on_signal("NOPE") end,
      "bad argument #1 to 'dump_on_signal' %(unknown signal 'NOPE'%)")
    local env = H.childenv()
    env.LGREEN_DUMP_SIGNAL = "NOPE"
    local out, err, code = lg.process.run({ H.lua, "-e", "print(pcall(require, 'lgreen'))" },
      { env = env })
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("false\tLGREEN_DUMP_SIGNAL: unknown signal 'NOPE'\n", out)
  end)
end)
