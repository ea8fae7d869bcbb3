-- lgreen.httpd: an HTTP/1.1 server on green sockets, one greenthread per
-- connection.
--
--   local httpd = require "lgreen.httpd"
--   local server = assert(httpd.listen("127.0.0.1", 8080, function(req)
--     return 200, { ["content-type"] = "text/plain" }, "Hello, world!"
--   end))
--   lg.signal("TERM", function() server:shutdown() end)
--   server:serve()             -- returns once shut down and drained
--
-- handler(req) runs in the connection's greenthread (it may block); the
-- request table holds
--   method    "GET", "POST"... (case kept, as HTTP says)
--   target    the request-target as sent: "/a%20b?x=1"
--   path      the target up to "?", still %-encoded: "/a%20b"
--   query     the raw text after "?" ("" when none)
--   args      the query parsed on first use: "x=1&y=%41&y=b" gives
--             { x = "1", y = { "A", "b" } } (+ is a space, %XX decoded; a key
--             given once maps to a string, several times to a list)
--   version   "1.1" or "1.0"
--   headers   lowercase names; a field sent several times is one value, the
--             values joined with ", " as RFC 9110 section 5.3 says (cookie:
--             with "; ", RFC 6265 section 5.4)
--   body      the whole body as a string ("" when none), read before the
--             handler runs, Content-Length or chunked, at most max_body
--             bytes (a larger one is answered 413 without calling the
--             handler); chunked trailers are dropped
--   peer, peer_port   the client's address
-- and returns status [, headers [, body]]: headers a table of name =
-- value (a list of values gives one line each, e.g. Set-Cookie); body a
-- string (sent with Content-Length), or nil, or a function called until it
-- returns nil, each string it returns sent at once as one chunk (chunked
-- transfer coding; to an HTTP/1.0 client, raw then close).  The server
-- adds Content-Length, Date, and Connection: close when it will close.
-- Framing is the server's: a handler's Transfer-Encoding is refused, and
-- its Content-Length must agree with a string body.
--
-- An error in a handler (or a bad answer: an unknown status, a header
-- name that is not a token, CR/LF/NUL in a value) is answered 500 with no
-- detail, the connection closed, and the error reported as any uncaught
-- greenthread error is, naming where the server was created (listen/new).
-- A body function that fails once the answer has started closes the
-- connection: the client sees the chunked body cut short.
--
-- Requests are parsed strictly (RFC 9112): lines end with CRLF (a bare LF
-- or bare CR is 400), no space before ":" nor obs-fold (400), one Host for
-- HTTP/1.1 (400), Content-Length digits only, repeats only of the same value
-- (400), Transfer-Encoding only "chunked", and not with Content-Length nor
-- in HTTP/1.0 (400; another coding 501); each of these closes the
-- connection.  Limits (options, see DEFAULTS): request line → 414, head
-- size and field count → 431, body → 413.  Timeouts: idle_timeout for a
-- kept-alive connection waiting for its next request, read_timeout from
-- the first byte of a request to its last (so a client trickling bytes
-- cannot hold a connection longer), write_timeout for each answer; past
-- them the connection is closed (408 if a request had begun).
local hub = require "lgreen.hub"
local Event = require "lgreen.event"
local Semaphore = require("lgreen.semaphore").Semaphore
local core = require "lgreen.core"
local S = require "lgreen.socket"
local gthread = require "lgreen.greenthread"

local H = core.hub
local site, wait_fd, now = H.site, H.wait_fd, H.now
local spawn_at = gthread.spawn_at
local getcurrent = core.greenlet.getcurrent
local find, sub, byte, lower, upper, format, gsub, match, rep, char =
  string.find, string.sub, string.byte, string.lower, string.upper,
  string.format, string.gsub, string.match, string.rep, string.char
local concat = table.concat
local type, tostring, tonumber, pairs, error, pcall, setmetatable, getmetatable =
  type, tostring, tonumber, pairs, error, pcall, setmetatable, getmetatable
