-- Faults end the process with one clear line; each case runs in its own
-- process of the same VM.
local H = require "helper"

local prelude = [[
local greenlet = require "lgreen.greenlet"
local function nest(k)	-- C recursion: gsub calls back into Lua
  if k == 0 then return "" end
  return (("x"):gsub("x", function() return nest(k - 1) end))
end
]]

describe("stack overflow in a greenlet", function()
  it("prints one line naming the greenlet and its stack size", function()
    local code, out = H.run(prelude .. [[
      local g = greenlet.new(function() return pcall(nest, 1e6) end,
                             { name = "deep", stack_size = 65536 })
      g:switch()
      print("not reached")
    ]])
    assert.equal(2, code)
    assert.equal("lgreen: stack overflow in greenlet 'deep' (stack size 64 KiB; "
      .. "raise opts.stack_size)\n", out)
  end)

  it("names an unnamed greenlet by address", function()
    local code, out = H.run(prelude .. [[
      greenlet.new(function() nest(1e6) end, { stack_size = 32768 }):switch()
    ]])
    assert.equal(2, code)
    assert.matches("^lgreen: stack overflow in greenlet 0x%x+ %(stack size 32 KiB", out)
  end)

  if H.vm ~= "luajit" then
    it("is caught by " .. H.vm .. "'s own C stack limit at the default size", function()
      local code, out = H.run(prelude .. [[
        local g = greenlet.new(function() return pcall(nest, 1e6) end)
        local ok, err = g:switch()
        print(ok, err)
      ]])
      assert.equal(0, code)
      assert.matches("false\t.*C stack overflow", out)
    end)
  end
end)

describe("other faults", function()
  it("are not reported as stack overflows", function()
    local code, out = H.run([[
      local greenlet = require "lgreen.greenlet"
      -- a SIGSEGV on a greenlet stack, but from outside, not from a guard page
      greenlet.new(function()
        local f = io.open("/proc/self/stat")
        local pid = f:read("*n")
        f:close()
        os.execute("kill -SEGV " .. pid)
        os.execute("sleep 5")
      end):switch()
      print("not reached")
    ]])
    assert.is_true(code ~= 0 and code ~= 2, "exit code " .. tostring(code))
    assert.is_nil(out:match("stack overflow"))
  end)
end)

describe("running out of memory mappings", function()
  it("is a Lua error naming vm.max_map_count", function()
    if H.slow then return end
    local code, out = H.run([[
      local greenlet = require "lgreen.greenlet"
      local main = greenlet.getcurrent()
      local parked = {}
      local ok, err = pcall(function()
        for i = 1, 100000 do
          local g = greenlet.new(function() main:switch() end,
                                 { stack_size = 32768 })
          g:switch()
          parked[i] = g
        end
      end)
      print(ok, #parked, err)
      -- finishing greenlets frees mappings: new ones start again
      for i = 1, 100 do parked[i]:switch() end
      print(greenlet.new(function() return "recovered" end):switch())
    ]])
    assert.equal(0, code)
    local n = tonumber(out:match("^false\t(%d+)\t"))
    assert.is_truthy(n, out)
    assert.is_true(n > 20000 and n < 40000, out)
    assert.matches("vm%.max_map_count = %d+ memory mappings", out)
    assert.matches("sysctl %-w vm%.max_map_count=", out)
    assert.matches("\nrecovered\n", out)
  end)
end)
