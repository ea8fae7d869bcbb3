-- OpenResty's LuaJIT: lua_newthread copies the parent's "exdata" pointer
-- (ngx_lua's current request).  A greenlet's thread, new or reused from the
-- pool of clean threads, must not carry it (c/exdata.c).  Runs on the
-- fourth VM of spec/run.sh (build/nginx-debs/luajit2); pending elsewhere.
local greenlet = require "lgreen.greenlet"
local lg = require "lgreen"

local ok, exdata = pcall(require, "thread.exdata")

describe("greenlet threads and OpenResty's exdata", function()
  if not ok then
    pending("needs OpenResty's LuaJIT (thread.exdata): spec/run.sh's openresty-luajit run", function() end)
    return
  end
  local ffi = require "ffi"

  local function seen()
    return exdata() == nil
  end

  it("a coroutine inherits it, a greenlet's thread does not (new and pooled)", function()
    local before = exdata()
    finally(function() exdata(before) end)
    exdata(ffi.cast("void *", 0x1234))
    local co = coroutine.create(function() return exdata() ~= nil end)
    assert.same({ true, true }, { coroutine.resume(co) })	-- the hazard
    for _ = 1, 3 do	-- the 2nd and 3rd reuse the 1st's thread
      assert.is_true(greenlet.new(function() return exdata() == nil end):switch())
    end
    assert.equal(0x1234, tonumber(ffi.cast("intptr_t", exdata())))
  end)

  it("a green thread spawned from a coroutine that carries one does not", function()
    local co = coroutine.create(function()
      exdata(ffi.cast("void *", 0x5678))
      return lg.spawn(seen)
    end)
    local _, gt = coroutine.resume(co)
    assert.is_true(gt:wait())
  end)
end)
