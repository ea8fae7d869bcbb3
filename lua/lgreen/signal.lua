-- Signals (lg.signal): run a handler in a greenthread of its own each time
-- a signal arrives.
--
--   local h = lg.signal("SIGUSR1", function(signum) print("got", signum) end)
--   ...
--   h:cancel()		-- the disposition from before comes back
--
-- Ctrl-C with no "INT" handler: in the standalone interpreters (lua,
-- luajit) the hub raises "interrupted!" in the main greenlet as soon as it
-- waits on the hub, idle or busy, so the script ends with that error and
-- exit status 1, as without green threads.  A handler set here takes SIGINT
-- instead while it is active.  A green thread that never yields keeps the
-- hub from running: a second Ctrl-C then ends the process.  A C host's
-- SIGINT is left alone (see c/hub.c, "Ctrl-C").
--
-- Clean shutdown of a server: the SIGTERM (or SIGINT) handler closes the
-- listening socket.  Closing it wakes the greenthread blocked in accept,
-- whose accept returns nil, "closed", so the serve loop ends; connections
-- in progress finish in their own greenthreads, and lg.run() returns when
-- nothing is left to do, so the program exits normally:
--
--   local server = assert(lg.listen("0.0.0.0", 8080))
--   local term = lg.signal("TERM", function() server:close() end)
--   lg.serve(server, handle)	-- returns once the server socket is closed
--   term:cancel()
--   lg.run()			-- let open connections finish
--
-- A handler runs in a new greenthread, so it may block (drain a queue,
-- wait for workers).  Deliveries that arrive together may run it once
-- (libev coalesces them, as the kernel does).  Like gevent's
-- signal_handler, watching a signal does not keep lg.run() alive by
-- itself.  One libev loop per signal per process: two Lua VMs must not
-- watch the same signal at the same time.
local core = require "lgreen.core"
local gthread = require "lgreen.greenthread"
local process = require "lgreen.process"
local args = require "lgreen.args"

local C = core.process
local spawn_n = gthread.spawn_n
local signum = process.signum
local type, getmetatable, setmetatable, ipairs = type, getmetatable, setmetatable, ipairs

local M = {}

-- Signals a handler must not take.  KILL and STOP cannot be caught.  The
-- synchronous ones are raised by the faulting instruction itself: a libev
-- handler returns, the instruction faults again, forever; and SEGV is the
-- stack-overflow reporter's (c/stack.c), which would be silenced.
local REFUSED = {}
REFUSED[process.signals.KILL] = "SIGKILL and SIGSTOP cannot be caught"
REFUSED[process.signals.STOP] = REFUSED[process.signals.KILL]
for _, name in ipairs { "SEGV", "BUS", "FPE", "ILL", "TRAP", "SYS" } do
  local num = process.signals[name]
  if num then
    REFUSED[num] = "SIG" .. name .. " is synchronous (raised by a faulting instruction): it cannot be handled in a greenthread"
  end
end

-- signum -> { ud = core watcher, handlers = { Handle... } }: one libev
-- watcher per signal in this VM, however many handlers.
local watching = {}

-- One greenthread per watched signal waits for it and starts the handlers.
local function dispatch(num, w)
  while true do
    local n = C.signal_wait(w.ud)
    if n == nil then return end		-- stopped: the last handler left
    local hs = w.handlers
    for i = 1, #hs do spawn_n(hs[i].handler, num) end
  end
end

local Handle = {}
Handle.__index = Handle

local function callable(fn)
  if type(fn) == "function" then return true end
  local mt = getmetatable(fn)
  return type(mt) == "table" and mt.__call ~= nil
end

-- signal(sig, handler) -> Handle.  sig: a number, "SIGTERM" or "TERM".
function M.signal(sig, handler)
  local num = signum(sig, 1, "signal")
  if REFUSED[num] then args.argerror(1, "signal", REFUSED[num]) end
  if not callable(handler) then
    args.argerror(2, "signal", "function expected, got " .. type(handler))
  end
  local w = watching[num]
  if w == nil then
    w = { ud = C.signal_watch(num), handlers = {} }
    watching[num] = w
    spawn_n(dispatch, num, w)
  end
  local h = setmetatable({ signum = num, handler = handler, active = true }, Handle)
  w.handlers[#w.handlers + 1] = h
  return h
end

-- cancel() -> true, or false if cancelled already.  With the last handler
-- of a signal gone, the signal's previous disposition is restored.
function Handle:cancel()
  if not self.active then return false end
  self.active = false
  local w = watching[self.signum]
  local hs = w.handlers
  for i = #hs, 1, -1 do
    if hs[i] == self then table.remove(hs, i) end
  end
  if #hs == 0 then
    watching[self.signum] = nil
    C.signal_stop(w.ud)
  end
  return true
end

function Handle:__tostring()
  return ("signal handler %d (%s)"):format(self.signum, self.active and "active" or "cancelled")
end

M.Handle = Handle
M.signum = signum

return M
