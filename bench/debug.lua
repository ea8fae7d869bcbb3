-- The cost of lgreen.debug: one-way switch or spawn+finish with accounting
-- off, on, and on with the blocking watchdog, alternating in one process
-- (best of 5 each).  Prints "<name> <ns>" lines.
--   bench/debug.lua switch|spawn [N]
local lg = require "lgreen"
local greenlet = require "lgreen.greenlet"
local dbg = require "lgreen.debug"	-- loads with accounting on
local D = require("lgreen.core").debug
local best = require("benchlib").best

local what = arg and arg[1] or "switch"
local N = tonumber(arg and arg[2]) or 1000000
local S = math.floor(N / 10)	-- spawns
local B = 1000

local main = greenlet.getcurrent()
local g = greenlet.new(function() while true do main:switch() end end)
local function switch() for _ = 1, N do g:switch() end end
local spawn_n, sleep = lg.spawn_n, lg.sleep
local function noop() end
local function spawn()
  for _ = 1, S / B do
    for _ = 1, B do spawn_n(noop) end
    sleep(0)
  end
end

local modes = {
  { "off", function() D.disable() end },
  { "on", function() D.enable() dbg.watch_blocking(false) end },
  { "on+watch", function() D.enable() dbg.watch_blocking(1000) end },
}
local res = {}
for _ = 1, 3 do	-- alternate, so drift hits every mode alike
  for _, m in ipairs(modes) do
    m[2]()
    local t = what == "switch" and best(switch, 2 * N) or best(spawn, S)
    res[m[1]] = math.min(res[m[1]] or math.huge, t)
  end
end
D.disable()
dbg.watch_blocking(false)
local label = what == "switch" and "g:switch()" or "lg.spawn_n+run"
for _, m in ipairs(modes) do
  print(("%s,debug_%s %.1f"):format(label, m[1], res[m[1]]))
end
