-- lgreen.httpd answering "Hello, world!" (13 bytes) to every request, for
-- bench/run.sh's HTTP server section.
--   luajit bench/httpd_hello.lua PORT
local httpd = require "lgreen.httpd"

local BODY = "Hello, world!"
local HEADERS = { ["Content-Type"] = "text/plain" }
local server = assert(httpd.listen("127.0.0.1", tonumber(arg[1]) or 8080,
  function() return 200, HEADERS, BODY end))
server:serve()
