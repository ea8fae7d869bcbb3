-- Examples run as printed in the README.
local H = require "helper"

local read = H.read

describe("README", function()
  local readme = read("README.md")

  it("prints examples/sort_with_a_helper.lua exactly", function()
    local block = readme:match("## A greenlet in 15 lines.-```lua\n(.-)```")
    assert.is_string(block)
    assert.equal(read("examples/sort_with_a_helper.lua"), block)
    local lines = select(2, block:gsub("\n", ""))
    assert.is_true(lines <= 16, lines .. " lines")
  end)

  it("prints examples/pool_squares.lua exactly", function()
    local block = readme:match("## `lgreen`: green threads on a hub.-```lua\n(.-)```")
    assert.equal(read("examples/pool_squares.lua"), block)
  end)

  for _, name in ipairs({ "sort_with_a_helper.lua", "pool_squares.lua" }) do
    it(name .. " prints what its last comment says", function()
      local src = read("examples/" .. name)
      local expect = src:match("%-%->%s*([^\n]+)")
      local code, out = H.run(src)
      assert.equal(0, code)
      assert.equal(expect .. "\n", out)
    end)
  end
end)
