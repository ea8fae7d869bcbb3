-- LuaSocket fidelity: the same code runs on plain LuaSocket and on
-- lgreen.socket, and gives the same results (issue 12, point 6).
local socket = require "socket"
local S = require "lgreen.socket"
local R = require "lgreen.resolve"

-- A connected pair from module m: the client, and the server's end.
local function pair(m)
  local srv = assert(m.bind("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local c = assert(m.connect("127.0.0.1", port))
  local s = assert(srv:accept())
  srv:close()
  return c, s
end

-- Every result of f, errors as { "error", message without its position }.
-- (LuaSocket adds trailing nils; they are not compared.)
local function settle(ok, ...)
  if not ok then return { "error", (tostring((...)):gsub("^.-:%d+: ", "")) } end
  return { ... }
end
local function results(f, ...) return settle(pcall(f, ...)) end

-- The same script on module m: the server end writes everything and
-- closes, so every read is decided by the bytes alone.
local function script(m, patterns)
  local c, s = pair(m)
  assert(s:send(("0123456789abcdef\n"):rep(8) .. "tail"))
  s:close()
  local got = {}
  for i = 1, #patterns do
    local p = patterns[i]
    got[i] = results(c.receive, c, p[1], p[2])
  end
  c:close()
  return got
end

describe("receive patterns as LuaSocket 3.1 reads them", function()
  it("numeric strings are counts; '*l...' and '*a...' are line and all", function()
    local patterns = {
      { "10" }, { " 10" }, { "0x4" }, { "2.5" }, { "1e1" }, { 3.7 },
      { "*l" }, { "*line" }, { "*lx" }, { 8, "0123" }, { "12", "0123" },
      { "*" }, { "**" }, { "*L" }, { "*A" }, { "" }, { -1 }, { "-1" }, { "x" },
      { "line" }, { "all" }, { "*all" }, { "*a" }, { "*l" },
    }
    local want = script(socket, patterns)
    local got = script(S, patterns)
    assert.same(want, got)
    -- the comparison is not vacuous: these did what the names say
    assert.same({ "0123456789" }, { got[1][1] })
    assert.same({ "error", "bad argument #2 to '?' (invalid receive pattern)" }, got[12])
  end)
end)

describe("send on a closed socket", function()
  local function closed_send(m)
    local c, s = pair(m)
    c:close()
    local r = { results(c.send, c, "abcdef"), results(c.send, c, "abcdef", 3),
      results(c.send, c, "abcdef", -2) }
    s:close()
    return r
  end

  it("returns nil, 'closed' and the index of the last byte sent", function()
    local want, got = closed_send(socket), closed_send(S)
    assert.same(want, got)
    assert.same({ nil, "closed", 2 }, { got[2][1], got[2][2], got[2][3] })
  end)
end)

describe("a failed name lookup", function()
  -- RFC 6761: .invalid never resolves.  Both libraries ask the same
  -- resolver, so whatever it answers here, the words must be the same.
  local host = "no-such-host.invalid"

  it("says what LuaSocket 3.1 says, for connect, getaddrinfo and toip", function()
    local want = {
      { socket.connect(host, 80) },
      { socket.tcp():connect(host, 80) },
      { socket.dns.getaddrinfo(host) },
      { socket.dns.toip(host) },
    }
    local got = {
      { S.connect(host, 80) },
      { S.tcp():connect(host, 80) },
      { R.getaddrinfo(host) },
      { R.toip(host) },
    }
    -- LuaSocket's two values, then lgreen's third: the EAI_x name
    for i = 1, #got do
      assert.matches("^EAI_", got[i][3])
      got[i][3] = nil
    end
    assert.same(want, got)
    assert.is_nil(got[1][1])
    assert.is_string(got[1][2])
  end)

  it("words a name the resolver does not know as LuaSocket does", function()
    local _, err = socket.connect(host, 80)
    if err ~= "host or service not provided, or not known" then
      pending("this machine's resolver answers otherwise: " .. tostring(err))
      return
    end
    assert.same({ nil, "host or service not provided, or not known", "EAI_NONAME" },
      { S.connect(host, 80) })
    assert.same({ nil, "host not found", "EAI_NONAME" }, { R.toip(host) })
  end)
end)
