-- Choosing a stack: greenlet.new's opts.stack, lg.spawn_with, g.stack, and
-- LGREEN_STACK for the default.
local lg = require "lgreen"
local greenlet = require "lgreen.greenlet"
local H = require "helper"

local asm = greenlet.stats().switch == "asm"	-- ucontext: all private

describe("opts.stack", function()
  it("picks the kind; stack_size means private", function()
    local f = function() return greenlet.getcurrent().stack end
    assert.equal("private", greenlet.new(f, { stack = "private" }):switch())
    assert.equal("private", greenlet.new(f, { stack_size = 65536 }):switch())
    assert.equal("private", greenlet.new(f, { stack = "private", stack_size = 65536 }):switch())
    assert.equal(asm and "shared" or "private", greenlet.new(f, { stack = "shared" }):switch())
    assert.equal(greenlet.stats().default_stack, greenlet.new(f):switch())
  end)

  it("both kinds switch to each other in one VM", function()
    local main = greenlet.getcurrent()
    local a, b
    a = greenlet.new(function(x)
      for _ = 1, 100 do x = b:switch(x + 1) end
      return x
    end, { stack = "private" })
    b = greenlet.new(function(x)
      while true do x = a:switch(x * 2) end
    end, { stack = "shared" })
    local r = a:switch(0)
    local want = 0
    for _ = 1, 100 do want = (want + 1) * 2 end
    assert.equal(want, r)
    assert.equal(main, greenlet.getcurrent())
  end)
end)

describe("lg.spawn_with", function()
  it("spawns a GreenThread with a name and a stack", function()
    local gt = lg.spawn_with({ name = "worker", stack = "private", stack_size = 1024 * 1024 },
      function(a, b)
        local g = greenlet.getcurrent()
        lg.sleep(0)
        return a + b, g.name, g.stack
      end, 40, 2)
    assert.same({ 42, "worker", "private" }, { gt:wait() })
    assert.equal("worker", gt.greenlet.name)
  end)

  it("refuses bad options and bad functions, blaming its own arguments", function()
    local cases = {
      { { stack = "huge" }, 'bad argument #1 to \'spawn_with\' %(opts.stack must be "shared" or "private"%)' },
      { { stak = 1 }, "bad argument #1 to 'spawn_with' %(unknown option 'stak'%)" },
      { { stack = "shared", stack_size = 65536 }, "bad argument #1 to 'spawn_with' %(opts.stack_size is for private" },
      { { stack_size = 1 }, "bad argument #1 to 'spawn_with' %(opts.stack_size must be" },
      { "private", "bad argument #1 to 'spawn_with' %(options table expected, got string%)" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(lg.spawn_with, c[1], function() end)
      assert.is_false(ok)
      assert.matches(c[2], err)
    end
    local ok, err = pcall(lg.spawn_with, {}, 42)
    assert.is_false(ok)
    assert.matches("bad argument #2 to 'spawn_with' %(function expected, got number%)", err)
  end)
end)

describe("LGREEN_STACK", function()
  it("sets the default kind, and refuses anything else", function()
    local code, out = H.run([[
      local greenlet = require "lgreen.greenlet"
      print(greenlet.stats().default_stack, greenlet.new(function()
        return greenlet.getcurrent().stack end):switch())
    ]])
    assert.equal(0, code)
    local default = os.getenv("LGREEN_STACK") == "private" and "private"
      or (asm and "shared" or "private")
    assert.equal(default .. "\t" .. default .. "\n", out)
    local name = os.tmpname()
    local f = assert(io.open(name, "w"))
    f:write('print(pcall(require, "lgreen.greenlet"))')
    f:close()
    local p = io.popen("LGREEN_STACK=big " .. H.env .. H.lua .. " " .. name .. " 2>&1")
    out = p:read("*a")
    p:close()
    os.remove(name)
    assert.matches('^false\t.*LGREEN_STACK must be "shared" or "private", not "big"', out)
  end)
end)
