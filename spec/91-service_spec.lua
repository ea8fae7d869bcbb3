-- examples/service.lua, README's "Writing a service" recipe: started
-- through examples/run.sh on a free port, sent jobs over HTTP, then
-- SIGTERM: it stops accepting, runs every job it had queued, exits 0.
local lg = require "lgreen"
local H = require "helper"

local build = os.getenv("LGREEN_BUILD") or "build"

-- examples/service.lua on port 0 (killed at the end of the test); its
-- Process (stdout piped) and port.
local function start()
  local p = assert(lg.process({ "env", "BUILD=" .. build, "sh", "examples/run.sh",
    "service.lua", H.lua, "0" }, { stdout = "pipe", stderr = "stdout" }))
  finally(function()		-- stopped, also when an assertion fails
    if not p:poll() then
      p:kill("KILL")
      p:wait()
    end
    p:close()
  end)
  local first = p.stdout:receive("*l") or ""
  local port, pid = first:match("^service on http://127%.0%.0%.1:(%d+)/ %(pid (%d+)%)$")
  assert(port, "service printed: " .. first)
  assert.equal(p.pid, tonumber(pid))	-- run.sh execs the VM: TERM reaches it
  return p, tonumber(port)
end

-- One request, one connection; the status code and the body.
local function request(port, head, body)
  local c = assert(lg.connect("127.0.0.1", port, 5))
  c:settimeout(10)
  assert(c:send(head .. "\r\n" .. (body and ("Content-Length: " .. #body .. "\r\n") or "")
    .. "\r\n" .. (body or "")))
  local answer = assert(c:receive("*a"))
  c:close()
  return tonumber(answer:match("^HTTP/1%.1 (%d+)")), answer:match("\r\n\r\n(.*)$")
end

describe("examples/service.lua", function()
  it("queues jobs over HTTP and on SIGTERM drains them and exits 0", function()
    local p, port = start()
    local n, pool, replies = 12, lg.GreenPool(12), {}
    for i = 1, n do
      pool:spawn_n(function()
        replies[i] = { request(port, "POST /jobs HTTP/1.1", "job-" .. i) }
      end)
    end
    pool:waitall()
    local queued = {}
    for i = 1, n do
      assert.equal(202, replies[i][1])
      local id = tonumber(replies[i][2]:match("^job (%d+) queued\n$"))
      assert.is_nil(queued[id], "job id given twice")
      queued[id] = true
    end
    assert.equal(400, (request(port, "GET /nothing HTTP/1.1")))
    local code, status = request(port, "GET /status HTTP/1.1")
    assert.equal(200, code)
    assert.matches("^queued " .. n .. ", done %d+\n$", status)

    assert(p:kill("TERM"))
    local done, bodies, last, refused = {}, {}, nil, nil
    for line in function() return p.stdout:receive("*l") end do
      last = line
      if line:match("^TERM: not accepting") then	-- printed once closed
        local c, err = lg.connect("127.0.0.1", port, 5)
        if c then c:close() end
        refused = err
      end
      local id, body = line:match("^worker %d: job (%d+) done: (.*)$")
      if id then
        id = tonumber(id)
        assert.is_nil(done[id], "job " .. id .. " done twice")
        done[id], bodies[body] = true, true
      end
    end
    assert.equal(0, (p:wait()))
    assert.equal("connection refused", refused)
    for id = 1, n do assert.is_true(done[id], "job " .. id .. " not done") end
    for i = 1, n do assert.is_true(bodies["JOB-" .. i], "job-" .. i .. " not done") end
    assert.equal(("stopped: %d jobs queued, %d done"):format(n, n), last)
  end)

  it("is printed in README as it is", function()
    local block = H.read("README.md"):match(
      "%[`examples/service%.lua`%]%(examples/service%.lua%):\n\n```lua\n(.-)```")
    assert.equal(H.read("examples/service.lua"), block)
  end)
end)
