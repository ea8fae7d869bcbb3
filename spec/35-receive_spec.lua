-- receive: linear in the size of the result, whatever the pattern, and
-- LuaSocket's results once the peer has closed.
local lg = require "lgreen"
local S = require "lgreen.socket"
local H = require "helper"

local function pair()
  local srv = assert(lg.listen("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local c = assert(lg.connect("127.0.0.1", port, 5))
  local s = assert(srv:accept())
  srv:close()
  return c, s
end

local MB = 1024 * 1024
local N = 8 * MB
local chunk = string.rep("x", MB)

-- Send N bytes of "x" (then tail, if any) in a greenthread, then close
-- unless told to hold the connection open until hold is set.
local function feed(c, tail, hold)
  return lg.spawn(function()
    for _ = 1, N / MB do assert(c:send(chunk)) end
    if tail then assert(c:send(tail)) end
    if hold then hold:wait() end
    c:close()
  end)
end

-- Joining the pieces on the Lua stack every few reads copied the whole
-- result again each time: 8 MiB cost some 256 MiB of allocation.  A
-- doubling buffer costs its successive sizes (under 4N: the last one is
-- under 2N) and the result (N).
local LIMIT = 6 * N

describe("receive of 8 MiB allocates O(size), not O(size^2)", function()
  it("receive(n)", function()
    local c, s = pair()
    local sender = feed(c)
    local bytes, r = H.allocated(function() return s:receive(N) end)
    sender:wait()
    assert.equal(N, #r[1])
    assert.is_true(bytes < LIMIT, ("%d bytes allocated for %d"):format(bytes, N))
    s:close()
  end)

  it("receive(n, prefix)", function()
    local c, s = pair()
    local sender = feed(c)
    local bytes, r = H.allocated(function() return s:receive(N, "pre") end)
    sender:wait()
    assert.equal(N, #r[1])		-- as in LuaSocket 3, N counts the prefix
    assert.equal("prex", r[1]:sub(1, 4))
    assert.is_true(bytes < LIMIT, ("%d bytes allocated for %d"):format(bytes, N))
    s:close()
  end)

  it('receive("*a") and receive("*a", prefix)', function()
    for _, prefix in ipairs({ false, "pre" }) do
      local c, s = pair()
      local sender = feed(c)
      local bytes, r = H.allocated(function() return s:receive("*a", prefix or nil) end)
      sender:wait()
      assert.equal(N + (prefix and 3 or 0), #r[1])
      assert.is_true(bytes < LIMIT, ("%d bytes allocated for %d"):format(bytes, N))
      s:close()
    end
  end)

  it('receive("*l") of a long line, with CRs dropped', function()
    local c, s = pair()
    local sender = feed(c, "\r\nnext\n")
    local bytes, r = H.allocated(function() return s:receive("*l") end)
    assert.equal(N, #r[1])
    assert.is_nil(r[1]:find("[^x]"))
    assert.is_true(bytes < LIMIT, ("%d bytes allocated for %d"):format(bytes, N))
    assert.equal("next", s:receive())
    sender:wait()
    s:close()
  end)

  it('the partial result with "closed"', function()
    local c, s = pair()
    local sender = feed(c)
    local bytes, r = H.allocated(function() return s:receive(N + 1) end)
    sender:wait()
    assert.is_nil(r[1])
    assert.equal("closed", r[2])
    assert.equal(N, #r[3])
    assert.is_true(bytes < LIMIT, ("%d bytes allocated for %d"):format(bytes, N))
    s:close()
  end)

  it('the partial result with "timeout"', function()
    local c, s = pair()
    local hold = lg.Event()
    local sender = feed(c, nil, hold)
    s:settimeout(2)	-- bounds each wait: fires once the sender holds
    local bytes, r = H.allocated(function() return s:receive("*a") end)
    hold:send()
    sender:wait()
    assert.is_nil(r[1])
    assert.equal("timeout", r[2])
    local got = #r[3]
    assert.is_true(got > 0 and got <= N)
    assert.is_nil(r[3]:find("[^x]"))
    assert.is_true(bytes < 6 * got + MB, ("%d bytes allocated for %d"):format(bytes, got))
    s:close()
  end)
end)

describe("small receives", function()
  -- A line or count that is in the buffer already costs its string, not a
  -- receive buffer (8 KiB a call would make a line server churn the GC).
  it("of lines and counts allocate little more than their strings", function()
    local c, s = pair()
    local lines = 500
    assert(c:send(string.rep("line\r\n", lines) .. string.rep("0123456789", lines)))
    assert.equal("line", s:receive())	-- fills the buffer: all the rest is in it
    local bytes, r = H.allocated(function()
      local n = 0
      for _ = 2, lines do if s:receive() == "line" then n = n + 1 end end
      for _ = 1, lines do if s:receive(10) == "0123456789" then n = n + 1 end end
      return n
    end)
    assert.equal(2 * lines - 1, r[1])
    assert.is_true(bytes < 2 * lines * 512, ("%d bytes allocated for %d receives"):format(bytes, 2 * lines))
    c:close()
    s:close()
  end)
end)

-- The same script against LuaSocket and lgreen.socket: every result after
-- the peer closed must be LuaSocket's, on the first call and the next ones.
local function script(mod)
  local out = {}
  local function log(...)
    local v = { ... }
    out[#out + 1] = ("%s|%s|%s"):format(tostring(v[1]), tostring(v[2]), tostring(v[3]))
  end
  local function conn(data)
    local srv = assert(mod.bind("127.0.0.1", 0))
    local _, port = srv:getsockname()
    local c = assert(mod.connect("127.0.0.1", port))
    local s = assert(srv:accept())
    srv:close()
    if #data > 0 then assert(c:send(data)) end
    c:close()
    return s
  end
  local s = conn("one\r\ntwo\nxy")
  log(s:receive())
  log(s:receive("*l"))
  log(s:receive("*a"))
  log(s:receive("*a"))
  log(s:receive("*a"))
  log(s:receive("*a", "pre"))
  log(s:receive("*l"))
  log(s:receive("*l", "pre"))
  log(s:receive(3))
  log(s:receive("*a"))
  s:close()
  s = conn("")			-- the peer sent nothing: first call already
  log(s:receive("*a"))
  log(s:receive("*a"))
  s:close()
  s = conn("abc")			-- a partial count, then nothing
  log(s:receive(5))
  log(s:receive("*a"))
  log(s:receive(1))
  s:close()
  s = conn("ab\r\ncd")		-- a line without its LF
  log(s:receive("*l"))
  log(s:receive("*l"))
  log(s:receive("*a"))
  s:close()
  s = conn("xy")
  log(s:receive("*a", "p"))
  log(s:receive("*a", "p"))
  s:close()
  s = conn("0123456789")		-- counts with a prefix count it in
  log(s:receive(4, ">"))
  log(s:receive(2, "abc"))
  log(s:receive(0))
  log(s:receive(2, ""))
  log(s:receive(9, "pre"))
  log(s:receive(0))
  log(s:receive(2, "pre"))
  log(s:receive(5, "pre"))
  s:close()
  return out
end

describe("receive after the peer closed", function()
  local has_socket, socket = pcall(require, "socket")

  it("gives what LuaSocket gives, for every pattern, first and later calls", function()
    if not has_socket then return pending("LuaSocket (lua-socket) is not installed") end
    assert.same(script(socket), script(S))
  end)

  it('receive("*a") at the end is nil, "closed", "": a read-until-closed loop ends', function()
    local c, s = pair()
    c:send("data")
    c:close()
    local got, calls = {}, 0
    while true do
      local d, err, partial = s:receive("*a")
      calls = calls + 1
      assert.is_true(calls <= 2, "receive(\"*a\") went on returning data after the end")
      if not d then
        assert.equal("closed", err)
        assert.equal("", partial)
        break
      end
      got[#got + 1] = d
    end
    assert.equal("data", table.concat(got))
    s:close()
  end)
end)
