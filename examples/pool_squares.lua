local lg = require "lgreen"

local pool = lg.GreenPool(8)            -- at most 8 at once
local results = lg.Queue()
for i = 1, 20 do
  pool:spawn_n(function()               -- blocks while 8 are running
    lg.sleep(0.01)                      -- only this greenthread waits
    results:put(i * i)
  end)
end
pool:waitall()
print(results:qsize())                  --> 20
