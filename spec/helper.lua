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
