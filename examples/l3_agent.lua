-- An L3-agent-style loop, as OpenStack Neutron's agent runs it on eventlet:
-- router updates arrive (RPC ones ahead of the periodic resync), a
-- GreenPool(8) keeps eight workers processing them, each blocked on I/O
-- most of the time.  Run: make demo (or examples/run.sh l3_agent.lua).
local lg = require "lgreen"

local ROUTERS, UPDATES, POOL_SIZE = 24, 64, 8
local PRIORITY_RPC, PRIORITY_SYNC, PRIORITY_STOP = 0, 1, 9

local queue = lg.PriorityQueue()	-- {priority, seq, update}: lowest first
local pool = lg.GreenPool(POOL_SIZE)

-- Deterministic "I/O latency" (namespace setup, iptables, RPC round trips).
local seed = 42
local function latency()
  seed = (seed * 16807) % 2147483647		-- exact in doubles and integers
  return 0.02 + (seed % 40) / 1000		-- 20..59 ms
end

local stats = { processed = 0, busy = 0, in_flight = 0, max_in_flight = 0,
                wait = { [PRIORITY_RPC] = 0, [PRIORITY_SYNC] = 0 },
                count = { [PRIORITY_RPC] = 0, [PRIORITY_SYNC] = 0 } }
local t0 = lg.now()
local stopping = false

local function ms(s) return ("%7.1f ms"):format(s * 1000) end

-- The producer: a resync of every router, with RPC notifications for some
-- routers arriving meanwhile; they jump the queue.
local function producer()
  for i = 1, UPDATES do
    local rpc = i % 3 == 0
    local update = { router = ("router-%02d"):format((i * 7) % ROUTERS + 1),
                     action = rpc and "rpc" or "sync", queued = lg.now() }
    queue:put({ rpc and PRIORITY_RPC or PRIORITY_SYNC, i, update })
    if i % 8 == 0 then lg.sleep(0.01) end	-- updates come in bursts
  end
  queue:put({ PRIORITY_STOP, math.huge, false })	-- after every update
end

-- One worker: take the most urgent update, do its (simulated) I/O.
local function process_router_update()
  local item = queue:get()
  local update = item[3]
  if not update then		-- shutdown: leave the marker for the others
    stopping = true
    queue:put(item)
    return
  end
  local started = lg.now()
  stats.wait[item[1]] = stats.wait[item[1]] + (started - update.queued)
  stats.count[item[1]] = stats.count[item[1]] + 1
  stats.in_flight = stats.in_flight + 1
  stats.max_in_flight = math.max(stats.max_in_flight, stats.in_flight)
  local cost = latency()
  lg.sleep(cost)
  print(("%s  %-9s %-4s  took %s, %d in flight"):format(
    ms(lg.now() - t0), update.router, update.action, ms(cost), stats.in_flight))
  stats.in_flight = stats.in_flight - 1
  stats.processed = stats.processed + 1
  stats.busy = stats.busy + cost
end

print(("L3 agent: %d updates for %d routers, GreenPool(%d)"):format(UPDATES, ROUTERS, POOL_SIZE))
lg.spawn(producer)
while not stopping do		-- Neutron's _process_routers_loop
  pool:spawn_n(process_router_update)
end
pool:waitall()

local elapsed = lg.now() - t0
print(("\nprocessed %d updates in %.2f s; one at a time they take %.2f s: %.1fx")
  :format(stats.processed, elapsed, stats.busy, stats.busy / elapsed))
print(("max concurrent workers: %d (pool size %d)"):format(stats.max_in_flight, POOL_SIZE))
print(("average wait in queue: rpc %s, sync %s"):format(
  ms(stats.wait[PRIORITY_RPC] / stats.count[PRIORITY_RPC]),
  ms(stats.wait[PRIORITY_SYNC] / stats.count[PRIORITY_SYNC])))