local floor = math.floor
local osdate, ostime = os.date, os.time
local sockmeta = getmetatable(S.tcp())	-- the green socket's metatable

local M = {}

-- Options: every one has a default here, and an unknown one is refused.
local DEFAULTS = {
  max_line = 8192,	-- request line, bytes → 414
  max_header = 32768,	-- whole head (request line and fields), bytes → 431
  max_headers = 100,	-- header fields → 431
  max_body = 1048576,	-- request body, bytes → 413
  idle_timeout = 60,	-- keep-alive: seconds waiting for the next request
  read_timeout = 30,	-- seconds from a request's first byte to its last
  write_timeout = 30,	-- seconds to send one answer
  concurrency = 10000,	-- connections served at once; more wait in the backlog
  backlog = 1024,	-- listen()'s backlog (httpd.listen only)
}

local REASON = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [202] = "Accepted",
  [203] = "Non-Authoritative Information", [204] = "No Content",
  [205] = "Reset Content", [206] = "Partial Content",
  [300] = "Multiple Choices", [301] = "Moved Permanently", [302] = "Found",
  [303] = "See Other", [304] = "Not Modified", [307] = "Temporary Redirect",
  [308] = "Permanent Redirect", [400] = "Bad Request", [401] = "Unauthorized",
  [402] = "Payment Required", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [406] = "Not Acceptable",
  [408] = "Request Timeout", [409] = "Conflict", [410] = "Gone",
  [411] = "Length Required", [412] = "Precondition Failed",
  [413] = "Content Too Large", [414] = "URI Too Long",
  [415] = "Unsupported Media Type", [416] = "Range Not Satisfiable",
  [417] = "Expectation Failed", [418] = "I'm a teapot",
  [421] = "Misdirected Request", [422] = "Unprocessable Content",
  [425] = "Too Early", [426] = "Upgrade Required",
  [428] = "Precondition Required", [429] = "Too Many Requests",
  [431] = "Request Header Fields Too Large",
  [451] = "Unavailable For Legal Reasons", [500] = "Internal Server Error",
  [501] = "Not Implemented", [502] = "Bad Gateway",
  [503] = "Service Unavailable", [504] = "Gateway Timeout",
  [505] = "HTTP Version Not Supported",
}

-- "HTTP/1.1 200 OK\r\n" for each status, made on first use.
local STATUS = setmetatable({}, { __index = function(t, code)
  local line = format("HTTP/1.1 %d %s\r\n", code, REASON[code] or "Unknown")
  t[code] = line
  return line
end })

-- -- Dates ----------------------------------------------------------------
local date_t, date_s = -1, ""
local function http_date()
  local t = ostime()
  if t ~= date_t then
    date_t, date_s = t, osdate("!%a, %d %b %Y %H:%M:%S GMT", t)
  end
  return date_s
end

