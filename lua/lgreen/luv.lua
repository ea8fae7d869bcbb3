-- lgreen.luv: run lgreen's hub inside a luv (libuv) program.
--
--   local uv = require "luv"
--   local detach = require("lgreen.luv").attach(uv)
--   lg.spawn(...)		-- green threads and uv handles side by side
--   uv.run()			-- returns when neither uv nor lgreen has work
--   detach()			-- optional: lgreen's handles off the uv loop
--
-- The glue: a uv poll handle on the hub's backend fd (readable when its
-- watchers have events), a uv timer for the hub's next deadline, and
-- lg.step() from a prepare handle (before uv polls: runs what uv's timers
-- made ready) and a check handle (after: what uv's I/O callbacks and the
-- hub's fd made ready).  After each step the poll handle is ref'd while
-- lgreen has something to wait for, unref'd when it is idle, so uv.run()
-- ends once both sides are.  uv.run() must be called from the main
-- greenlet (the main script), as lg.step() is; uv callbacks run there too:
-- they may spawn, set Events, put on Queues, but must not block (spawn a
-- green thread for that).
local M = {}

local function noop() end

-- attach(uv) -> detach function.  uv is the luv module.  Errors if lgreen
-- runs on a host's libev loop or a backend with no fd (not epoll).
function M.attach(uv)
  if type(uv) ~= "table" or type(uv.new_poll) ~= "function" then
    error("bad argument #1 to 'attach' (the luv module expected, got "
      .. type(uv) .. ")", 2)
  end
  local lg = require "lgreen.hub"	-- step, backend_fd, next_timeout
  local fd = lg.backend_fd()
  if fd == nil then
    error("lgreen.luv: the hub has no backend fd (a host's libev loop, or "
      .. "a libev backend other than epoll)", 2)
  end
  local poll, timer = uv.new_poll(fd), uv.new_timer()
  local prepare, check = uv.new_prepare(), uv.new_check()
  local attached = true

  -- Run what is ready; then wait for the hub's fd and next deadline, and
  -- hold uv.run() only while lgreen has something to wait for.
  local function step()
    if not attached then return end
    local more = lg.step()
    local t = lg.next_timeout()
    if t then
      timer:start(math.ceil(t * 1000), 0, noop)	-- uv: whole ms
      if more then timer:ref() else timer:unref() end
    else
      timer:stop()
    end
    if more then poll:ref() else poll:unref() end
  end

  poll:start("r", step)
  prepare:start(step)
  check:start(step)
  prepare:unref()
  check:unref()
  step()

  return function()
    if not attached then return end
    attached = false
    for _, h in ipairs({ poll, timer, prepare, check }) do
      if not h:is_closing() then h:close() end
    end
  end
end

return M
