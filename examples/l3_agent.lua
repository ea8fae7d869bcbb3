-- An L3-agent-style loop, as OpenStack Neutron's agent runs it on eventlet,
-- fed by a real broker: router updates arrive as messages on a redis-server
-- this script starts on a free local port (and always stops), one green
-- thread per message on a GreenPool(8), each one's RPCs simulated by a
-- sleep.  A resync queues an update for every router; RPC notifications
-- arrive meanwhile on a second list, which BLPOP serves first.  The
-- producer is redis-cli, run by lg.process; the agent speaks RESP over a
-- green socket.  Needs redis-server and redis-cli (Debian: redis-server).
--   make demo          or: examples/run.sh l3_agent.lua [VM]
local lg = require "lgreen"

io.stdout:setvbuf("line")		-- progress as it happens, into a pipe too
local ROUTERS, SYNC, RPC, POOL_SIZE = 24, 48, 16, 8
local LISTS = { rpc = "updates:rpc", sync = "updates:sync" }
local unpack = table.unpack or unpack

-- -- A minimal redis client (RESP) on a green socket --------------------------

local function read_reply(conn)
  local line = assert(conn:receive("*l"))
  local kind, rest = line:sub(1, 1), line:sub(2)
  if kind == "+" then return rest
  elseif kind == "-" then error("redis: " .. rest, 0)
  elseif kind == ":" then return tonumber(rest)
  elseif kind == "$" or kind == "*" then
    local n = tonumber(rest)
    if n < 0 then return nil end			-- nil reply (BLPOP timed out)
    if kind == "$" then return assert(conn:receive(n + 2)):sub(1, n) end
    local items = {}
    for i = 1, n do items[i] = read_reply(conn) end
    return items
  end
  error("redis: unexpected reply " .. line, 0)
end

