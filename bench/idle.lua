-- Memory per parked greenthread: N greenthreads blocked on one Event.
-- Prints: "idle <N> <bytes per greenthread>"
local lg = require "lgreen"
local N = tonumber(arg and arg[1]) or 20000

local function rss()
  collectgarbage("collect")
  collectgarbage("collect")
  local f = assert(io.open("/proc/self/statm"))
  local _, resident = f:read("*n", "*n")
  f:close()
  return resident * 4096
end

local ev = lg.Event()
lg.spawn_n(function() end)		-- hub and its loop exist before measuring
lg.sleep(0)
local before = rss()
for _ = 1, N do lg.spawn_n(ev.wait, ev) end
lg.sleep(0)				-- all of them start and park
local after = rss()
print(("idle %d %.0f"):format(N, (after - before) / N))
ev:send()
lg.run()
