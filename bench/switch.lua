-- One-way switch cost: a Lua coroutine (resume/yield) against g:switch, in
-- the same process.  Prints "<name> <ns per one-way switch>", best of 5.
local greenlet = require "lgreen.greenlet"

local N = tonumber(arg and arg[1]) or 2000000

-- each round trip is two one-way switches
local function best(f) return require("benchlib").best(f, 2 * N) end

local resume, yield = coroutine.resume, coroutine.yield
local co = coroutine.create(function() while true do yield() end end)
local tco = best(function() for _ = 1, N do resume(co) end end)

local wrapped = coroutine.wrap(function() while true do yield() end end)
local twrap = best(function() for _ = 1, N do wrapped() end end)

local main = greenlet.getcurrent()
local g = greenlet.new(function() while true do main:switch() end end)
local tg = best(function() for _ = 1, N do g:switch() end end)

local h = greenlet.new(function(x) while true do x = main:switch(x + 1) end end)
local tv = best(function() local x = 0 for _ = 1, N do x = h:switch(x) end end)

print(("coroutine.resume/yield %.1f"):format(tco))
print(("coroutine.wrap/yield %.1f"):format(twrap))
print(("g:switch() %.1f"):format(tg))
print(("g:switch(x)->x %.1f"):format(tv))
