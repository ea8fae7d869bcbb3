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

return G
