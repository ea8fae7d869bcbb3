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

local function max_map_count()
  local f = io.open("/proc/sys/vm/max_map_count")
  local n = f and f:read("*n")
  if f then f:close() end
  return n
end

describe("running out of memory mappings", function()
  -- Guarded stacks of a size other than the default never come from slabs:
  -- about max_map_count / 2 of them fit.  Past 200,000 mappings (a raised
  -- limit) reaching it would take too long for the suite.
  local limit = max_map_count()
  local test = (limit and limit <= 200000 and not H.slow) and it or pending
  test("is a Lua error naming vm.max_map_count", function()
    local code, out = H.run([[
      local greenlet = require "lgreen.greenlet"
      local main = greenlet.getcurrent()
      local parked = {}
      local ok, err = pcall(function()
        for i = 1, 200000 do
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
    assert.is_true(n > limit / 2 - 2000 and n < limit / 2, out)
    assert.matches("vm%.max_map_count = %d+ memory mappings", out)
    assert.matches("sysctl %-w vm%.max_map_count=", out)
    assert.matches("\nrecovered\n", out)
  end)
end)
