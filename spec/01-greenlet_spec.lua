-- The greenlet API, with Python greenlet's semantics.
local greenlet = require "lgreen.greenlet"

local main = greenlet.getcurrent()
local pack = function(...) return { n = select("#", ...), ... } end
local unpack = unpack or table.unpack

describe("the build", function()
  it("is the one for this VM and switch", function()
    local H = require "helper"
    assert.equal(H.vm, greenlet.stats().vm)
    assert.equal(os.getenv("LGREEN_SWITCH") or "asm", greenlet.stats().switch)
  end)
end)

describe("greenlet.getcurrent", function()
  it("is the main greenlet outside any greenlet", function()
    assert.equal(main, greenlet.getcurrent())
    assert.is_false(main.dead)
    assert.is_true(main.started)
    assert.is_nil(main.parent)
    assert.equal("main", main.name)
  end)

  it("is the running greenlet inside one", function()
    local g
    g = greenlet.new(function() return greenlet.getcurrent() end)
    assert.equal(g, g:switch())
  end)
end)

describe("switch", function()
  it("passes values both ways, nils and counts kept", function()
    local g = greenlet.new(function(...)
      local got = pack(...)
      local back = pack(main:switch(got.n, nil, "x", nil))
      return back.n, back[1], back[3]
    end)
    local r = pack(g:switch(nil, 2, nil))
    assert.same({ n = 4, 3, nil, "x", nil }, r)
    r = pack(g:switch("a", nil, "c", nil, nil))
    assert.same({ n = 3, 5, "a", "c" }, r)
    assert.is_true(g.dead)
  end)

  it("returns a finished greenlet's results to its parent", function()
    local order = {}
    local parent, child
    parent = greenlet.new(function()
      child = greenlet.new(function(x) order[#order + 1] = "child" return x * 2 end)
      -- child's parent is parent; switching from main delivers to parent
      local r = main:switch("parent ready")
      order[#order + 1] = "parent got " .. tostring(r)
      return "parent done"
    end)
    assert.equal("parent ready", parent:switch())
    assert.equal(parent, child.parent)
    assert.equal("parent done", child:switch(21))
    assert.same({ "child", "parent got 42" }, order)
  end)

  it("skips dead parents", function()
    local a = greenlet.new(function() return "a" end)
    a:switch()
    local b = greenlet.new(function() return "to main" end)
    b.parent = a
    assert.equal("to main", b:switch())
  end)

  it("to the running greenlet returns the values", function()
    assert.same({ n = 2, 1, nil }, pack(main:switch(1, nil)))
  end)

  it("starts a greenlet with no arguments", function()
    local g = greenlet.new(function(...) return select("#", ...) end)
    assert.equal(0, g:switch())
  end)

  it("passes many values", function()
    local g = greenlet.new(function(...) return ... end)
    local t = {}
    for i = 1, 5000 do t[i] = i end
    local r = pack(g:switch(unpack(t)))
    assert.equal(5000, r.n)
    assert.equal(5000, r[5000])
  end)

  it("keeps independent greenlets independent", function()
    local gs, out = {}, {}
    for i = 1, 10 do
      gs[i] = greenlet.new(function()
        local acc = 0
        for step = 1, 3 do acc = acc + main:switch() * i + step end
        return acc
      end)
      gs[i]:switch()
    end
    for step = 1, 3 do
      for i = 1, 10 do out[i] = gs[i]:switch(step) end
    end
    for i = 1, 10 do assert.equal(6 * i + 6, out[i]) end
  end)
end)

describe("errors", function()
  it("are raised again in the parent with the same value", function()
    local e = { code = 7 }
    local g = greenlet.new(function() error(e) end)
    local ok, err = pcall(g.switch, g)
    assert.is_false(ok)
    assert.equal(e, err)
    assert.is_true(g.dead)
  end)

  it("keep non-string values and positions", function()
    local g = greenlet.new(function() error("boom") end)
    local ok, err = pcall(g.switch, g)
    assert.is_false(ok)
    assert.matches("01%-greenlet_spec.lua:%d+: boom", err)
    local h = greenlet.new(function() error(42, 0) end)
    assert.same({ false, 42 }, { pcall(h.switch, h) })
  end)

  it("leave the hub of greenlets usable", function()
    for _ = 1, 100 do
      local g = greenlet.new(function() error("x") end)
      assert.is_false(pcall(g.switch, g))
    end
    local g = greenlet.new(function(a) return a end)
    assert.equal("still fine", g:switch("still fine"))
  end)
end)

describe("throw", function()
  it("raises GreenletExit by default, catchable with pcall", function()
    local seen
    local g = greenlet.new(function()
      local ok, err = pcall(main.switch, main, "suspended")
      seen = { ok, err }
      return "cleaned up"
    end)
    assert.equal("suspended", g:switch())
    assert.equal("cleaned up", g:throw())
    assert.same({ false, greenlet.GreenletExit }, seen)
    assert.is_true(g.dead)
  end)

  it("returns GreenletExit to the parent when it is not caught", function()
    local g = greenlet.new(function() main:switch() error("not reached") end)
    g:switch()
    assert.equal(greenlet.GreenletExit, g:throw())
    assert.is_true(g.dead)
  end)

  it("raises other errors in the parent", function()
    local e = {}
    local g = greenlet.new(function() main:switch() end)
    g:switch()
    local ok, err = pcall(g.throw, g, e)
    assert.is_false(ok)
    assert.equal(e, err)
  end)

  it("into a greenlet that never started ends it without running", function()
    local ran = false
    local g = greenlet.new(function() ran = true end)
    assert.equal(greenlet.GreenletExit, g:throw())
    assert.is_true(g.dead)
    assert.is_false(g.started)
    assert.is_false(ran)
    local h = greenlet.new(function() ran = true end)
    assert.same({ false, "stop" }, { pcall(h.throw, h, "stop") })
    assert.is_false(ran)
  end)

  it("can be answered by switching back", function()
    local g = greenlet.new(function()
      local ok, err = pcall(main.switch, main)
      return main:switch("caught " .. tostring(err))
    end)
    g:switch()
    assert.equal("caught boo", g:throw("boo"))
    assert.equal("end", g:switch("end"))
  end)

  it("GreenletExit prints its name", function()
    assert.equal("GreenletExit", tostring(greenlet.GreenletExit))
  end)
end)

describe("fields", function()
  it("started and dead follow the life cycle", function()
    local g = greenlet.new(function() main:switch() end)
    assert.is_false(g.started)
    assert.is_false(g.dead)
    g:switch()
    assert.is_true(g.started)
    assert.is_false(g.dead)
    g:switch()
    assert.is_true(g.dead)
    assert.matches("dead", tostring(g))
  end)

  it("parent defaults to the creator and is writable", function()
    local inner
    local outer = greenlet.new(function()
      inner = greenlet.new(function() end)
      return inner.parent
    end)
    assert.equal(outer, outer:switch())
    local g = greenlet.new(function() end)
    assert.equal(main, g.parent)
    g.parent = outer
    assert.equal(outer, g.parent)
  end)

  it("parent refuses cycles, non-greenlets and main", function()
    local a = greenlet.new(function() end)
    local b = greenlet.new(function() end, a)
    assert.equal(a, b.parent)
    local ok, err = pcall(function() a.parent = b end)
    assert.is_false(ok)
    assert.matches("cyclic parent chain", err)
    assert.has_error(function() a.parent = a end)
    assert.has_error(function() a.parent = nil end)
    assert.has_error(function() a.parent = {} end)
    assert.has_error(function() main.parent = a end)
  end)

  it("name comes from opts and can be set", function()
    local g = greenlet.new(function() end, { name = "worker" })
    assert.equal("worker", g.name)
    assert.matches("greenlet 'worker'", tostring(g))
    g.name = "renamed"
    assert.equal("renamed", g.name)
    assert.is_nil(greenlet.new(function() end).name)
  end)

  it("other fields cannot be set", function()
    local g = greenlet.new(function() end)
    assert.has_error(function() g.foo = 1 end, "cannot set field 'foo' of a greenlet")
    assert.is_nil(g.foo)
  end)
end)

describe("misuse", function()
  it("switching to a dead greenlet raises", function()
    local g = greenlet.new(function() end)
    g:switch()
    local ok, err = pcall(function() g:switch() end)
    assert.is_false(ok)
    assert.matches("cannot switch to a dead greenlet", err)
    assert.has_error(function() g:throw() end)
  end)

  it("a non-function body raises", function()
    assert.has_error(function() greenlet.new(42) end)
    assert.has_error(function() greenlet.new() end)
    local ok, err = pcall(greenlet.new, "f")
    assert.is_false(ok)
    assert.matches("bad argument #1", err)
  end)

  it("switch on something that is not a greenlet raises", function()
    local g = greenlet.new(function() end)
    assert.has_error(function() g.switch({}) end)
    assert.has_error(function() g.switch(io.stdout) end)
    assert.has_error(function() g.switch(nil) end)
  end)

  it("bad options raise, naming them", function()
    local f = function() end
    local ok, err = pcall(greenlet.new, f, { stack_size = 100 })
    assert.is_false(ok)
    assert.matches("opts.stack_size must be a whole number", err)
    assert.has_error(function() greenlet.new(f, { stack_size = "big" }) end)
    assert.has_error(function() greenlet.new(f, { stack_size = 65536.5 }) end)
    assert.has_error(function() greenlet.new(f, { stack_size = 2 ^ 40 }) end)
    assert.has_error(function() greenlet.new(f, { name = 1 }) end)
    ok, err = pcall(greenlet.new, f, { stak = "private" })
    assert.matches("unknown option 'stak'", err)
    ok, err = pcall(greenlet.new, f, { stack = 65536 })
    assert.matches('opts.stack must be "shared" or "private"', err)
    ok, err = pcall(greenlet.new, f, { stack = "big" })
    assert.matches('opts.stack must be "shared" or "private"', err)
    ok, err = pcall(greenlet.new, f, { stack = "shared", stack_size = 65536 })
    assert.matches('opts.stack_size is for private stacks', err)
    assert.has_error(function() greenlet.new(f, 42) end)
  end)

  it("opts.stack_size gives the greenlet that much stack", function()
    local g = greenlet.new(function(n)
      -- 64 KiB of C stack would not fit in 32 KiB; it does in 1 MiB
      local depth = 0
      local function nest(k)
        if k == 0 then return 0 end
        depth = depth + 1
        return select(2, pcall(nest, k - 1))
      end
      nest(n)
      return depth
    end, { stack_size = 1024 * 1024 })
    assert.equal(150, g:switch(150))
  end)
end)