local function command(conn, ...)
  local args = { ... }
  local out = { "*" .. #args .. "\r\n" }
  for i, a in ipairs(args) do
    a = tostring(a)
    out[i + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  assert(conn:send(table.concat(out)))
  return read_reply(conn)
end

-- -- The broker: redis-server on a free port, a child of this process --------

local function free_port()
  local probe = assert(lg.listen("127.0.0.1", 0))
  local _, port = probe:getsockname()
  probe:close()
  return port
end

local function stop_redis(redis)
  redis:kill("TERM")			-- redis shuts down cleanly on SIGTERM
  local code, how = redis:wait(10)
  if not code then
    redis:kill("KILL")
    code, how = redis:wait()
  end
  redis.stdout:close()
  return code, how
end

-- Its log says when it listens (EOF if it could not start); then PING.
local function wait_ready(redis, port)
  local last = ""
  local up = lg.with_timeout(10, function()
    for line in function() return redis.stdout:receive("*l") end do
      last = line
      if line:find("Ready to accept connections", 1, true) then return true end
    end
  end)
  if not up then error("redis-server did not start on port " .. port .. ": " .. last, 0) end
  lg.spawn_n(redis.stdout.receive, redis.stdout, "*a")	-- drain the rest
  local conn = assert(lg.connect("127.0.0.1", port, 5))
  conn:settimeout(10)
  assert(command(conn, "PING") == "PONG", "no PONG from redis-server")
  conn:close()
end

-- Returns the Process and its port once it answers PING (within 10 s).
local function start_redis()
  local port = free_port()
  local redis, err = lg.process({ "redis-server", "--port", port, "--bind",
    "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no" },
    { stdout = "pipe", stderr = "stdout" })
  if not redis then
    error("cannot run redis-server (" .. err .. "): sh tools/deps.sh as root installs it", 0)
  end
  local ok, why = pcall(wait_ready, redis, port)
  if not ok then
    stop_redis(redis)
    error(why, 0)
  end
  return redis, port
end

-- -- The agent ----------------------------------------------------------------

-- Deterministic "I/O latency" (namespace setup, iptables, RPC round trips).
local seed = 42
local function latency()
  seed = (seed * 16807) % 2147483647		-- exact in doubles and integers
  return 0.05 + (seed % 60) / 1000		-- 50..109 ms
end

local stats = { processed = 0, busy = 0, in_flight = 0, max_in_flight = 0,
                wait = { rpc = 0, sync = 0 }, count = { rpc = 0, sync = 0 } }
local t0 = lg.now()
local function ms(s) return ("%7.1f ms"):format(s * 1000) end

-- The producer: one redis-cli run per batch (RPUSH of every update in it).
local function push(port, list, updates)
  local out, err, code = lg.process.run({ "redis-cli", "-p", port, "RPUSH", list,
    unpack(updates) }, { timeout = 10 })
  if not out then error("cannot run redis-cli: " .. err, 0) end
  if code ~= 0 or not tonumber(out) then
    error("redis-cli RPUSH failed: " .. (err ~= "" and err or out), 0)
  end
end

local function producer(port)
  local n, sync = 0, {}
  local function update(action, router)		-- "id router action queued-at"
    n = n + 1
    return ("%d router-%02d %s %.6f"):format(n, router, action, lg.now())
  end
  for i = 1, SYNC do sync[i] = update("sync", (i - 1) % ROUTERS + 1) end
  push(port, LISTS.sync, sync)			-- the periodic resync
  for burst = 1, RPC / 4 do			-- RPC notifications, in bursts
    lg.sleep(0.02)
    local rpc = {}
    for i = 1, 4 do rpc[i] = update("rpc", (burst * 7 + i * 5) % ROUTERS + 1) end
    push(port, LISTS.rpc, rpc)
  end
  push(port, LISTS.sync, { "stop" })		-- behind every update
end

-- One update, in its own green thread: the RPCs it causes.
local function process_router_update(list, message)
  local id, router, action, queued = message:match("^(%d+) (%S+) (%a+) ([%d.]+)$")
  if not id or not stats.wait[action] then
    error("malformed update from " .. list .. ": " .. message, 0)
  end
  local started = lg.now()
  stats.wait[action] = stats.wait[action] + (started - tonumber(queued))
  stats.count[action] = stats.count[action] + 1
  stats.in_flight = stats.in_flight + 1
  stats.max_in_flight = math.max(stats.max_in_flight, stats.in_flight)
  local cost = latency()
  lg.sleep(cost)
  print(("%s  #%-3s %-9s %-4s  took %s, %d in flight"):format(
    ms(lg.now() - t0), id, router, action, ms(cost), stats.in_flight))
  stats.in_flight = stats.in_flight - 1
  stats.processed = stats.processed + 1
  stats.busy = stats.busy + cost
end

-- Neutron's _process_routers_loop: take the most urgent message once a
-- worker is free (BLPOP serves the first non-empty list), spawn it.
local function agent(port, pool)
  local conn = assert(lg.connect("127.0.0.1", port, 5))
  conn:settimeout(30)
  while true do
    local item = command(conn, "BLPOP", LISTS.rpc, LISTS.sync, 10)
    if not item then error("no update for 10 s", 0) end
    if item[2] == "stop" then break end
    pool:spawn(process_router_update, item[1], item[2])
  end
  pool:waitall()
  local left = command(conn, "LLEN", LISTS.rpc) + command(conn, "LLEN", LISTS.sync)
  conn:close()
  return left
end

local function main(redis, port)
  print(("L3 agent: %d updates for %d routers from redis-server (pid %d, port %d), GreenPool(%d)")
    :format(SYNC + RPC, ROUTERS, redis.pid, port, POOL_SIZE))
  local pool = lg.GreenPool(POOL_SIZE)
  local tg = lg.TaskGroup()		-- a failure in one stops the other
  tg:spawn(producer, port)
  tg:spawn(agent, port, pool)
  local ok, left = pcall(function() return select(2, tg:wait()) end)
  if not ok then
    pool:killall()
    error(left, 0)
  end
  local elapsed = lg.now() - t0
  print(("\nprocessed %d updates in %.2f s; one at a time they take %.2f s: %.1fx")
    :format(stats.processed, elapsed, stats.busy, stats.busy / elapsed))
  print(("max concurrent workers: %d (pool size %d)"):format(stats.max_in_flight, POOL_SIZE))
  print(("average wait in queue: rpc %s, sync %s"):format(
    ms(stats.wait.rpc / stats.count.rpc), ms(stats.wait.sync / stats.count.sync)))
  print(("left in the broker: %d"):format(left))
end

local function fail(err, status)
  io.stderr:write("l3_agent: ", tostring(err), "\n")
  os.exit(status or 1)
end

local started, redis, port = pcall(start_redis)
if not started then fail(redis) end

-- Stops redis, then exits as the first of these says: a signal, an
-- error, success.  The main script and a signal handler may both get
-- here; whichever ends the process, the outcome is the same.
local interrupted, reported
local function finish(err)
  local code, how = stop_redis(redis)
  if not reported then
    reported = true
    print(("redis-server stopped: %s %s"):format(how, code))
  end
  if interrupted then fail("SIG" .. interrupted[1] .. ": stopped", 128 + interrupted[2]) end
  if err then fail(err) end
end

for _, name in ipairs({ "INT", "TERM" }) do	-- interrupted: redis goes too
  lg.signal(name, function(signum)
    interrupted = interrupted or { name, signum }
    finish()
  end)
end
local ok, err = pcall(main, redis, port)
finish(not ok and err or nil)		-- on success and on error alike
