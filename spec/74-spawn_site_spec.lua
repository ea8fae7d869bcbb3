-- Reports name the user's code: spawn sites of pool members, tracebacks
-- kept through pool:spawn_n, and gt.name in one format everywhere.
local lg = require "lgreen"
local H = require "helper"

local here = debug.getinfo(1, "S").short_src

describe("spawn sites", function()
  it("GreenPool:spawn: the line of the call", function()
    local pool = lg.GreenPool(2)
    local line
    local got = H.handled(function()
      line = H.next_line()
      pool:spawn(error, "pool spawn", 0)
      pool:waitall()
    end)
    assert.equal(here .. ":" .. line, got[1][5])
  end)

  it("GreenPool:spawn_n: the line of the call, and the traceback keeps the user's frames", function()
    local pool = lg.GreenPool(2)
    local line, raised
    local function deep()
      raised = debug.getinfo(1, "l").currentline + 1
      error({ "a table error" })
    end
    local function work() deep() end
    local got = H.handled(function()
      line = H.next_line()
      pool:spawn_n(work)
      pool:waitall()
    end)
    assert.equal(1, #got)
    assert.equal("a table error", got[1][1][1])	-- the same value, not a string
    assert.equal(here .. ":" .. line, got[1][5])
    assert.matches(H.esc(here .. ":" .. raised .. ":"), got[1][2])
    assert.matches("deep", got[1][2])
    assert.not_matches("lgreen/pool%.lua", got[1][2])
  end)

  it("GreenPile:spawn and GreenPool:imap: the line of the call", function()
    local pile = lg.GreenPile(2)
    local pool = lg.GreenPool(2)
    local l1, l2
    local got = H.handled(function()
      l1 = H.next_line()
      pile:spawn(error, "pile", 0)
      pcall(pile.next, pile)
      l2 = H.next_line()
      local it = pool:imap(function(x) error("imap " .. x, 0) end, { 1 })
      pcall(it)
    end)
    assert.equal(2, #got)
    assert.equal(here .. ":" .. l1, got[1][5])
    assert.equal(here .. ":" .. l2, got[2][5])
  end)

  it("the default report prints the same site for pool:spawn_n and lg.serve handlers", function()
    local code, out = H.run([[
      local lg = require "lgreen"
      local pool = lg.GreenPool(2)
      pool:spawn_n(function() error("from pool spawn_n", 0) end)
      pool:waitall()
      local srv = assert(lg.listen("127.0.0.1", 0))
      local _, port = srv:getsockname()
      local server = lg.spawn(function()
        local ok = lg.serve(srv, function(c) error("from handler", 0) end)
        return ok
      end)
      local c = assert(lg.connect("127.0.0.1", port))
      c:receive()
      srv:close()
      server:wait()
    ]])
    assert.equal(0, code, out)
    assert.matches("uncaught error in greenthread 0x%x+ spawned at [^\n]*:3:\nfrom pool spawn_n", out)
    assert.matches("uncaught error in greenthread 0x%x+ spawned at [^\n]*:8:\nfrom handler", out)
    assert.not_matches("lgreen/socket%.lua", out)
    assert.not_matches("lgreen/pool%.lua", out)
  end)
end)

describe("gt.name", function()
  it("is nil until set, then read and written through the greenlet", function()
    local t = lg.spawn(function() end)
    assert.is_nil(t.name)
    t.name = "fetcher"
    assert.equal("fetcher", t.name)
    assert.equal("fetcher", t.greenlet.name)
    t:wait()
    assert.equal("fetcher", t.name)
  end)

  it("refuses what is not a string, naming it", function()
    local t = lg.spawn(function() end)
    local ok, err = pcall(function() t.name = 42 end)
    assert.is_false(ok)
    assert.matches("bad value for 'name' %(string expected, got number%)", err)
    t:wait()
  end)

  it("one format names the thread in tostring, the error report and links' errors", function()
    local code, out = H.run([[
      local lg = require "lgreen"
      local t = lg.spawn(function() lg.sleep(0); error("boom", 0) end)
      t.name = "worker"
      t:link(function() error("link boom", 0) end)
      print(tostring(t))
      pcall(t.wait, t)
    ]])
    assert.equal(0, code, out)
    local label = out:match("GreenThread ('worker' %(0x%x+%)) %(alive%)")
    assert.is_string(label)
    assert.matches("uncaught error in greenthread " .. H.esc(label) .. " spawned at [^\n]*:2:\nboom", out)
    assert.matches("uncaught error in a link of greenthread " .. H.esc(label) .. " spawned at [^\n]*:2:\nlink boom", out)
  end)
end)
