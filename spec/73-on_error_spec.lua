-- lg.on_error: uncaught errors go to the program's handler.
local lg = require "lgreen"
local H = require "helper"

local here = debug.getinfo(1, "S").short_src
local function esc(s) return (s:gsub("%p", "%%%0")) end

-- The line after the one that calls it.
local function next_line() return debug.getinfo(2, "l").currentline + 1 end

-- Calls of the handler while f runs: one table of its arguments each.
local function handled(f)
  local got = {}
  lg.on_error(function(...) got[#got + 1] = { n = select("#", ...), ... } end)
  local ok, e = pcall(f)
  lg.on_error(nil)
  if not ok then error(e, 0) end
  return got
end

describe("lg.on_error", function()
  it("gets the error, its traceback, the GreenThread, its name and spawn site", function()
    local err = { "a table error" }
    local t, line
    local got = handled(function()
      line = next_line()
      t = lg.spawn(function() lg.sleep(0); error(err) end)
      t.name = "worker"
      pcall(t.wait, t)
    end)
    assert.equal(1, #got)
    local a = got[1]
    assert.equal(5, a.n)
    assert.equal(err, a[1])
    assert.matches("stack traceback:", a[2])
    assert.matches(esc(here .. ":" .. line .. ":"), a[2])
    assert.equal(t, a[3])
    assert.equal("'worker' (" .. tostring(t.greenlet):match("0x%x+") .. ")", a[4])
    assert.equal(here .. ":" .. line, a[5])
  end)

  it("for spawn_n: the greenlet spawn_n returned, unnamed: its address", function()
    local g, line
    local got = handled(function()
      line = next_line()
      g = lg.spawn_n(error, "from spawn_n", 0)
      lg.sleep(0)
    end)
    assert.equal(1, #got)
    assert.equal("from spawn_n", got[1][1])
    assert.equal(g, got[1][3])
    assert.equal(tostring(g):match("0x%x+"), got[1][4])
    assert.equal(here .. ":" .. line, got[1][5])
  end)

  it("errors of links too, with the thread linked to", function()
    local t
    local got = handled(function()
      t = lg.spawn(function() end)
      t:link(function() error("link failed", 0) end)
      t:wait()
    end)
    assert.equal(1, #got)
    assert.equal("link failed", got[1][1])
    assert.equal(t, got[1][3])
  end)

  it("kills are not errors: the handler is not called", function()
    local got = handled(function()
      local t = lg.spawn(lg.sleep, 3600)
      local g = lg.spawn_n(lg.sleep, 3600)
      lg.sleep(0)
      t:kill(); lg.kill(g)
    end)
    assert.same({}, got)
  end)

  it("nil restores the default report on stderr", function()
    local code, out = H.run([[
      local lg = require "lgreen"
      local n = 0
      lg.on_error(function() n = n + 1 end)
      lg.spawn_n(error, "to the handler", 0)
      lg.sleep(0)
      lg.on_error(nil)
      lg.spawn_n(error, "to stderr", 0)
      lg.sleep(0)
      print("handled " .. n)
    ]])
    assert.equal(0, code, out)
    assert.matches("handled 1", out)
    assert.not_matches("to the handler", out)
    assert.matches("lgreen: uncaught error in greenthread 0x%x+ spawned at [^\n]*:7:\nto stderr", out)
  end)

  it("an error in the handler falls back to the default report; the hub goes on", function()
    local code, out = H.run([[
      local lg = require "lgreen"
      lg.on_error(function(err) error("handler broke on " .. err, 0) end)
      lg.spawn_n(error, "first", 0)
      lg.sleep(0)
      lg.spawn_n(error, "second", 0)
      lg.sleep(0)
      print(lg.spawn(function() return "still running" end):wait())
    ]])
    assert.equal(0, code, out)
    assert.matches("uncaught error in greenthread 0x%x+ spawned at [^\n]*:3:\nfirst", out)
    assert.matches("lg.on_error handler failed: handler broke on first", out)
    assert.matches("spawned at [^\n]*:5:\nsecond", out)
    assert.matches("still running", out)
  end)

  it("gets lg.serve handlers' errors, spawned at the lg.serve call", function()
    local srv = assert(lg.listen("127.0.0.1", 0))
    local _, port = srv:getsockname()
    local handler_line, serve_line
    local got = handled(function()
      local server = lg.spawn(function()
        serve_line = next_line()
        local ok = lg.serve(srv, function(c)
          handler_line = debug.getinfo(1, "l").currentline + 1
          error("handler failed on " .. c:receive())
        end)
        return ok
      end)
      local c = assert(lg.connect("127.0.0.1", port))
      c:send("boom\n")
      local l, e = c:receive()
      assert.same({ nil, "closed" }, { l, e })
      c:close()
      srv:close()
      assert.is_true(server:wait())
    end)
    assert.equal(1, #got)
    assert.matches("handler failed on boom", got[1][1])
    assert.equal(here .. ":" .. serve_line, got[1][5])
    assert.matches(esc(here .. ":" .. handler_line .. ":"), got[1][2])
    assert.equal("userdata", type(got[1][3]))
  end)

  it("lg.serve run by spawn_n: spawned where the handler is defined", function()
    local srv = assert(lg.listen("127.0.0.1", 0))
    local _, port = srv:getsockname()
    local defined = next_line()
    local function handler(c)
      error("failed on " .. c:receive(), 0)
    end
    local got = handled(function()
      lg.spawn_n(lg.serve, srv, handler)
      local c = assert(lg.connect("127.0.0.1", port))
      c:send("boom\n")
      local l, e = c:receive()
      assert.same({ nil, "closed" }, { l, e })
      c:close()
      srv:close()
      lg.sleep(0)
    end)
    assert.equal(1, #got)
    assert.equal("failed on boom", got[1][1])
    assert.equal(here .. ":" .. defined, got[1][5])
  end)

  it("refuses what is not a function, naming the argument", function()
    local ok, err = pcall(lg.on_error, 42)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'on_error' %(function or nil expected, got number%)", err)
  end)
end)
