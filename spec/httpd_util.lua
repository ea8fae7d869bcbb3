-- Shared by the lgreen.httpd specs (75-79): a server on a free port and a
-- raw HTTP client on green sockets that reads answers byte-exact.
local lg = require "lgreen"
local httpd = require "lgreen.httpd"

local U = {}

-- A server running handler in its own greenthread; returns it (srv.port).
function U.start(handler, opts)
  local srv = assert(httpd.listen("127.0.0.1", 0, handler, opts))
  srv.gt = lg.spawn(srv.serve, srv)
  return srv
end

function U.connect(port)
  local c = assert(lg.connect("127.0.0.1", port))
  c:settimeout(10)
  return c
end

-- One answer from c: status, headers (lowercase names), body, the raw
-- head; nil, err when the connection ends first.
function U.read(c, head_request)
  local line, err = c:receive("*l")
  if not line then return nil, err end
  local raw = { line }
  local status = tonumber(line:match("^HTTP/1%.%d (%d%d%d)"))
  local h = {}
  while true do
    local l = assert(c:receive("*l"))
    if l == "" then break end
    raw[#raw + 1] = l
    local k, v = l:match("^([^:]+):%s*(.*)$")
    h[k:lower()] = v
  end
  if status == 100 then return U.read(c, head_request) end
  local body = ""
  if head_request or status == 204 or status == 304 then
    body = ""
  elseif h["transfer-encoding"] == "chunked" then
    local parts = {}
    while true do
      local n = tonumber(assert(c:receive("*l")), 16)
      if n == 0 then assert(c:receive("*l")) break end
      parts[#parts + 1] = assert(c:receive(n))
      assert(c:receive("*l") == "")
    end
    body = table.concat(parts)
  elseif h["content-length"] then
    body = assert(c:receive(tonumber(h["content-length"])))
  else
    body = c:receive("*a")
  end
  return status, h, body, table.concat(raw, "\n")
end

-- Send data on a new connection; the first answer, then whether the
-- server closed the connection after it.
function U.exchange(port, data)
  local c = U.connect(port)
  c:send(data)
  local status, h, body, head = U.read(c)
  local _, err = c:receive(1)
  c:close()
  return status, h, body, err == "closed", head
end

-- Is cmd on PATH?
function U.have(cmd)
  local ok = os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

return U
