-- examples/run.sh NAME.lua [VM] [ARGS...]: the example runs on the VM asked
-- for, from any directory, with its arguments; the examples' headers show
-- that command.
local lg = require "lgreen"
local H = require "helper"

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return (out:gsub("\n$", ""))
end

local root = sh("pwd")
local build = os.getenv("LGREEN_BUILD") or "build"
if build:sub(1, 1) ~= "/" then build = root .. "/" .. build end

describe("examples/run.sh", function()
  it("runs the example on the VM given, from another directory, with its arguments", function()
    local p = assert(lg.process({ "env", "BUILD=" .. build, "sh", root .. "/examples/run.sh",
      "echo_server.lua", H.lua, "0", "64" }, { cwd = "/tmp", stdout = "pipe" }))
    finally(function()		-- also when an assertion fails
      p:kill("KILL")
      p:wait()
      p:close()
    end)
    local port = tonumber((p.stdout:receive("*l") or ""):match(":(%d+)$"))
    assert.is_number(port)
    -- exec'd, the VM asked for (unless that VM is itself a wrapper script,
    -- as OpenResty's unpacked luajit2 is: then the binary it execs runs)
    local vm = sh("readlink -f $(command -v " .. H.lua .. ")")
    if sh("head -c 4 " .. vm) == "\127ELF" then
      assert.equal(vm, sh("readlink -f /proc/" .. p.pid .. "/exe"))
    end
    local c = assert(lg.connect("127.0.0.1", port, 5))
    c:settimeout(10)
    local block = ("x"):rep(64)			-- no newline: echoed whole only
    assert(c:send(block))			-- when arg[2] = 64 reached it
    assert.equal(block, c:receive(64))
    c:close()
  end)

  it("names the examples when the one asked for does not exist", function()
    local out = sh("sh examples/run.sh no_such.lua 2>&1; echo EXIT:$?")
    assert.matches("^examples/run.sh: no example 'no_such.lua'; one of: .*l3_agent%.lua", out)
    assert.matches("EXIT:2$", out)
  end)

  it("is the command every example's header shows", function()
    for name in sh("ls examples"):gmatch("[%w_]+%.lua") do
      local src = H.read("examples/" .. name)
      assert.is_nil(src:find("lua examples/", 1, true), name .. " shows lua examples/...")
      for other in src:gmatch("examples/run%.sh ([%w_]+%.lua)") do
        assert.equal(name, other)
      end
    end
  end)
end)
