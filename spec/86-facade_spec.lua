-- lgreen/init.lua only re-exports (as eventlet's __init__ does): the
-- modules of lgreen load without it, and what it exports lives in modules
-- of their own (lgreen.hub, lgreen.timeout).
local H = require "helper"

describe("the lgreen façade", function()
  it("is not loaded by lgreen's own modules", function()
    -- a fresh process per module: nothing loaded before it
    for _, name in ipairs { "lgreen.process", "lgreen.patch", "lgreen.http",
      "lgreen.ssl", "lgreen.socket", "lgreen.resolve", "lgreen.signal",
      "lgreen.timeout", "lgreen.hub", "lgreen.pool" } do
      local code, out = H.run(([[
        local ok, err = pcall(require, %q)
        if not ok and tostring(err):match("module '[^']*' not found")
          and not tostring(err):match("module 'lgreen") then
          print("MISSING " .. tostring(err):match("module '([^']*)'"))
          return
        end
        assert(ok, err)
        print(package.loaded["lgreen"] == nil and "FACADE-FREE" or "FACADE-LOADED")
      ]]):format(name))
      assert.equal(0, code, out)
      if out:match("^MISSING") then
        assert.is_true(name == "lgreen.http" or name == "lgreen.ssl", out)
      else
        assert.equal("FACADE-FREE\n", out, name)
      end
    end
  end)

  it("re-exports Timeout, with_timeout, wait_read and wait_write from their modules", function()
    local lg = require "lgreen"
    local timeout, hub = require "lgreen.timeout", require "lgreen.hub"
    assert.equal(timeout.Timeout, lg.Timeout)
    assert.equal(timeout.with_timeout, lg.with_timeout)
    for _, k in ipairs { "wait_read", "wait_write", "sleep", "now", "run", "step" } do
      assert.equal(hub[k], lg[k], k)
    end
  end)

  it("lgreen.timeout works on its own", function()
    local code, out = H.run([[
      local T = require "lgreen.timeout"
      local hub = require "lgreen.hub"
      print(T.with_timeout(0.01, hub.sleep, 10))
      print(T.with_timeout(nil, function() return "done" end))
      local t = T.Timeout(0.01, "mine")
      print(pcall(hub.sleep, 10))
      print(package.loaded["lgreen"] == nil)
    ]])
    assert.equal(0, code, out)
    assert.equal("nil\ttimeout\ndone\nfalse\tmine\ntrue\n", out)
  end)
end)
