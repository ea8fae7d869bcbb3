-- A green thread that computes for a while between two waits blocks every
-- other one (here a 10 ms ticker): watch_blocking names it.
local lg = require "lgreen"
local dbg = require "lgreen.debug"

lg.spawn(function() while true do lg.sleep(0.01) end end)   -- a ticker
dbg.watch_blocking(100)                 -- report runs of 100 ms and more

local function crunch(n)
  lg.sleep(0.05)                        -- resumed here...
  local x = 0
  for i = 1, n do x = x + math.sin(i) end   -- ...no switch in this loop
  lg.sleep(0)                           -- switches out here
  return x
end

local gt = lg.spawn(crunch, 3e7)
gt.greenlet.name = "cruncher"
gt:wait()
os.exit(0)
