-- Shared by the specs: which VM runs them, memory figures, subprocesses.
local H = {}

H.vm = jit and "luajit" or _VERSION:match("^Lua (5%.%d)$")
H.lua = os.getenv("LGREEN_LUA") or (H.vm == "luajit" and "luajit" or "lua" .. H.vm)
H.slow = os.getenv("LGREEN_SLOW") ~= nil	-- under valgrind: fewer rounds
H.valgrind = os.getenv("LGREEN_VALGRIND") ~= nil	-- under valgrind itself
H.qemu = os.getenv("LGREEN_QEMU") ~= nil	-- an arm64 VM under qemu-user
H.cc = os.getenv("LGREEN_CC") or "cc"	-- builds what the VM under test loads

local pagekib = (function()
  local p = io.popen("getconf PAGESIZE")
  local n = tonumber(p:read("*a"))
  p:close()
  return (n or 4096) / 1024
end)()

-- Resident set size of this process in KiB.
function H.rss_kib()
  local f = assert(io.open("/proc/self/statm"))
  local _, resident = f:read("*n", "*n")
  f:close()
  return resident * pagekib
end

-- Open file descriptors of this process.
-- (lfs reads the directory in-process: counting through io.popen races
-- with the pipe's child end.)
local has_lfs, lfs = pcall(require, "lfs")
function H.nfds()
  if has_lfs then
    local n = 0
    for e in lfs.dir("/proc/self/fd") do
      if e ~= "." and e ~= ".." then n = n + 1 end
    end
    return n - 1	-- the directory's own fd
  end
  local p = io.popen("ls /proc/" .. H.pid() .. "/fd | wc -l")
  local n = tonumber(p:read("*a"))
  p:close()
  return n - 1	-- the pipe of this popen
end

function H.pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("*n")
  f:close()
  return pid
end

-- Subprocesses load the build under test (spec/run.sh sets LGREEN_BUILD).
local build = os.getenv("LGREEN_BUILD") or "build"
local env = "LUA_PATH='lua/?.lua;lua/?/init.lua;;' "
  .. "LUA_CPATH='" .. build .. "/5.1/?.so;;' LUA_CPATH_5_2='" .. build .. "/5.2/?.so;;' "
  .. "LUA_CPATH_5_3='" .. build .. "/5.3/?.so;;' LUA_CPATH_5_4='" .. build .. "/5.4/?.so;;' "
H.env = env	-- that environment, as a shell prefix

-- Run Lua source in a fresh process of the same VM; returns its exit code
-- and everything it wrote to stdout and stderr.
function H.run(src)
  local name = os.tmpname()
  local f = assert(io.open(name, "w"))
  f:write(src)
  f:close()
  local p = io.popen(env .. H.lua .. " " .. name .. " 2>&1; echo \"EXIT:$?\"")
  local out = p:read("*a")
  p:close()
  os.remove(name)
  local code = tonumber(out:match("EXIT:(%d+)%s*$"))
  return code, (out:gsub("EXIT:%d+%s*$", ""))
end

-- Poll cond, yielding to the hub between tries, until it holds (true) or
-- seconds have passed (false).  For conditions no event announces; the
-- deadline only turns a hang into a failure: keep it generous.
function H.await(cond, seconds)
  local lg = require "lgreen"
  local deadline = lg.now() + seconds
  while not cond() do
    if lg.now() > deadline then return false end
    lg.sleep(0.01)
  end
  return true
end

-- Full collections until memory stops shrinking.
function H.collect()
  for _ = 1, 4 do collectgarbage("collect") end
end

-- The whole of a file.
function H.read(name)
  local f = assert(io.open(name))
  local s = f:read("*a")
  f:close()
  return s
end

-- Yield (sleep(0)) until cond() holds: the other greenthreads got that far.
-- Raises after 1000 tries.
function H.yield_until(cond)
  local lg = require "lgreen"
  for _ = 1, 1000 do
    if cond() then return end
    lg.sleep(0)
  end
  error("the condition never held")
end

-- An object whose finalizer is fn (newproxy where __gc on tables is not).
function H.finalized(fn)
  if newproxy then
    local p = newproxy(true)
    getmetatable(p).__gc = fn
    return p
  end
  return setmetatable({}, { __gc = fn })
end

-- Bytes the VM allocated while fn ran, with the collector stopped (so
-- nothing is freed meanwhile), and fn's results in a table.
function H.allocated(fn)
  collectgarbage("collect")
  collectgarbage("stop")
  local before = collectgarbage("count")
  local r = { fn() }
  local after = collectgarbage("count")
  collectgarbage("restart")
  return (after - before) * 1024, r
end

-- Lua source for a child (H.run) that opens /dev/null until its fd table
-- is full, the handles in a local `held` (close them to free the fds).
H.fill_fds = [[
local held = {}
while true do
  local h = io.open("/dev/null")
  if not h then break end
  held[#held + 1] = h
end
]]

-- s with its punctuation escaped, as a literal Lua pattern.
function H.esc(s) return (s:gsub("%p", "%%%0")) end

-- The line after the one that calls it.
function H.next_line() return debug.getinfo(2, "l").currentline + 1 end

-- Calls of lg.on_error's handler while f runs: one table of its arguments
-- each ({ n = select("#", ...), ... }).
function H.handled(f)
  local lg = require "lgreen"
  local got = {}
  lg.on_error(function(...) got[#got + 1] = { n = select("#", ...), ... } end)
  local ok, e = pcall(f)
  lg.on_error(nil)
  if not ok then error(e, 0) end
  return got
end

-- The environment of a child VM (for process.spawn's env): the build under
-- test (and ASan's preload).
function H.childenv()
  return {
    PATH = os.getenv("PATH"),
    LUA_PATH = "lua/?.lua;lua/?/init.lua;;",
    LUA_CPATH = build .. "/5.1/?.so;;",
    LUA_CPATH_5_2 = build .. "/5.2/?.so;;",
    LUA_CPATH_5_3 = build .. "/5.3/?.so;;",
    LUA_CPATH_5_4 = build .. "/5.4/?.so;;",
    LD_PRELOAD = os.getenv("LD_PRELOAD"),
    ASAN_OPTIONS = os.getenv("ASAN_OPTIONS"),
  }
end

local function sh(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  assert(ok == true or ok == 0, "failed: " .. cmd)
end

-- A throwaway CA (ca.pem, ca.key) and a server certificate it signs
-- (srv.pem, srv.key; SAN localhost and 127.0.0.1), made with openssl in a
-- new directory, whose name it returns.
function H.certs()
  local dir = os.tmpname()
  os.remove(dir)
  sh("mkdir -p " .. dir)
  sh(("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=lgreen test CA'"
    .. " -keyout ca.key -out ca.pem"):format(dir))
  sh(("cd %s && openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost'"
    .. " -keyout srv.key -out srv.csr"):format(dir))
  local f = assert(io.open(dir .. "/ext.cnf", "w"))
  f:write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
  f:close()
  sh(("cd %s && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
    .. " -days 2 -extfile ext.cnf -out srv.pem"):format(dir))
  return dir
end

return H
