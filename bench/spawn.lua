-- Green-thread costs in one process, against coroutines in the same run.
-- Prints "<name> <value> <unit>" lines.
local lg = require "lgreen"
local greenlet = require "lgreen.greenlet"

local N = tonumber(arg and arg[1]) or 200000
local best = require("benchlib").best

local function noop() end
local wrap = coroutine.wrap
print(("coroutine.wrap+resume %.0f ns"):format(best(function()
  for _ = 1, N do wrap(noop)() end
end, N)))

print(("greenlet.new+switch %.0f ns"):format(best(function()
  for _ = 1, N do greenlet.new(noop):switch() end
end, N)))

local spawn, spawn_n, sleep = lg.spawn, lg.spawn_n, lg.sleep
-- In batches of 1000 alive at once, as a server's requests would be.
local B = 1000
print(("lg.spawn_n+run %.0f ns"):format(best(function()
  for _ = 1, N / B do
    for _ = 1, B do spawn_n(noop) end
    sleep(0)
  end
end, N)))

print(("lg.spawn+wait %.0f ns"):format(best(function()
  local t = {}
  for _ = 1, N / B do
    for i = 1, B do t[i] = spawn(noop) end
    for i = 1, B do t[i]:wait() end
  end
end, N)))
