-- Real nginx for the specs and bench/nginx.lua: Debian's nginx binary with
-- ngx_lua and OpenResty's LuaJIT unpacked by tools/nginx-debs.sh (never
-- installed), and lgreen.nginx built by nginx/build.sh.
local lg = require "lgreen"
local N = {}

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"EXIT:$?\"")
  local out = p:read("*a")
  p:close()
  return tonumber(out:match("EXIT:(%d+)%s*$")), (out:gsub("EXIT:%d+%s*$", ""))
end
N.sh = sh

local pwd = select(2, sh("pwd")):gsub("%s+$", "")
N.pwd = pwd
N.root = select(2, sh("id -u")):match("^0%s") ~= nil
local build = os.getenv("LGREEN_BUILD") or "build"
if build:sub(1, 1) ~= "/" then build = pwd .. "/" .. build end
N.build = build
N.debs = build .. "/nginx-debs/root"
N.libdir = N.debs .. "/usr/lib/x86_64-linux-gnu"

-- true, or nil and why nginx cannot be had here (the specs go pending).
function N.available()
  sh("command -v nginx || sh tools/deps.sh nginx")	-- as root: installs it
  local rc, out = sh("command -v nginx")
  if rc ~= 0 then return nil, "no nginx binary (apt-get install nginx)" end
  N.nginx = out:gsub("%s+$", "")
  rc, out = sh("sh tools/nginx-debs.sh " .. build .. "/nginx-debs")
  if rc ~= 0 then return nil, "tools/nginx-debs.sh failed: " .. out end
  rc, out = sh("sh nginx/build.sh " .. build)
  if rc ~= 0 then return nil, "nginx/build.sh: " .. out end
  return true
end

-- A free loopback port (closed again: nginx binds it right after).
function N.port()
  local s = assert(lg.listen("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

-- The nginx.conf text: o.port, o.workers (1), o.init (init_by_lua code),
-- o.http (more http{} directives), o.server (locations).
function N.conf(dir, o)
  return ([[
load_module %s/usr/lib/nginx/modules/ndk_http_module.so;
load_module %s/usr/lib/nginx/modules/ngx_http_lua_module.so;
worker_processes %d;
pid %s/nginx.pid;
error_log %s/error.log info;
events { worker_connections 1024; }
http {
  access_log off;
  lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;%s/examples/?.lua;%s/usr/share/lua/5.1/?.lua;;";
  lua_package_cpath "%s/nginx/?.so;%s/5.1/?.so;;";
  init_by_lua_block { %s }
  init_worker_by_lua_block { require("lgreen.ngx").attach() }
  %s
  server {
    listen 127.0.0.1:%d;
    %s
  }
}
]]):format(N.debs, N.debs, o.workers or 1, dir, dir, pwd, pwd, pwd, N.debs,
    build, build, o.init or "", o.http or "", o.port, o.server or "")
end

-- Start nginx (it daemonizes) on a conf text; returns { dir, port, master }
-- once the port accepts, or raises with the error log.
-- (conf text, port [, prefix [, env]]): the folder made for it is in
-- inst.dir; env: "VAR=value ..." for nginx's command line.
function N.start(conf, port, prefix, env)
  local dir = os.tmpname()
  os.remove(dir)
  assert(sh("mkdir -p " .. dir) == 0)
  if type(conf) == "table" then
    port = conf.port
    conf = N.conf(dir, conf)
  else
    conf = conf:gsub("%$DIR", dir)
  end
  -- As root, nginx's workers would run as nobody, who may not read a
  -- checkout made with mktemp -d (mode 700): keep them root, as the master.
  if N.root then conf = "user root;\n" .. conf end
  local f = assert(io.open(dir .. "/nginx.conf", "w"))
  f:write(conf)
  f:close()
  local rc, out = sh(("%s LD_LIBRARY_PATH=%s %s -p %s -c %s/nginx.conf -e %s/error.log")
    :format(env or "", N.libdir, N.nginx or "nginx", prefix or dir, dir, dir))
  if rc ~= 0 then error("nginx did not start: " .. out .. N.errlog({ dir = dir })) end
  local inst = { dir = dir, port = port }
  local ok = false
  for _ = 1, 500 do
    local c = lg.connect("127.0.0.1", port, 1)
    if c then c:close(); ok = true; break end
    lg.sleep(0.01)
  end
  if not ok then error("nginx does not accept on " .. port .. ": " .. N.errlog(inst)) end
  inst.master = N.master(inst)
  return inst
end

function N.master(inst)
  local f = io.open(inst.dir .. "/nginx.pid")
  if not f then return nil end
  local pid = f:read("*n")
  f:close()
  return pid
end

function N.errlog(inst)
  local f = io.open(inst.dir .. "/error.log")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

-- The worker pids of the master, sorted.
function N.workers(inst)
  local _, out = sh("ps -o pid= --ppid " .. inst.master)
  local t = {}
  for pid in out:gmatch("%d+") do t[#t + 1] = tonumber(pid) end
  table.sort(t)
  return t
end

-- Crash lines of the log ("worker process N exited on signal 11").
function N.crashes(inst)
  local t = {}
  for line in N.errlog(inst):gmatch("[^\n]+") do
    if line:find("exited on signal", 1, true) then t[#t + 1] = line end
  end
  return t
end

-- GET path over a green socket (HTTP/1.0): status, body.
function N.get(port, path)
  local c = assert(lg.connect("127.0.0.1", port, 30))
  c:settimeout(30)
  assert(c:send("GET " .. path .. " HTTP/1.0\r\nHost: t\r\n\r\n"))
  local data, err, partial = c:receive("*a")
  c:close()
  data = data or partial
  assert(data, err)
  local status = tonumber(data:match("^HTTP/1%.%d (%d+)"))
  return status, data:match("\r\n\r\n(.*)$"), data ~= "" and data or err
end

-- Signal the master (QUIT: graceful stop) and wait for it to be gone.
function N.stop(inst, sig)
  if not inst.master then return end
  sh(("kill -%s %d"):format(sig or "QUIT", inst.master))
  for _ = 1, 1000 do
    if sh("kill -0 " .. inst.master) ~= 0 then return true end
    lg.sleep(0.01)
  end
  return false
end

return N
