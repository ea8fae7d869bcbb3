-- A small service: an HTTP endpoint queues jobs (POST /jobs, the body is
-- the job), a GreenPool of 4 workers takes them from a Queue, GET /status
-- counts.  SIGTERM is a graceful shutdown: stop accepting, finish the
-- requests in flight, drain the queue, wait for the workers, exit 0.
--   examples/run.sh service.lua [VM] [port]    then:
--   curl -d hello http://127.0.0.1:8080/jobs; kill -TERM <pid>
local lg = require "lgreen"

io.stdout:setvbuf("line")                   -- each line as it happens
local port, WORKERS = tonumber(arg[1]) or 8080, 4
local jobs, workers = lg.Queue(100), lg.GreenPool(WORKERS)
local STOP = {}                             -- one per worker, after the jobs
local queued, done = 0, 0

local function worker(n)
  while true do
    local job = jobs:get()
    if job == STOP then return end
    lg.sleep(0.05)                          -- the work: I/O, parks this one
    done = done + 1
    print(("worker %d: job %d done: %s"):format(n, job.id, job.body:upper()))
  end
end

local function reply(client, status, body)
  client:send(("HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s")
    :format(status, #body, body))
end

local function handle(client)               -- one request per connection
  client:settimeout(10)
  local request = client:receive("*l") or ""
  local length = 0
  repeat
    local line = client:receive("*l")
    if not line then return end             -- lg.serve closes the client
    local n = line:lower():match("^content%-length:%s*(%d+)%s*$")
    length = n and tonumber(n) or length
  until line == ""
  if request:match("^POST /jobs HTTP/1%.[01]$") and length <= 65536 then
    local body = length > 0 and client:receive(length) or ""
    if not body then return end
    queued = queued + 1
    jobs:put({ id = queued, body = body })  -- waits while 100 are queued
    reply(client, "202 Accepted", ("job %d queued\n"):format(queued))
  elseif request:match("^GET /status HTTP/1%.[01]$") then
    reply(client, "200 OK", ("queued %d, done %d\n"):format(queued, done))
  else
    reply(client, "400 Bad Request", "POST /jobs (at most 64 KiB) or GET /status\n")
  end
end

for n = 1, WORKERS do workers:spawn_n(worker, n) end
local server = assert(lg.listen("127.0.0.1", port))
lg.signal("TERM", function()
  server:close()                            -- lg.serve below returns
  print("TERM: not accepting; finishing requests and draining the queue")
end)
print(("service on http://127.0.0.1:%d/ (pid %d)"):format(
  select(2, server:getsockname()), lg.process.getpid()))
lg.serve(server, handle)                    -- until closed, handlers done
for _ = 1, WORKERS do jobs:put(STOP) end    -- behind every queued job
workers:waitall()
print(("stopped: %d jobs queued, %d done"):format(queued, done))
