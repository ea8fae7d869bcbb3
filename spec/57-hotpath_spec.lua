-- Hot paths without system calls (issue 9 item 4): spawning and finishing
-- green threads one at a time (spawn_n, then sleep(0)) makes no epoll_wait
-- per round; the hub still polls between rounds, so a busy sleep(0) loop
-- sees I/O.
local H = require "helper"
local lg = require "lgreen"
local socket = require "socket"

describe("hub hot path", function()
  it("spawn_n + finish one at a time makes no epoll_wait per round", function()
    local N = 2000
    local trace = os.tmpname()
    local name = os.tmpname()
    local f = assert(io.open(name, "w"))
    f:write(([[
local lg = require "lgreen"
local function noop() end
for _ = 1, 100 do lg.spawn_n(noop) lg.sleep(0) end	-- warm: pools, loop
io.stderr:write("<<start>>\n")
for _ = 1, %d do lg.spawn_n(noop) lg.sleep(0) end
io.stderr:write("<<end>>\n")
]]):format(N))
    f:close()
    local p = io.popen(H.env .. "strace -f -qq -e trace=epoll_wait,write -o "
      .. trace .. " " .. H.lua .. " " .. name .. " 2>&1; echo \"EXIT:$?\"")
    local out = p:read("*a")
    p:close()
    os.remove(name)
    assert.matches("EXIT:0", out)
    local polls, inside, seen = 0, false, 0
    for line in io.lines(trace) do
      if line:find("<<start>>", 1, true) then inside, seen = true, seen + 1
      elseif line:find("<<end>>", 1, true) then inside, seen = false, seen + 1
      elseif inside and line:find("epoll_wait(", 1, true) then polls = polls + 1 end
    end
    os.remove(trace)
    assert.equal(2, seen)
    -- before: one per round (N); a poll now and then stays far below N/2
    assert.is_true(polls < N / 2, ("%d epoll_wait in %d rounds"):format(polls, N))
  end)

  it("a wait on a Queue, an Event or a Semaphore allocates no table", function()
    -- bytes allocated per wait + wake round, with the GC stopped; LuaJIT's
    -- compiler is off (traces allocate too).  Before: a waiter node table
    -- per wait, over 150 bytes a round on every VM.
    local code, out = H.run([[
      if jit then jit.off() end
      local lg = require "lgreen"
      local function rounds(n, wait, wake)
        local done = 0
        lg.spawn_n(function() for _ = 1, n do wait() done = done + 1 end end)
        lg.sleep(0)
        for _ = 1, n do wake() lg.sleep(0) end
        assert(done == n)
      end
      local kinds = {
        Queue = function() local q = lg.Queue()
          return function() q:get() end, function() q:put(1) end end,
        Event = function() local e = lg.Event()
          return function() e:wait() e:reset() end, function() e:send(1) end end,
        Semaphore = function() local s = lg.Semaphore(0)
          return function() s:acquire() end, function() s:release() end end,
      }
      for _, name in ipairs({ "Queue", "Event", "Semaphore" }) do
        local N = 1000
        rounds(100, kinds[name]())		-- warm: node pools, stacks
        collectgarbage("collect")
        collectgarbage("stop")
        local k0 = collectgarbage("count")
        rounds(N, kinds[name]())
        print(name, math.floor((collectgarbage("count") - k0) * 1024 / N))
        collectgarbage("restart")
      end
    ]])
    assert.equal(0, code, out)
    local seen = 0
    for name, bytes in out:gmatch("(%a+)\t(%d+)") do
      seen = seen + 1
      assert.is_true(tonumber(bytes) < 32, name .. ": " .. bytes .. " bytes per wait")
    end
    assert.equal(3, seen, out)
  end)

  it("a busy sleep(0) loop still sees an fd become readable", function()
    local srv = assert(socket.bind("127.0.0.1", 0))
    local ip, port = srv:getsockname()
    local c = assert(socket.connect(ip, port))
    local s = assert(srv:accept())
    local woke = false
    lg.spawn_n(function()
      lg.wait_read(s:getfd())
      woke = true
    end)
    lg.sleep(0)				-- it waits on s now
    assert(c:send("x"))
    while not woke do			-- only the hub's poll can wake it
      lg.sleep(0)
    end
    assert.equal("x", s:receive(1))
    c:close() s:close() srv:close()
  end)
end)
