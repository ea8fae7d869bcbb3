-- Overflow on a shared stack: with more than 20,000 green threads parked
-- (their slices copied off the shared stacks), one that runs into the guard
-- ends the process with the one-line report naming it.
local H = require "helper"

local prelude = [[
local lg = require "lgreen"
local greenlet = require "lgreen.greenlet"
local function nest(k)	-- C recursion: gsub calls back into Lua
  if k == 0 then return "" end
  return (("x"):gsub("x", function() return nest(k - 1) end))
end
local ev = lg.Event()
local shared = { stack = "shared" }	-- whatever LGREEN_STACK says
for i = 1, 25000 do lg.spawn_with(shared, function() ev:wait() end) end
lg.sleep(0)
io.stdout:write("parked ", greenlet.stats().live - 1, " on ",
  greenlet.stats().shared_stacks, " shared stacks\n")
io.stdout:flush()
]]

describe("stack overflow on a shared stack", function()
  -- (the ucontext build has private stacks only)
  local it = require("lgreen.greenlet").stats().switch == "asm" and it or pending
  if H.vm == "luajit" then
    it("prints one line naming the greenlet, with 25,000 others parked", function()
      local code, out = H.run(prelude .. [[
        lg.spawn_with({ name = "deep", stack = "shared" }, function() return pcall(nest, 1e6) end):wait()
        print("not reached")
      ]])
      assert.equal(2, code)
      assert.matches("^parked 25000 on %d shared stacks\n", out)
      local size = out:match("stack size (%d+) KiB")
      assert.equal("parked 25000 on 4 shared stacks\n"
        .. "lgreen: stack overflow in greenlet 'deep' (shared stack size " .. size
        .. " KiB; give it a private stack: opts.stack = \"private\" and a larger "
        .. "opts.stack_size)\n", out)
    end)

    it("names an unnamed one by address", function()
      local code, out = H.run(prelude .. [[
        lg.spawn_with(shared, function() nest(1e6) end):wait()
      ]])
      assert.equal(2, code)
      assert.matches("\nlgreen: stack overflow in greenlet 0x%x+ %(shared stack size", out)
    end)
  else
    it("is caught by " .. H.vm .. "'s own C stack limit, and the parked ones go on", function()
      local code, out = H.run(prelude .. [[
        local ok, err = lg.spawn_with(shared, function() return pcall(nest, 1e6) end):wait()
        print(ok, err)
        ev:send(true)
        lg.run()
        print("live", greenlet.stats().live - 1)
      ]])
      assert.equal(0, code)
      assert.matches("\nfalse\t.*C stack overflow", out)
      assert.matches("\nlive\t0\n", out)
    end)
  end

  it("a private stack of the size it needs runs it", function()
    local code, out = H.run(prelude .. [[
      local gt = lg.spawn_with({ stack = "private", stack_size = 8 * 1024 * 1024 },
        function() return #nest(150) end)
      print("result", gt:wait())
      ev:send(true)
      lg.run()
    ]])
    assert.equal(0, code)
    assert.matches("\nresult\t0\n", out)
  end)
end)
