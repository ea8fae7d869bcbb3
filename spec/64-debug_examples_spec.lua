-- The README's "Debugging a stuck program": its examples are printed
-- exactly, and print what the README shows (times aside); a C host gets
-- the dump with lgreen_dump.
local lg = require "lgreen"
local H = require "helper"

local section = H.read("README.md"):match("\n## Debugging a stuck program\n(.-)\n## ")

-- The code blocks of the section, in order.
local function blocks()
  local t = {}
  for b in section:gmatch("```[a-z]*\n(.-)```") do t[#t + 1] = b end
  return t
end

-- Output with what changes from run to run made constant: durations, and
-- line numbers inside lgreen's own files.
local function shape(s)
  return (s:gsub("%d+%.%d+ s", "T s"):gsub("%d+ ms", "N ms")
    :gsub("(lua/lgreen/[%w_]+%.lua):%d+", "%1:N"))
end

local function run(file)
  local out, err, code = lg.process.run({ H.lua, file }, { env = H.childenv() })
  return out, err, code
end

describe("README: debugging a stuck program", function()
  it("prints examples/stuck_pool.lua and its dump exactly", function()
    assert.is_string(section)
    local b = blocks()
    assert.equal(H.read("examples/stuck_pool.lua"), b[1])
    local out, err, code = run("examples/stuck_pool.lua")
    assert.equal(0, code, err)
    assert.equal("", err)
    assert.equal(shape(b[2]), shape(out))
    assert.matches("\n4 parked on Queue:get for ", out, 1, true)
    assert.matches("\n  examples/stuck_pool.lua:11: in function", out, 1, true)
  end)

  it("prints examples/blocking.lua and its two reports", function()
    local b = blocks()
    assert.equal(H.read("examples/blocking.lua"), b[3])
    local out, err, code = run("examples/blocking.lua")
    assert.equal(0, code, err)
    assert.equal("", out)
    -- the reports and the user's frame (the frames under it differ by VM)
    local function head(s)
      local lines = {}
      for l in s:gmatch("[^\n]*") do
        if #lines < 5 and l ~= "" then lines[#lines + 1] = l end
      end
      return shape(table.concat(lines, "\n"))
    end
    assert.equal(head(b[4]), head(err))
  end)
end)

describe("lgreen_dump (c/lgreen.h)", function()
  it("gives a C host the dump as a string", function()
    local build = os.getenv("LGREEN_BUILD") or "build"
    local flags = ({
      luajit = { "-I/usr/include/luajit-2.1", "-lluajit-5.1", "5.1" },
      ["5.1"] = { "-I/usr/include/lua5.1", "-llua5.1", "5.1" },
      ["5.2"] = { "-I/usr/include/lua5.2", "-llua5.2", "5.2" },
      ["5.3"] = { "-I/usr/include/lua5.3", "-llua5.3", "5.3" },
      ["5.4"] = { "-I/usr/include/lua5.4", "-llua5.4", "5.4" },
    })[H.vm]
    local so = build .. "/" .. flags[3] .. "/lgreen/core.so"
    local exe = os.tmpname()
    local _, err, code = lg.process.run({ "cc", "-O1", "-g", flags[1], "spec/c/host_dump.c",
      "-o", exe, flags[2], "-lev", so, "-Wl,-rpath," .. so:match("^(.*)/") })
    assert.equal(0, code, err)
    local out, dump
    out, dump, code = lg.process.run({ exe, build .. "/" .. flags[3] .. "/?.so" },
      { env = H.childenv() })
    os.remove(exe)
    assert.equal(0, code, out .. dump)
    assert.equal("ok 1 - the chunk runs\nok 2 - the green threads park: the hub is idle\n"
      .. "ok 3 - lgreen_dump pushes a string\nok 4 - the host goes on: they finish\n1..4\n", out)
    assert.matches("^lgreen: 5 green threads in 3 groups, largest first\n", dump)
    assert.matches("\n3 parked on Event:wait for ", dump, 1, true)
    assert.matches("spawned at [string \"local lg = require 'lgreen'...\"]:3 by 'main' (id 1)",
      dump, 1, true)
  end)
end)
