-- lgreen's stack kinds, for the issue 9 benchmarks (bench/scale.lua,
-- bench/spawn_burst.lua, bench/switch_deep.lua).  An lgreen whose
-- greenlet.new takes opts.stack has two kinds, "shared" and "private";
-- before that it has one, and every row says "only kind".
local lg = require "lgreen"
local greenlet = require "lgreen.greenlet"

local M = {}

local function noop() end

-- Does greenlet.new take opts.stack?  (Options in third place: before
-- opts.stack, an unknown option is an error.)
function M.both()
  return (pcall(greenlet.new, noop, greenlet.getcurrent(), { stack = "private" }))
end

-- The stack kind spawn(fn) runs fn on, or nil when lgreen does not say
-- (a greenlet's .stack field).
function M.kindof(spawn)
  local k
  spawn(function() k = greenlet.getcurrent().stack end)
  lg.sleep(0)
  return k
end

-- spawner(kind): how to spawn a green thread on the hub with stacks of
-- kind "default" or "private".  Returns spawn(fn, ...), label(what) (the
-- benchmark's name for a green thread that runs what) and a note, or
-- raises why it cannot.  private: lg.spawn_with({stack = "private"}, ...)
-- when lgreen has it, else lg.spawn_n when its green threads land on
-- private stacks anyway (bench/run.sh sets LGREEN_STACK=private, the
-- stacks branch's switch of the default).
function M.spawner(kind)
  local k
  if kind == "default" then
    k = M.kindof(lg.spawn_n)
    return lg.spawn_n, function(what) return ("lg.spawn_n(%s)"):format(what) end,
      k and "on " .. k .. " stacks"
  end
  if kind ~= "private" then error("kind must be default or private, got " .. tostring(kind)) end
  if not M.both() then error("this lgreen has no opts.stack: only one stack kind") end
  if lg.spawn_with then
    local spawn_with, P = lg.spawn_with, { stack = "private" }
    local function spawn(f, ...) return spawn_with(P, f, ...) end
    k = M.kindof(spawn)
    if k and k ~= "private" then
      error("lg.spawn_with({stack = 'private'}, ...) ran on a " .. k .. " stack")
    end
    -- Rows compare it with lg.spawn_n, which keeps no handle.
    local kept = spawn(noop)
    lg.sleep(0)
    return spawn, function(what) return ("lg.spawn_with(private,%s)"):format(what) end,
      kept ~= nil and "lg.spawn_with makes a " .. type(kept) .. " per green thread" or nil
  end
  k = M.kindof(lg.spawn_n)
  if k ~= "private" then
    error(("no lg.spawn_with, and lg.spawn_n runs on %s stacks (LGREEN_STACK=%s)")
      :format(tostring(k), tostring(os.getenv("LGREEN_STACK"))))
  end
  return lg.spawn_n, function(what) return ("lg.spawn_n(%s)"):format(what) end,
    "no lg.spawn_with: LGREEN_STACK=private"
end

return M
