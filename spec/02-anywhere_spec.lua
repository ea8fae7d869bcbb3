-- A greenlet can switch out from anywhere a Lua coroutine cannot yield.
-- Each case runs twice: in a greenlet, where `pause` switches to main and
-- back, and in a coroutine, where `pause` yields.  The greenlet must always
-- give the right result; the coroutine must fail exactly where this VM
-- cannot yield ("attempt to yield across a C-call boundary").
local greenlet = require "lgreen.greenlet"
local H = require "helper"

local main = greenlet.getcurrent()

-- Where plain coroutines fail, per VM: the difference lgreen makes.
local lj, v51 = H.vm == "luajit", H.vm == "5.1"
local coroutine_fails = {
  pcall = v51, xpcall = v51,
  __index = v51, __add = v51, __lt = v51, __concat = v51,
  ["table.sort"] = true, ["string.gsub"] = true, require = true,
}
assert(lj or H.vm ~= "luajit")

-- Module whose top level pauses, for the require case.
local moddir = os.tmpname()
os.remove(moddir)
os.execute("mkdir -p " .. moddir)
local modn = 0
local function pausing_module(pause)
  modn = modn + 1
  local name = "lgreen_pausing_" .. modn
  local f = assert(io.open(moddir .. "/" .. name .. ".lua", "w"))
  f:write("local pause = ...\n",
          "local got = _G.lgreen_pause_fn('top level')\n",
          "return 'module ' .. got\n")
  f:close()
  _G.lgreen_pause_fn = pause
  return name
end
package.path = moddir .. "/?.lua;" .. package.path

-- Each case pauses at least once and returns a value that depends on what
-- the pause returned (the driver echoes the paused value back in upper case).
local cases = {
  pcall = function(pause)
    return select(2, pcall(function() return pause("p") end))
  end,
  xpcall = function(pause)
    return select(2, xpcall(function() return pause("x") end, debug.traceback))
  end,
  __index = function(pause)
    local t = setmetatable({}, { __index = function(_, k) return pause(k) end })
    return t.i
  end,
  __add = function(pause)
    local mt = { __add = function(a, b) return pause("a") .. a.v .. b.v end }
    return setmetatable({ v = 1 }, mt) + setmetatable({ v = 2 }, mt)
  end,
  __lt = function(pause)
    local mt = { __lt = function(a, b) return pause("l") == "L" and a.v < b.v end }
    return tostring(setmetatable({ v = 1 }, mt) < setmetatable({ v = 2 }, mt))
  end,
  __concat = function(pause)
    local mt = { __concat = function(a, b) return pause("c") .. "+" .. b end }
    return setmetatable({}, mt) .. "s"
  end,
  ["table.sort"] = function(pause)
    local t = { 3, 1, 2 }
    table.sort(t, function(a, b) pause("s") return a < b end)
    return table.concat(t, ",")
  end,
  ["string.gsub"] = function(pause)
    return (("abc"):gsub(".", function(c) return pause(c) end))
  end,
  require = function(pause)
    return require(pausing_module(pause))
  end,
}

local expected = {
  pcall = "P", xpcall = "X", __index = "I", __add = "A12", __lt = "true",
  __concat = "C+s", ["table.sort"] = "1,2,3", ["string.gsub"] = "ABC",
  require = "module TOP LEVEL",
}

local function in_greenlet(case)
  local g = greenlet.new(function()
    return case(function(v) return main:switch("pause", v) end)
  end)
  local what, v = g:switch()
  local pauses = 0
  while what == "pause" and not g.dead do
    pauses = pauses + 1
    what, v = g:switch(v:upper())
  end
  assert(g.dead)
  return what, pauses
end

local function in_coroutine(case)
  local co = coroutine.create(function()
    return case(function(v) return coroutine.yield(v) end)
  end)
  local ok, v = coroutine.resume(co)
  while ok and coroutine.status(co) == "suspended" do
    ok, v = coroutine.resume(co, v:upper())
  end
  return ok, v
end

describe("a greenlet switches out from inside", function()
  for name, case in pairs(cases) do
    it(name, function()
      local result, pauses = in_greenlet(case)
      assert.equal(expected[name], result)
      assert.is_true(pauses >= 1)
    end)
  end
end)

describe("a coroutine on this VM (" .. H.vm .. ")", function()
  for name, case in pairs(cases) do
    if coroutine_fails[name] then
      it("cannot yield from inside " .. name, function()
        -- the error ends the coroutine, or (pcall) comes back as a value
        local _, err = in_coroutine(case)
        assert.matches("yield across", err)
      end)
    else
      it("can yield from inside " .. name, function()
        assert.same({ true, expected[name] }, { in_coroutine(case) })
      end)
    end
  end
end)

describe("greenlets and coroutines together", function()
  it("a coroutine inside a greenlet can switch the greenlet out", function()
    local g = greenlet.new(function()
      local co = coroutine.wrap(function(a)
        local b = main:switch("from inside the coroutine")
        local c = coroutine.yield(a + b)
        return c * 10
      end)
      local s = co(1)
      return s, co(4)
    end)
    assert.equal("from inside the coroutine", g:switch())
    assert.same({ 3, 40 }, { g:switch(2) })
  end)

  it("a greenlet can be created and switched to from a coroutine", function()
    local co = coroutine.wrap(function()
      local g = greenlet.new(function(x) return x + 1, coroutine.running() end)
      local r, inner = g:switch(41)
      local again = coroutine.yield(r)
      return again, inner ~= coroutine.running()
    end)
    assert.equal(42, co())
    assert.same({ "done", true }, { co("done") })
  end)

  it("a greenlet switched out from a coroutine resumes inside it", function()
    local g
    local co = coroutine.wrap(function()
      g = greenlet.new(function() return main:switch("out") end)
      return g:switch() .. "|" .. tostring(coroutine.running() ~= nil)
    end)
    -- main -> coroutine -> g -> main: main's switch from inside the coroutine
    assert.equal("out|true", co())
  end)
end)

teardown(function()
  os.execute("rm -rf " .. moddir)
  _G.lgreen_pause_fn = nil
end)