-- -- Request parsing --------------------------------------------------------
-- Patterns anchored at an index (find's ^ with init).  tchar is RFC 9110's
-- token character; a field value is any byte but controls (a tab takes the
-- slow path, which also trims and checks).
local TOKEN = "[!#$%%&'*+%-.^_`|~%w]+"
local REQLINE = "^(" .. TOKEN .. ") ([^%s%c]+) HTTP/(%d%.%d)\r\n"
local FIELD = "^(" .. TOKEN .. "):[ ]*([^%c]*)\r\n"
local FIELD_SLOW = "^(" .. TOKEN .. "):([^\r\n]*)\r\n"

-- A failed request: the status to answer, and the connection closes.
local Reject = {}
local function reject(status) error(setmetatable({ status = status }, Reject), 0) end

-- The value of a field line without its surrounding spaces and tabs, or
-- nil when it holds a control character other than a tab.
local function field_value(v)
  v = match(v, "^[ \t]*(.-)[ \t]*$")
  if find((gsub(v, "\t", " ")), "%c") then return nil end
  return v
end

local function join(headers, name, v)
  local old = headers[name]
  if old == nil then headers[name] = v
  elseif name == "cookie" then headers[name] = old .. "; " .. v
  else headers[name] = old .. ", " .. v end
end

-- Field names seen in requests and their lowercase forms (as for answers
-- below: names repeat; emptied if clients send many different ones).
local lnames, nlnames = {}, 0
local function lname(name)
  local ln = lnames[name]
  if not ln then
    ln = lower(name)
    if nlnames >= 1000 then lnames, nlnames = {}, 0 end
    lnames[name], nlnames = ln, nlnames + 1
  end
  return ln
end

-- Fields between i and the blank line at hend into headers; the count.
local function parse_fields(buf, i, hend, headers, max)
  local n = 0
  while i < hend + 2 do
    local _, e, name, v = find(buf, FIELD, i)
    if not e then
      _, e, name, v = find(buf, FIELD_SLOW, i)
      v = e and field_value(v)
      if not v then reject(400) end	-- obs-fold, "name :", bare CR/LF, CTL
    elseif byte(v, -1) == 32 then
      v = match(v, "^(.-) *$")
    end
    n = n + 1
    if n > max then reject(431) end
    join(headers, lname(name), v)
    i = e + 1
  end
  return n
end

local function unescape(s)
  s = gsub(s, "+", " ")
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- "a=1&b=2&b=3" → { a = "1", b = { "2", "3" } }
local function parse_query(q)
  local args = {}
  for pair in q:gmatch("[^&]+") do
    local k, v = match(pair, "^([^=]*)=?(.*)$")
    k, v = unescape(k), unescape(v)
    local old = args[k]
    if old == nil then args[k] = v
    elseif type(old) == "table" then old[#old + 1] = v
    else args[k] = { old, v } end
  end
  return args
end
M.parse_query = parse_query

local Request = { __index = function(req, k)
  if k == "args" then
    local a = parse_query(req.query)
    req.args = a
    return a
  end
end }

-- -- Connection I/O ------------------------------------------------------------
-- A connection keeps what it has received and not yet used in c.buf from
-- c.pos on.  The socket's timeout is 0: receive takes what is there and a
-- wait parks on the fd with the time left before a deadline.

-- More bytes onto c.buf; false, "timeout" | "closed" when none came.
-- receive(1) makes the socket read what the kernel has (one recv of up
-- to 8 KiB into its buffer); getstats' byte count minus what we took says
-- how much is buffered, and receive(that) takes it without another recv
-- (receive(8192) would try a second one, which says EAGAIN).  c.drained:
-- the last recv got less than it asked, so the kernel's queue is empty and
-- a recv now would only say EAGAIN: wait first (the wait is
-- level-triggered, bytes that came meanwhile end it at once).
local function fill(c, deadline)
  local sock = c.sock
  while true do
    if c.drained then
      local left = deadline - now()
      if left <= 0 or not wait_fd(c.fd, "r", left) then return false, "timeout" end
    end
    local d, err = sock:receive(1)
    if d then
      local got = sock:getstats() - c.taken	-- this recv's bytes
      c.drained = got < 8192
      if got > 1 then d = d .. sock:receive(got - 1) end
      c.taken = c.taken + got
      local pos = c.pos
      if pos > #c.buf then c.buf = d
      else c.buf = sub(c.buf, pos) .. d end
      c.pos = 1
      return true
    end
    if err ~= "timeout" then return false, "closed" end
    c.drained = true
  end
end

-- Send all of s before deadline; false when the client is gone or slow.
local function send(c, s, deadline)
  local sock, i = c.sock, 1
  while true do
    local last, err, sent = sock:send(s, i)
    if last then return true end
    if err ~= "timeout" then return false end
    i = sent + 1
    local left = deadline - now()
    if left <= 0 or not wait_fd(c.fd, "w", left) then return false end
  end
end

-- Close after an error answer: stop sending, drop what the client still
-- sends for a moment (so its unread upload does not turn our answer into
-- a reset), then close.
local function linger(c)
  local sock = c.sock
  sock:shutdown("send")
  local deadline, got = now() + 1, 0
  while got < 1048576 do
    local d, err, part = sock:receive(65536)
    d = d or part or ""
    got = got + #d
    if err and err ~= "timeout" then break end
    if d == "" then
      local left = deadline - now()
      if left <= 0 or not wait_fd(c.fd, "r", left) then break end
    end
  end
  sock:close()
end

-- An answer of the server's own (an error status), then close.
local function answer_error(c, status)
  local reason = REASON[status] or "Error"
  local body = status .. " " .. reason .. "\n"
  send(c, STATUS[status] .. "Content-Type: text/plain\r\nContent-Length: " ..
    #body .. "\r\nConnection: close\r\nDate: " .. http_date() .. "\r\n\r\n" ..
    body, now() + c.srv.opts.write_timeout)
  linger(c)
end

-- Bytes up to (not including) the next CRLF, for chunk-size lines and
-- trailers, at most max long.
local function getline(c, deadline, max)
  while true do
    local i = find(c.buf, "\r\n", c.pos, true)
    if i then
      local line = sub(c.buf, c.pos, i - 1)
      c.pos = i + 2
      return line
    end
    if #c.buf - c.pos + 1 > max then reject(400) end
    local ok, why = fill(c, deadline)
    if not ok then reject(why == "timeout" and 408 or 0) end
  end
end

-- n bytes.  A long run is gathered in pieces, each read once, so a large
-- body costs no more than its size in copies.
local function getbytes(c, n, deadline)
  local pos = c.pos
  if #c.buf - pos + 1 >= n then
    c.pos = pos + n
    return sub(c.buf, pos, pos + n - 1)
  end
  local parts, need = { sub(c.buf, pos) }, n - (#c.buf - pos + 1)
  c.pos = #c.buf + 1
  while need > 0 do
    local ok, why = fill(c, deadline)	-- c.buf is now only the new bytes
    if not ok then reject(why == "timeout" and 408 or 0) end
    local piece = sub(c.buf, 1, need)
    parts[#parts + 1] = piece
    need = need - #piece
    c.pos = #piece + 1
  end
  return concat(parts)
end

local function chunked_body(c, deadline, max)
  local parts, total = {}, 0
  while true do
    local line = getline(c, deadline, 1024)
    local hex = match(line, "^(%x+)[ \t]*;") or match(line, "^(%x+)$")
    if not hex or #hex > 15 then reject(400) end	-- not hex, or overflowing
    local n = tonumber(hex, 16)
    if n == 0 then break end
    total = total + n
    if total > max then reject(413) end
    parts[#parts + 1] = getbytes(c, n, deadline)
    if getbytes(c, 2, deadline) ~= "\r\n" then reject(400) end
  end
  -- trailer fields, dropped, then the blank line
  local size = 0
  while true do
    local line = getline(c, deadline, c.srv.opts.max_header)
    if line == "" then break end
    size = size + #line
    if size > c.srv.opts.max_header then reject(431) end
    if not find(line, "^" .. TOKEN .. ":") then reject(400) end
  end
  return concat(parts)
end

-- -- One request ---------------------------------------------------------------

-- Wait for a whole head at c.pos; the index of its blank line's CRLF.
-- Waiting for the first byte is bounded by idle_timeout; from it on,
-- c.deadline (read_timeout) bounds the request.
local function read_head(c)
  local opts = c.srv.opts
  local buf = c.buf
  while true do
    -- empty lines before a request line are ignored (RFC 9112 section 2.2)
    while byte(buf, c.pos) == 13 and byte(buf, c.pos + 1) == 10 do c.pos = c.pos + 2 end
    local hend = find(buf, "\r\n\r\n", c.pos, true)
    local have = #buf - c.pos + 1
    if have > 0 and not c.deadline then c.deadline = now() + opts.read_timeout end
    if hend then return hend end
    if have > 0 then
      local lend = find(buf, "\r\n", c.pos, true)
      if not lend and have > opts.max_line then reject(414) end
      if have > opts.max_header then reject(431) end
      if find(buf, "\n\n", c.pos, true) or find(buf, "\n\r\n", c.pos, true) then
        reject(400)			-- a head ended by bare LFs
      end
    end
    local ok, why
    if c.deadline then ok, why = fill(c, c.deadline)
    else
      c.idle = true
      if c.srv.closing then return nil end
      ok, why = fill(c, now() + opts.idle_timeout)
      c.idle = false
    end
    if not ok then
      if why == "timeout" and c.deadline then reject(408) end
      return nil			-- gone, or idle too long
    end
    buf = c.buf
  end
end

-- The framing of the body: its length, or "chunked".
local function body_length(h, version)
  local te, cl = h["transfer-encoding"], h["content-length"]
  if te then
    if cl or version == "1.0" then reject(400) end
    te = lower(te)
    if te == "chunked" then return "chunked" end
    for coding in te:gmatch("[^,%s]+") do
      if coding ~= "chunked" then reject(501) end
    end
    reject(400)				-- chunked twice, or empty
  end
  if not cl then return 0 end
  local n
  for v in cl:gmatch("[^,]+") do	-- "5, 5" (repeated fields) is 5
    v = match(v, "^[ \t]*(%d+)[ \t]*$")
    if not v or #v > 15 or (n and tonumber(v) ~= n) then reject(400) end
    n = tonumber(v)
  end
  if not n then reject(400) end
  return n
end

-- Parse the head ending at hend and read the body: the request table.
local function read_request(c, hend)
  local opts, buf, pos = c.srv.opts, c.buf, c.pos
  local _, e, method, target, version = find(buf, REQLINE, pos)
  if not e then
    local lend = find(buf, "\r\n", pos, true)
    if lend - pos > opts.max_line then reject(414) end
    if match(sub(buf, pos, lend - 1), "^%S+ %S+ HTTP/%d%.%d$") then reject(505) end
    reject(400)
  end
  if e - pos > opts.max_line then reject(414) end
  if hend + 4 - pos > opts.max_header then reject(431) end
  if version ~= "1.1" and version ~= "1.0" then reject(505) end
  local headers = {}
  parse_fields(buf, e + 1, hend, headers, opts.max_headers)
  c.pos = hend + 4
  local host = headers.host
  if version == "1.1" and (not host or find(host, ",", 1, true)) then reject(400) end
  local q = find(target, "?", 1, true)
  local path = q and sub(target, 1, q - 1) or target
  if byte(path, 1) ~= 47 then			-- absolute-form: drop scheme://authority
    path = match(path, "^%a[%w+.-]*://[^/]*(/.*)$") or path
  end
  local req = setmetatable({ method = method, target = target, path = path,
    query = q and sub(target, q + 1) or "", version = version,
    headers = headers, body = "", peer = c.peer, peer_port = c.peer_port },
    Request)
  local conn = headers.connection
  if version == "1.1" then
    req.keep = not (conn and find(lower(conn), "close", 1, true))
  else
    req.keep = conn and find(lower(conn), "keep-alive", 1, true) and true or false
  end
  local n = body_length(headers, version)
  if n == 0 then return req end
  if n ~= "chunked" and n > opts.max_body then reject(413) end
  local expect = headers.expect
  if expect and version == "1.1" then
    if lower(expect) ~= "100-continue" then reject(417) end
    if #c.buf - c.pos + 1 < (n == "chunked" and 1 or n) and
        not send(c, "HTTP/1.1 100 Continue\r\n\r\n", now() + opts.write_timeout) then
      reject(0)
    end
  end
  if n == "chunked" then req.body = chunked_body(c, c.deadline, opts.max_body)
  else req.body = getbytes(c, n, c.deadline) end
  return req
end

-- -- The answer --------------------------------------------------------------------

local function bad_answer(req, what, ...)
  error(format("lgreen.httpd: the handler of %s %s returned " .. what,
    req.method, req.path, ...), 0)
end

-- Header names seen in answers: name -> its lowercase form, or false when
-- it is not a token.  Names are few and repeat, so this saves a match and
-- a lower() per line; it is emptied if a handler invents names freely.
local names, nnames = {}, 0
local TOKEN_ONLY = "^" .. TOKEN .. "$"
local function header_name(name)
  local ln = names[name]
  if ln == nil then
    ln = type(name) == "string" and find(name, TOKEN_ONLY) and lower(name) or false
    if nnames >= 1000 then names, nnames = {}, 0 end
    names[name], nnames = ln, nnames + 1
  end
  return ln
end

local function header_line(req, name, s, parts)
  if type(s) == "number" then s = tostring(s)
  elseif type(s) ~= "string" then
    bad_answer(req, "a %s as the value of header %s", type(s), name)
  end
  if find(s, "[\r\n%z]") then
    bad_answer(req, "CR, LF or NUL in the value of header %s", name)
  end
  parts[#parts + 1] = name .. ": " .. s .. "\r\n"
  return s
end

-- Header lines of the handler's table; the lowercase names the server
-- must look at come back in framing.
local function header_lines(req, hs, parts, framing)
  for name, v in pairs(hs) do
    local ln = header_name(name)
    if not ln then bad_answer(req, "a bad header name %q", tostring(name)) end
    if ln == "transfer-encoding" then
      bad_answer(req, "a Transfer-Encoding header (framing is the server's)")
    end
    if type(v) == "table" then
      for i = 1, #v do header_line(req, name, v[i], parts) end
      v = v[1]
    else
      v = header_line(req, name, v, parts)
    end
    if ln == "content-length" or ln == "connection" or ln == "date" then
      framing[ln] = v
    end
  end
end

-- Send the handler's answer; true if the connection may serve another.
local function respond(c, req, status, hs, body)
  if type(status) ~= "number" or status % 1 ~= 0 or status < 200 or status > 599 then
    bad_answer(req, "the status %s (a number in 200-599 expected)", tostring(status))
  end
  local tb = type(body)
  if tb ~= "string" and tb ~= "function" and body ~= nil then
    bad_answer(req, "a %s as the body (string, function or nil expected)", tb)
  end
  local parts, framing = { STATUS[status] }, {}
  if hs ~= nil then
    if type(hs) ~= "table" then bad_answer(req, "a %s as the headers", type(hs)) end
    header_lines(req, hs, parts, framing)
  end
  local keep = req.keep and not c.srv.closing
  local fconn = framing.connection
  if fconn and find(lower(tostring(fconn)), "close", 1, true) then keep = false end
  local nobody = status == 204 or status == 304
  local head_only = nobody or req.method == "HEAD"
  local cl = framing["content-length"]
  local chunked = false
  if tb == "string" or body == nil then
    body = body or ""
    if nobody and body ~= "" then bad_answer(req, "a body with status %d", status) end
    if cl then
      if tostring(cl) ~= tostring(#body) then
        bad_answer(req, "Content-Length %s for a body of %d bytes", tostring(cl), #body)
      end
    elseif not nobody then
      parts[#parts + 1] = "Content-Length: " .. #body .. "\r\n"
    end
  elseif nobody then bad_answer(req, "a body with status %d", status)
  elseif cl then
    if not match(tostring(cl), "^%d+$") then bad_answer(req, "a bad Content-Length") end
    cl = tonumber(cl)
  elseif req.version == "1.1" then
    chunked = true
    parts[#parts + 1] = "Transfer-Encoding: chunked\r\n"
  else
    keep = false		-- HTTP/1.0: the end of the body is the close
  end
  if not framing.date then parts[#parts + 1] = "Date: " .. http_date() .. "\r\n" end
  if not keep and not fconn then parts[#parts + 1] = "Connection: close\r\n"
  elseif keep and req.version == "1.0" then
    parts[#parts + 1] = "Connection: keep-alive\r\n"
  end
  parts[#parts + 1] = "\r\n"
  local deadline = now() + c.srv.opts.write_timeout
  if tb ~= "function" or head_only then
    if not head_only then parts[#parts + 1] = body end
    c.state = "sending"
    return send(c, concat(parts), deadline) and keep
  end
  c.state = "sending"
  if not send(c, concat(parts), deadline) then return false end
  local sent = 0
  while true do
    local s = body()
    if s == nil then break end
    if type(s) ~= "string" then
      bad_answer(req, "a body function that gave a %s (string or nil expected)", type(s))
    end
    if s ~= "" then
      sent = sent + #s
      if cl and sent > cl then
        bad_answer(req, "more body than its Content-Length %d", cl)
      end
      if chunked then s = format("%x\r\n", #s) .. s .. "\r\n" end
      if not send(c, s, now() + c.srv.opts.write_timeout) then return false end
    end
  end
  if cl and sent ~= cl then
    bad_answer(req, "%d body bytes for its Content-Length %d", sent, cl)
  end
  if chunked and not send(c, "0\r\n\r\n", now() + c.srv.opts.write_timeout) then
    return false
  end
  return keep
end

-- -- A connection --------------------------------------------------------------------

local function read_one(c)
  local hend = read_head(c)
  return hend and read_request(c, hend)
end

-- Requests one after the other until the client or the server ends it.
-- A Reject becomes its 4xx/5xx answer; a handler's error goes on up to
-- the greenthread's report (done() answers 500 and closes).
local function serve_conn(srv, c)
  local handler = srv.handler
  while true do
    c.state, c.deadline = "reading", nil
    local ok, req = pcall(read_one, c)
    if not ok then
      if getmetatable(req) ~= Reject then error(req, 0) end
      c.state = "closed"
      if req.status ~= 0 then answer_error(c, req.status)
      else c.sock:close() end
      return
    end
    if not req then break end
    c.state = "handler"
    if not respond(c, req, handler(req)) then break end
  end
  c.state = "closed"
  c.sock:close()
end

-- The connection's greenthread has ended, normally, by an error (already
-- reported) or killed: if nothing was sent yet, answer 500 (503 when the
-- shutdown's grace period ended it), then close.
local function done(gt, srv, c)
  if c.state == "handler" then
    c.state = "closed"
    pcall(answer_error, c, c.killed and 503 or 500)
  end
  c.sock:close()
  srv.conns[c] = nil
  srv.nconns = srv.nconns - 1
  srv.slots:release()
  if srv.nconns == 0 and not srv.drained:ready() then srv.drained:send() end
end

-- -- The server ----------------------------------------------------------------------

local Server = {}
Server.__index = Server

local function check_opts(opts, level)
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  if opts == nil then return o end
  if type(opts) ~= "table" then
    error("bad argument #4 to 'listen' (options table expected, got " .. type(opts) .. ")", level)
  end
  for k, v in pairs(opts) do
    if DEFAULTS[k] == nil then
      error(format("lgreen.httpd: unknown option %q", tostring(k)), level)
    end
    if type(v) ~= "number" or not (v > 0) then
      error(format("lgreen.httpd: option %s must be a number > 0, got %s", k, tostring(v)), level)
    end
    o[k] = v
  end
  return o
end

local function new(sock, handler, opts, level, sf, sl)
  local o = check_opts(opts, level + 1)
  local s = setmetatable({ sock = sock, handler = handler, opts = o,
    site_fn = sf, site_line = sl, conns = {}, nconns = 0,
    slots = Semaphore(o.concurrency), drained = Event(),
    closing = false, serving = false }, Server)
  s.host, s.port = sock:getsockname()
  return s
end

-- new(sock, handler [, opts]): a server on a listening green socket.
function M.new(sock, handler, opts)
  if getmetatable(sock) ~= sockmeta then
    error("bad argument #1 to 'new' (listening socket expected)", 2)
  end
  if type(handler) ~= "function" then
    error("bad argument #2 to 'new' (function expected, got " .. type(handler) .. ")", 2)
  end
  local sf, sl = site(2)
  return new(sock, handler, opts, 2, sf, sl)
end

-- listen(host, port, handler [, opts]): a server listening on host:port
-- (port 0: any free one; see server.port), or nil, err.
function M.listen(host, port, handler, opts)
  if type(host) ~= "string" then
    error("bad argument #1 to 'listen' (string expected, got " .. type(host) .. ")", 2)
  end
  if type(port) ~= "number" then
    error("bad argument #2 to 'listen' (number expected, got " .. type(port) .. ")", 2)
  end
  if type(handler) ~= "function" then
    error("bad argument #3 to 'listen' (function expected, got " .. type(handler) .. ")", 2)
  end
  local o = check_opts(opts, 3)
  local sock, err = S.listen(host, port, o.backlog)
  if not sock then return nil, err end
  local sf, sl = site(2)
  return new(sock, handler, opts, 2, sf, sl)
end

local function start_conn(srv, sock)
  local c = { srv = srv, sock = sock, fd = sock:getfd(), buf = "", pos = 1,
    state = "reading", deadline = nil, idle = false, killed = false, drained = false, taken = 0,
    peer = nil, peer_port = nil }
  sock:settimeout(0)
  sock:setoption("tcp-nodelay", true)
  c.peer, c.peer_port = sock:getpeername()
  srv.nconns = srv.nconns + 1
  local gt = spawn_at(srv.site_fn, srv.site_line, serve_conn, srv, c)
  srv.conns[c] = gt
  gt:link(done, srv, c)
end

-- serve(): accept and serve until shutdown(); returns true once every
-- connection is closed.
function Server:serve()
  if self.serving then error("lgreen.httpd: this server is serving already", 2) end
  self.serving = true
  local sock = self.sock
  while not self.closing do
    self.slots:acquire()
    local client, err = sock:accept()
    if client then
      start_conn(self, client)
    else
      self.slots:release()
      if err == "closed" then break end
      if err ~= "timeout" then hub.sleep(0.05) end	-- EMFILE and the like: retry
    end
  end
  self.closing = true
  while self.nconns > 0 do
    self.drained:reset()
    self.drained:wait()
  end
  self.serving = false
  return true
end

-- start(): serve() in a greenthread of its own; the server.
function Server:start()
  gthread.spawn(self.serve, self)
  return self
end

-- shutdown([grace]): stop accepting (the port is closed at once), close
-- the connections that wait between requests, let the requests in flight
-- finish (then their connections close); after grace seconds, if given,
-- kill what is left (a request with no answer begun gets 503).  From a greenthread other than the server's own ones,
-- returns once every connection is closed.
function Server:shutdown(grace)
  if grace ~= nil and (type(grace) ~= "number" or grace < 0) then
    error("bad argument #1 to 'shutdown' (seconds expected)", 2)
  end
  self.closing = true
  self.sock:close()
  for c, gt in pairs(self.conns) do
    if c.idle then pcall(gt.kill, gt) end
  end
  local me = getcurrent()
  for _, gt in pairs(self.conns) do
    if gt.greenlet == me then return end	-- a handler shutting its server down
  end
  local t0 = now()
  while self.nconns > 0 do
    self.drained:reset()
    if grace then
      local left = t0 + grace - now()
      if left <= 0 then
        for c, gt in pairs(self.conns) do
          c.killed = true
          pcall(gt.kill, gt)
        end
        grace = nil
      else
        self.drained:wait(left)
      end
    else
      self.drained:wait()
    end
  end
end

return M
