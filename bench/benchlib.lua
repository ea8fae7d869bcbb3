-- Helpers shared by the Lua benchmarks (lgreen's and the Lua peers').
local M = {}

-- ns per operation of f(), which does n operations: the best of 5 runs
-- timed with clock (default os.clock, CPU time).
function M.best(f, n, clock)
  clock = clock or os.clock
  local b = math.huge
  for _ = 1, 5 do
    local t = clock()
    f()
    b = math.min(b, clock() - t)
  end
  return b / n * 1e9
end

-- A field of /proc/self/status, in KiB (VmRSS, VmHWM).
function M.status(field)
  local f = assert(io.open("/proc/self/status"))
  local v = f:read("*a"):match(field .. ":%s*(%d+)")
  f:close()
  return tonumber(v)
end

-- Resident set size in bytes, after two full collections.
function M.rss()
  collectgarbage("collect")
  collectgarbage("collect")
  return M.status("VmRSS") * 1024
end

return M
