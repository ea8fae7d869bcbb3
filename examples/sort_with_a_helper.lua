local greenlet = require "lgreen.greenlet"
local main = greenlet.getcurrent()

-- The comparator asks main for each verdict, from inside table.sort:
-- a coroutine cannot yield there ("attempt to yield across a C-call boundary").
local sorter = greenlet.new(function(items)
  table.sort(items, function(a, b) return main:switch(a, b) end)
  return table.concat(items, " ")
end)

local a, b = sorter:switch({ "pear", "fig", "apple", "kiwi" })
while not sorter.dead do
  a, b = sorter:switch(#a < #b or (#a == #b and a < b))	-- shortest first
end
print(a)	--> fig kiwi pear apple
