-- One failure convention for OS errors: nil, message, errno name (luv's).
-- LuaSocket-compatible calls keep LuaSocket's message and add the name;
-- the resolver's name is its EAI_x constant's.  And one rule and wording
-- for seconds, in C and in Lua.
local lg = require "lgreen"
local H = require "helper"
local S = require "lgreen.socket"
local R = require "lgreen.resolve"
local process = require "lgreen.process"
local args = require "lgreen.args"
local core = require "lgreen.core"

-- A port with nothing listening on it (a listener opened, then closed).
local function closed_port()
  local srv = assert(lg.listen("127.0.0.1", 0))
  local _, port = srv:getsockname()
  srv:close()
  return port
end

-- err's message, or a failure if fn returned.
local function raised(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "no error raised")
  return tostring(err)
end

describe("OS failures are nil, message, errno name", function()
  it("connect refused: LuaSocket's message, ECONNREFUSED", function()
    local port = closed_port()
    assert.same({ nil, "connection refused", "ECONNREFUSED" },
      { lg.connect("127.0.0.1", port) })
    local c = S.tcp()
    assert.same({ nil, "connection refused", "ECONNREFUSED" },
      { c:connect("127.0.0.1", port) })
    c:close()
  end)

  it("listen and bind on a port in use: EADDRINUSE", function()
    local srv = assert(lg.listen("127.0.0.1", 0))
    local _, port = srv:getsockname()
    assert.same({ nil, "address already in use", "EADDRINUSE" },
      { lg.listen("127.0.0.1", port) })
    local s = S.tcp()
    assert.same({ nil, "address already in use", "EADDRINUSE" },
      { s:bind("127.0.0.1", port) })
    s:close()
    srv:close()
  end)

  it("a command that cannot be executed: strerror, ENOENT", function()
    if H.qemu then
      return pending("qemu-user runs vfork as fork: posix_spawn cannot see the exec fail")
    end
    local missing = "/nonexistent/lgreen-no-such-command"
    assert.same({ nil, "No such file or directory", "ENOENT" },
      { process.spawn({ missing }) })
    assert.same({ nil, "No such file or directory", "ENOENT" },
      { process.run({ missing }) })
  end)

  it("signalling a reaped child: ESRCH", function()
    local p = assert(process.spawn({ "true" }))
    assert.same({ 0, "exit" }, { p:wait() })
    assert.same({ nil, "No such process", "ESRCH" }, { p:kill() })
  end)

  it("a failed lookup: LuaSocket 3's words, the EAI_x name", function()
    local list, err, name = R.getaddrinfo("localhost", "lgreen-no-such-service")
    assert.is_nil(list)
    assert.equal("EAI_SERVICE", name)
    assert.equal("service not supported for socket type", err)
    -- no IPv4 address for an IPv6 literal: the name says which failure
    list, err, name = R.getaddrinfo("::1", 80, { family = "inet" })
    assert.is_nil(list)
    assert.is_string(err)
    assert.matches("^EAI_%u+$", name)
    -- socket.dns.toip's words are "host not found"; the name stays
    local ip, e2, n2 = R.toip("::1")
    assert.same({ nil, "host not found" }, { ip, e2 })
    assert.equal(name, n2)
  end)

  it("out of fds, listen and spawn say EMFILE", function()
    local code, out = H.run([[
      local lg = require "lgreen"
      local process = lg.process
      local srv = assert(lg.listen("127.0.0.1", 0))	-- loads what listen needs
      srv:close()
    ]] .. H.fill_fds .. [[
      print("listen", lg.listen("127.0.0.1", 0))
      print("spawn", process.spawn({ "true" }, { stdout = "pipe" }))
      for i = 1, #held do held[i]:close() end
    ]])
    assert.equal(0, code, out)
    assert.matches("listen\tnil\tToo many open files\tEMFILE\n", out, 1, true)
    assert.matches("spawn\tnil\tToo many open files\tEMFILE\n", out, 1, true)
  end)
end)

describe("seconds: one rule, one wording, in C and in Lua", function()
  local cases = { "x", -1, 0/0, true }
  it("C's checks say what lgreen.args.check_seconds says", function()
    for _, v in ipairs(cases) do
      local lua = raised(args.check_seconds, v, 1, "f"):match("%((.*)%)$")
      local c = raised(function() lg.sleep(v) end):match("%((.*)%)$")
      assert.equal(lua, c)
      assert.matches("^seconds expected, got ", c)
    end
    assert.equal(tostring(-1), (raised(function() lg.sleep(-1) end):match("got (.*)%)$")))
  end)

  it("math.huge is taken everywhere (as good as never)", function()
    local p = assert(process.spawn({ "true" }))
    assert.same({ 0, "exit" }, { p:wait(math.huge) })
    local t = lg.Timeout(math.huge)
    assert.is_true(t.pending)
    t:cancel()
    assert.same({ 1 }, { lg.with_timeout(math.huge, function() return 1 end) })
    assert.same({ nil, "timeout" }, { lg.Queue():get(true, 0) })
    assert.is_false(lg.Semaphore(0):acquire(true, 0))
    local core_wait = core.process.wait
    local q = assert(process.spawn({ "true" }))
    assert.same({ 0, "exit" }, { core_wait(q.child, 1e12) })
  end)

  it("every blocking call names its timeout argument", function()
    local q, s, e = lg.Queue(), lg.Semaphore(1), lg.Event()
    local function msg(fn) return raised(fn) end
    assert.matches("bad argument #2 to 'get' %(seconds expected, got string%)",
      msg(function() q:get(true, "1") end))
    -- checked even when the call would not wait
    assert.matches("bad argument #3 to 'put' %(seconds expected, got %-1%)",
      msg(function() q:put(1, true, -1) end))
    assert.matches("bad argument #1 to 'join' %(seconds expected, got string%)",
      msg(function() q:join("1") end))
    assert.matches("bad argument #2 to 'acquire' %(seconds expected, got string%)",
      msg(function() s:acquire(true, "1") end))
    assert.matches("bad argument #1 to 'wait' %(seconds expected, got string%)",
      msg(function() e:wait("1") end))
    assert.matches("bad argument #1 to 'with_timeout' %(seconds expected, got string%)",
      msg(function() lg.with_timeout("1", print) end))
    assert.matches("bad argument #2 to 'with_timeout' %(function expected, got nil%)",
      msg(function() lg.with_timeout(1) end))
    assert.matches("bad argument #1 to 'Timeout' %(seconds expected, got string%)",
      msg(function() lg.Timeout("1") end))
    assert.matches("bad argument #3 to 'connect' %(seconds expected, got %-1%)",
      msg(function() lg.connect("127.0.0.1", 1, -1) end))
    local p = assert(process.spawn({ "true" }))
    assert.matches("bad argument #1 to 'wait' %(seconds expected, got string%)",
      msg(function() p:wait("1") end))
    p:wait()
  end)

  it("argument errors of queue, semaphore and monkey_patch blame the caller", function()
    local here = "^spec/85%-errors_spec%.lua:%d+: "
    assert.matches(here .. "bad argument #1 to 'Queue' %(maxsize must be",
      raised(function() lg.Queue(-1) end))
    assert.matches(here .. "bad argument #1 to 'put' %(item must not be nil%)",
      raised(function() lg.Queue():put(nil) end))
    assert.matches(here .. "bad argument #1 to 'put' %(priority is NaN%)",
      raised(function() lg.PriorityQueue():put(0/0) end))
    assert.matches(here .. "bad argument #1 to 'Semaphore' %(count must be",
      raised(function() lg.Semaphore(-1) end))
    assert.matches(here .. "bad argument #1 to 'monkey_patch' %(unknown group 'x'",
      raised(function() lg.monkey_patch({ "x" }) end))
    assert.matches(here .. "bad argument #1 to 'monkey_patch' %(table of group names expected, got number%)",
      raised(function() lg.monkey_patch(1) end))
  end)
end)
