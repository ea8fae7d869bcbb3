-- lgreen.greenlet: the greenlet core (Python greenlet's API on real C stacks).
-- Everything is in C but __index: methods first, then the C fields, written
-- in Lua so that LuaJIT compiles the `g:switch` look-up into a constant.
local G = require("lgreen.core").greenlet

if G._meta then
  local methods, field = G._methods, G._field
  G._meta.__index = function(g, k)
    local m = methods[k]
    if m ~= nil then return m end
    return field(g, k)
  end
  G._meta = nil
end

return G
