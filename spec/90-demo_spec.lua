-- make demo: examples/l3_agent.lua against the redis-server it starts.
-- Needs redis-server and redis-cli (tools/deps.sh installs them; CI runs it
-- there, so under CI a missing redis is a failure, not a pending test).
local lg = require "lgreen"
local H = require "helper"

local build = os.getenv("LGREEN_BUILD") or "build"

local function which(cmd)
  local p = io.popen("command -v " .. cmd .. " 2>/dev/null")
  local path = p:read("*l")
  p:close()
  return path
end

local have_redis = which("redis-server") and which("redis-cli")
if not have_redis and os.getenv("CI") then
  error("redis-server/redis-cli missing under CI: tools/deps.sh installs them")
end

-- Runs a shell command line; its exit code and stdout + stderr.
local function run(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"EXIT:$?\"")
  local out = p:read("*a")
  p:close()
  return tonumber(out:match("EXIT:(%d+)%s*$")), (out:gsub("EXIT:%d+%s*$", ""))
end

-- The broker the demo announced: its pid and port.
local function broker(out)
  local pid, port = out:match("redis%-server %(pid (%d+), port (%d+)%)")
  assert(pid, "no broker line in:\n" .. out)
  return tonumber(pid), tonumber(port)
end

-- The broker is gone: no such process, nothing listening on its port.
local function assert_gone(pid, port)
  local alive = os.execute("kill -0 " .. pid .. " 2>/dev/null")
  assert.is_false(alive == true or alive == 0, "redis-server still runs")
  local c, err = lg.connect("127.0.0.1", port, 5)
  if c then c:close() end
  assert.equal("connection refused", err)
end

-- A new directory holding links to these commands, for PATH.
local function bin_dir(cmds)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. dir))
  for _, cmd in ipairs(cmds) do
    assert(os.execute(("ln -s %s %s/"):format(which(cmd), dir)))
  end
  return dir
end

local test = have_redis and it or function(name)
  pending(name .. ": redis-server is not installed (sh tools/deps.sh as root)")
end

describe("examples/l3_agent.lua (make demo)", function()
  test("processes every message once, 8 at a time, and stops its redis", function()
    local code, out = run(("BUILD=%s sh examples/run.sh l3_agent.lua %s"):format(build, H.lua))
    assert.equal(0, code, out)
    local n = tonumber(out:match("L3 agent: (%d+) updates"))
    assert.is_number(n, out)
    local seen, lines = {}, 0
    for id in out:gmatch("#(%d+)%s+router%-%d%d %a+ ") do
      id = tonumber(id)
      seen[id] = (seen[id] or 0) + 1
      lines = lines + 1
    end
    assert.equal(n, lines, out)
    for id = 1, n do assert.equal(1, seen[id], "message #" .. id .. "\n" .. out) end
    assert.matches("processed " .. n .. " updates in", out)
    assert.matches("max concurrent workers: 8 %(pool size 8%)", out)
    assert.matches("left in the broker: 0\n", out)
    assert.matches("redis%-server stopped: exit 0\n", out)
    assert_gone(broker(out))
  end)

  test("stops its redis when it is sent SIGTERM or SIGINT", function()
    for sig, signum in pairs({ TERM = 15, INT = 2 }) do	-- Linux's numbers
      local p = assert(lg.process({ "env", "BUILD=" .. build, "sh", "examples/run.sh",
        "l3_agent.lua", H.lua }, { stdout = "pipe", stderr = "stdout" }))
      local first = p.stdout:receive("*l") or ""	-- redis answers by then
      assert(p:kill(sig))
      local rest = p.stdout:receive("*a")
      local code = p:wait()
      p:close()
      assert.equal(128 + signum, code, first .. "\n" .. rest)
      assert.matches("redis%-server stopped: exit 0\n", rest)
      assert.matches("l3_agent: SIG" .. sig .. ": stopped\n$", rest)
      assert_gone(broker(first))
    end
  end)

  test("stops its redis when the producer fails, and says why", function()
    local dir = bin_dir({ H.lua, "redis-server" })	-- no redis-cli
    local code, out = run(("%sPATH=%s %s examples/l3_agent.lua"):format(H.env, dir, H.lua))
    os.execute("rm -r " .. dir)
    assert.equal(1, code, out)
    assert.matches("l3_agent: cannot run redis%-cli: ", out)
    assert.matches("redis%-server stopped: exit 0\n", out)
    assert_gone(broker(out))
  end)

  it("says why when redis-server does not start", function()
    local dir = bin_dir({ H.lua })
    local f = assert(io.open(dir .. "/redis-server", "w"))	-- fails as redis does
    f:write("#!/bin/sh\necho '*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***'\nexit 1\n")
    f:close()
    os.execute("chmod +x " .. dir .. "/redis-server")
    local code, out = run(("%sPATH=%s %s examples/l3_agent.lua"):format(H.env, dir, H.lua))
    os.execute("rm -r " .. dir)
    assert.equal(1, code, out)
    assert.equal("l3_agent: redis-server did not start on port ", out:sub(1, 45))
    assert.matches("%d: %*%*%* FATAL CONFIG FILE ERROR %(Redis 7%.0%.15%) %*%*%*\n$", out)
  end)

  it("says how to install redis-server when it is missing", function()
    local dir = bin_dir({ H.lua })
    local code, out = run(("%sPATH=%s %s examples/l3_agent.lua"):format(H.env, dir, H.lua))
    os.execute("rm -r " .. dir)
    assert.equal(1, code, out)
    assert.matches("^l3_agent: cannot run redis%-server %(.+%): sh tools/deps.sh as root installs it\n$", out)
  end)
end)
