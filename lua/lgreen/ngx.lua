-- lgreen.ngx: green threads inside an nginx worker (ngx_lua), driven by
-- nginx's own event loop (the C module lgreen.nginx, `make nginx-module`).
--
--   init_worker_by_lua_block { require("lgreen.ngx").attach() }
--   content_by_lua_block {
--     local lgx = require "lgreen.ngx"
--     local gt = lgx.spawn(function() ... lgreen code ... end)
--     local ok, a, b = lgx.wait(gt)     -- the request yields to nginx
--   }
--
-- Green threads run on the VM's main state, outside any request: request
-- APIs (ngx.var, ngx.say, ngx.sleep...) raise "no request found" there.  A
-- handler talks to them with values: arguments in, results out.
local M = {}

local nginx		-- the C module, loaded by attach()
local lg		-- lgreen, likewise

local attached = false	-- attach() ran in this worker

local function need_attached(fname)
  if not attached then
    error(("lgreen.ngx.%s: not attached (call require('lgreen.ngx').attach() in init_worker_by_lua*)"):format(fname), 3)
  end
end

-- Name lookups: lgreen's resolver threads wake the hub through a libev
-- ev_async, and libev writes its wake-up fd only while its loop sits in
-- epoll_wait, which it never does here (nginx's loop waits instead): a
-- finished lookup would wait for the hub's next step, forever if nothing
-- else is due.  So while lookups are in flight, a green thread keeps a 2 ms
-- lgreen timer armed (each fire is a step that collects finished lookups);
-- with none in flight nothing runs.  (A core fix would wake the backend fd.)
local inflight, pumping = 0, false

local function pump()
  while inflight > 0 do lg.sleep(0.002) end
  pumping = false
end

local function done(ok, ...)
  inflight = inflight - 1
  if not ok then error((...), 0) end
  return ...
end

local function counted(f)
  return function(...)
    inflight = inflight + 1
    if not pumping then
      pumping = true
      lg.spawn_n(pump)
    end
    return done(pcall(f, ...))
  end
end

local function count_lookups()
  local resolve = require "lgreen.resolve"
  for _, k in ipairs { "getaddrinfo", "toip", "tohostname" } do
    resolve[k] = counted(resolve[k])
  end
end

-- From init_worker_by_lua*: the hub's epoll fd becomes an nginx read event
-- and its next deadline an nginx timer.  lgreen may already have been used
-- in init_by_lua (the master): each worker gets a hub of its own (fork).
function M.attach()
  if ngx.get_phase() ~= "init_worker" then
    error("lgreen.ngx.attach: call it from init_worker_by_lua*, not from the '"
      .. ngx.get_phase() .. "' phase", 2)
  end
  lg = require "lgreen"
  nginx = require "lgreen.nginx"
  local H = require("lgreen.core").hub
  local fd = H.backend_fd()
  if not fd then error("lgreen.ngx.attach: the hub has no epoll fd to watch", 2) end
  nginx.attach(fd, H.step)
  if not attached then count_lookups() end
  attached = true
end

-- Run the hub once the current handler yields back to nginx (after
-- spawning or waking a green thread from a handler; M.spawn does it).
function M.kick()
  need_attached("kick")
  return nginx.kick()
end

function M.spawn(fn, ...)
  need_attached("spawn")
  local gt = lg.spawn(fn, ...)
  nginx.kick()
  return gt
end

function M.spawn_n(fn, ...)
  need_attached("spawn_n")
  local g = lg.spawn_n(fn, ...)
  nginx.kick()
  return g
end

local function collect(box, ok, ...)
  box.ok, box.n, box.v = ok, select("#", ...), { ... }
end

-- From a request handler or an ngx.timer: wait for a GreenThread without
-- blocking the worker (the request's coroutine waits on an ngx.semaphore
-- that the green thread's end posts).  Returns true, results... or false,
-- its error (as pcall does); nil, "timeout" after `timeout` seconds
-- (default 60; the green thread goes on).
function M.wait(gt, timeout)
  need_attached("wait")
  if type(gt) ~= "table" or type(gt.link) ~= "function" then
    error(("bad argument #1 to 'wait' (GreenThread expected, got %s)"):format(type(gt)), 2)
  end
  if timeout ~= nil and (type(timeout) ~= "number" or timeout < 0) then
    error(("bad argument #2 to 'wait' (non-negative number expected, got %s)"):format(tostring(timeout)), 2)
  end
  local box = {}
  local sema
  gt:link(function(t)
    collect(box, pcall(t.wait, t))	-- dead: returns or raises at once
    if sema then sema:post(1) end
  end)
  if box.ok == nil then		-- not over yet
    sema = require("ngx.semaphore").new(0)
    local ok, err = sema:wait(timeout or 60)
    if not ok and box.ok == nil then return nil, err end
  end
  return box.ok, unpack(box.v, 1, box.n)
end

-- From a handler: kill a GreenThread (GreenletExit, or err) from a green
-- thread of its own (GreenThread:kill itself would run lgreen's loop in the
-- handler).  Returns at once; the kill happens once the handler yields.
function M.kill(gt, err)
  need_attached("kill")
  if type(gt) ~= "table" or type(gt.kill) ~= "function" then
    error(("bad argument #1 to 'kill' (GreenThread expected, got %s)"):format(type(gt)), 2)
  end
  if gt.dead then return end
  lg.spawn_n(gt.kill, gt, err)
  nginx.kick()
end

-- spawn + wait.
function M.run(fn, ...)
  return M.wait(M.spawn(fn, ...))
end

-- { attached, steps (hub steps run by nginx events), fd, timer_ms }
function M.stats()
  return nginx and nginx.stats() or { attached = false }
end

return M
