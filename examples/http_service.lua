-- A small HTTP service on lgreen.httpd: GET /status reports the service's
-- counters, POST /echo sends the request back, both as JSON; SIGTERM (or
-- Ctrl-C) shuts it down gracefully: the port closes, requests in flight
-- finish, idle connections close, then the script ends.
--   examples/run.sh http_service.lua         (port 8080; or from the
--   checkout with LUA_PATH/LUA_CPATH set: luajit examples/http_service.lua 0)
--   curl http://127.0.0.1:8080/status
--   curl -d 'hello' 'http://127.0.0.1:8080/echo?x=1'
local lg = require "lgreen"
local httpd = require "lgreen.httpd"

-- JSON for strings, numbers, booleans and tables of them (enough here).
local function json(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      return ("\\u%04x"):format(c:byte())
    end) .. '"'
  elseif t ~= "table" then
    return tostring(v)
  end
  local keys, parts = {}, {}
  if #v > 0 then			-- a list
    for i = 1, #v do parts[i] = json(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = json(k) .. ":" .. json(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

local started, served = lg.now(), 0
local JSON = { ["Content-Type"] = "application/json" }

local function handle(req)
  served = served + 1
  if req.path == "/status" and req.method == "GET" then
    return 200, JSON, json { status = "ok", requests = served,
      uptime = math.floor(lg.now() - started) } .. "\n"
  elseif req.path == "/echo" and req.method == "POST" then
    return 200, JSON, json { method = req.method, path = req.path,
      args = req.args, body = req.body, ["content-type"] = req.headers["content-type"],
      peer = req.peer } .. "\n"
  end
  return 404, { ["Content-Type"] = "text/plain" }, "not found\n"
end

local server = assert(httpd.listen("127.0.0.1", tonumber(arg[1]) or 8080, handle))
print(("http_service on http://127.0.0.1:%d/"):format(server.port))
io.stdout:flush()
local function stop(signum)
  print("signal " .. signum .. ": shutting down")
  server:shutdown()
end
lg.signal("TERM", stop)
lg.signal("INT", stop)
server:serve()			-- returns once shut down and drained
print(("served %d requests, bye"):format(served))
