-- lgreen.greenlet: the greenlet core (Python greenlet's API on real C stacks).
-- Everything is in C but __index: methods first, then the C fields, written
-- in Lua so that LuaJIT compiles the `g:switch` look-up into a constant.
local G = require("lgreen.core").greenlet

if G._metas then
  local methods, field = G._methods, G._field
  local function index(g, k)
    local m = methods[k]
    if m ~= nil then return m end
    return field(g, k)
  end
  for _, mt in ipairs(G._metas) do mt.__index = index end
  G._metas = nil
end

-- debug.sethook puts lgreen's trampoline around the hook at once (see
-- c/greenlet.c, lg_hooksoff): a switch inside a hook is then refused even
-- after the hook cleared itself, and switching never resets a count hook.
-- debug.gethook shows the hook as it was set.
-- (Each is installed unless ours is in place already: a test runner may
-- put the originals back between files.)
if G._hook then
  local hook = G._hook
  local ours = G._ours or setmetatable({}, { __mode = "k" })
  G._ours = ours
  if not ours[debug.sethook] then
    local sethook = debug.sethook
    debug.sethook = function(...)
      sethook(...)
      if type((...)) == "thread" then hook("wrap", (...)) else hook("wrap") end
    end
    ours[debug.sethook] = true
  end
  if not ours[debug.gethook] then
    local gethook = debug.gethook
    debug.gethook = function(...)
      local co = type((...)) == "thread" and (...) or nil
      hook("unwrap", co)
      local h, mask, count = gethook(...)
      hook("wrap", co)
      return h, mask, count
    end
    ours[debug.gethook] = true
  end
  -- LuaJIT tells a finalizer by its stopped GC, which collectgarbage
  -- ("restart", "step", "collect") inside the finalizer would start again
  -- (for the finalizer's length: LuaJIT restores it after), hiding the
  -- finalizer from the switch's check.  Keep it stopped there, as 5.4
  -- does.  (PUC 5.1 probes every switch; 5.4 knows a finalizer outright;
  -- 5.2 and 5.3 stop and restore their GC around a finalizer as LuaJIT.)
  if (jit or _VERSION == "Lua 5.2" or _VERSION == "Lua 5.3")
      and not ours[collectgarbage] then
    local cg = collectgarbage
    local function restop(infin, ...)
      if infin then cg("stop") end
      return ...
    end
    collectgarbage = function(opt, ...)
      if opt == "restart" or opt == "step" or opt == "collect" or opt == nil then
        return restop(hook("infinalizer"), cg(opt, ...))
      end
      return cg(opt, ...)
    end
    ours[collectgarbage] = true
  end
end

return G
