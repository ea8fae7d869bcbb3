-- N greenthreads each sleep a random 0-100 ms; wall time and peak RSS.
-- Prints: "sleepers <N> <wall ms> <peak RSS KiB>"
local lg = require "lgreen"
local N = tonumber(arg and arg[1]) or 100000
local seed = 1
local t0 = lg.now()
for _ = 1, N do
  seed = (seed * 16807) % 2147483647
  lg.spawn_n(lg.sleep, (seed % 100001) / 1e6)
end
lg.run()
local wall = (lg.now() - t0) * 1000
local f = assert(io.open("/proc/self/status"))
local hwm = f:read("*a"):match("VmHWM:%s*(%d+)")
f:close()
print(("sleepers %d %.0f %s"):format(N, wall, hwm))
