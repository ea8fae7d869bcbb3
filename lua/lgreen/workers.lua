-- lgreen.workers: one hub runs on one core; this runs N worker processes,
-- each with its own hub, sharing the listening sockets, under a master
-- that supervises them (the shape of nginx, or gunicorn with gevent
-- workers).
--
--   local workers = require "lgreen.workers"
--   local ok, err = workers.run {
--     n = "auto",			-- a worker per online CPU, or a number
--     listen = { "0.0.0.0:8080" },	-- "host:port" strings, or listening sockets
--     main = function(id, sockets)	-- in each worker, id 1..n
--       return lg.serve(sockets[1], handler)
--     end,
--     grace = 30,			-- seconds a stopping worker may take
--   }
--
-- lg.serve(addr_or_socket, handler, { workers = n }) is that call.
--
-- The master opens the sockets, forks the workers and does nothing else:
-- it runs no user code and accepts nothing.  A "host:port" gets one
-- socket per worker slot bound with SO_REUSEPORT, so the kernel spreads
-- connections across the workers by address hash; the master keeps every
-- slot's socket open, so connections that queue while a slot's worker is
-- being replaced wait for the next one instead of being reset.  Without
-- SO_REUSEPORT, and for a socket given, all workers accept on one
-- inherited socket.
--
-- The master, by signal:
--   worker death  restarted after a delay (0.1 s, doubling to 10 s while
--                 it keeps dying young), with one line on stderr:
--                 "lgreen: worker 2 (pid 1234) killed by SIGKILL; restarting in 0.1 s"
--   SIGTERM/INT   graceful stop: SIGTERM to every worker, the master's
--                 sockets closed; a worker still running grace seconds
--                 later is killed.  run returns true once all have exited
--                 0, else nil and what went wrong.  A second SIGTERM or
--                 SIGINT kills them at once.
--   SIGHUP        replaces every worker with a fresh fork (of the program
--                 as the master loaded it: nothing is reloaded): the new
--                 one starts, then the old one is stopped as above (no
--                 connection is refused).
-- A worker that returns from main exits 0 and is not replaced; run
-- returns once none is left.  An error out of main is reported with the
-- worker's id and the worker exits 1 (and is restarted).
--
-- In a worker: SIGTERM or SIGINT closes the sockets main got (an accept
-- returns nil, "closed": lg.serve returns once its connections are done)
-- and sends workers.stopping, an lg.Event, for main's other work.
-- workers.id is the worker's number (nil in the master).  Uncaught errors
-- of its greenthreads are reported with the worker's id (an lg.on_error
-- set in main takes them instead).  When main returns the worker ends
-- with _exit: finalizers and atexit handlers of the master do not run in
-- it.  Each worker is sent SIGKILL if the master dies (PR_SET_PDEATHSIG,
-- Linux): none outlives it.
--
-- The workers are fork()s of the master at the workers.run call:
-- greenthreads that exist then go on in every worker too, and so does
-- what the program loaded and opened.  Call it before spawning anything.
local core = require "lgreen.core"
local gthread = require "lgreen.greenthread"
local queue = require "lgreen.queue"
local Event = require "lgreen.event"
local resolve = require "lgreen.resolve"
local signal = require "lgreen.signal"
local args = require "lgreen.args"

local W, P, H = core.workers, core.process, core.hub
local signals = P.signals
local now, sleep = H.now, H.sleep
local argerror = args.argerror
local error, type, tostring, tonumber, pairs, ipairs, xpcall, getmetatable =
  error, type, tostring, tonumber, pairs, ipairs, xpcall, getmetatable
local unpack = unpack or table.unpack
local stderr = io.stderr

local M = {}
M.id = nil		-- in a worker: its number, 1..n
M.stopping = nil	-- in a worker: an Event, sent when it is asked to stop

local GRACE = 30	-- seconds a stopping worker gets by default
local DELAY_MIN, DELAY_MAX = 0.1, 10	-- restart backoff
local YOUNG = 10	-- a worker that dies younger doubles the next delay
-- What the master watches: a new worker holds these until it has stopped
-- the master's watchers it inherited and set up its own.
local HELD = { signals.TERM, signals.INT, signals.HUP }

local Exit = core.greenlet.GreenletExit
local signame = {}
for k, v in pairs(signals) do signame[v] = "SIG" .. k end

local function say(fmt, ...)
  stderr:write("lgreen: " .. fmt:format(...) .. "\n")
  stderr:flush()
end

local function is_socket(v)
  return getmetatable(v) == core.socket.meta
end

-- -- Listening sockets -----------------------------------------------------

-- "host:port" or "[v6]:port" -> host, port
local function parse_addr(a)
  local host, port = a:match("^%[(.*)%]:(%d+)$")
  if not host then host, port = a:match("^(.-):(%d+)$") end
  return host, tonumber(port)
end

-- A listening socket on addr:port (family "inet" or "inet6"), with
-- SO_REUSEPORT if reuseport; nil, err.
local function bind_one(family, addr, port, backlog, reuseport)
  local S = require "lgreen.socket"
  local s, err
  if family == "inet6" then s, err = S.tcp6() else s, err = S.tcp4() end
  if not s then return nil, err end
  local ok
  ok, err = s:setoption("reuseaddr", true)
  if ok and reuseport then ok, err = s:setoption("reuseport", true) end
  if ok then ok, err = s:bind(addr, port) end
  if ok then ok, err = s:listen(backlog) end
  if ok then return s end
  s:close()
  return nil, err
end

-- The first address to bind for host: family, addr; nil, err.
local function bind_address(host, port)
  if host == "*" or host == "" then return "inet", "0.0.0.0" end
  local fam = resolve.numeric(host)
  if fam then return fam, host end
  local list, err = resolve.getaddrinfo(host, port, { passive = true })
  if not list then return nil, err end
  return list[1].family, list[1].addr
end

-- A listener: { sock = s } shared by every worker, or { slots = { s1, ...
-- sn } }, one SO_REUSEPORT socket per worker slot.  nil, err.  n nil: a
-- plain socket for this process alone (no SO_REUSEPORT: a second server
-- on the port fails to bind instead of sharing it).
local function open_listener(v, n, backlog)
  if is_socket(v) then return { sock = v } end
  local host, port = parse_addr(v)
  local fam, addr = bind_address(host, port)
  if not fam then return nil, ("%s: %s"):format(v, addr) end
  local first, err = bind_one(fam, addr, port, backlog, n ~= nil)
  if first and n == nil then return { sock = first } end
  if not first then		-- no SO_REUSEPORT here: one socket for all
    local s, err2 = bind_one(fam, addr, port, backlog, false)
    if not s then return nil, ("%s: %s"):format(v, err2 or err) end
    return { sock = s }
  end
  local _, bound = first:getsockname()	-- port 0: the one the kernel chose
  local l = { slots = { first } }
  for i = 2, n do
    local s
    s, err = bind_one(fam, addr, tonumber(bound), backlog, true)
    if not s then
      for j = 1, #l.slots do l.slots[j]:close() end
      return nil, ("%s: %s"):format(v, err)
    end
    l.slots[i] = s
  end
  return l
end

local function close_listeners(ls, slot)
  for _, l in ipairs(ls) do
    if l.slots then
      for i, s in pairs(l.slots) do
        if slot == nil or i == slot then s:close() end
      end
    elseif slot == nil then
      l.sock:close()
    end
  end
end

-- -- In a worker -------------------------------------------------------------

local function report_with_id(id, pid)
  return function(_, tb, _, name, site)
    stderr:write(("lgreen: worker %d (pid %d): uncaught error in greenthread %s spawned at %s:\n%s\n")
      :format(id, pid, name, site, tb))
    stderr:flush()
  end
end

-- The child of a fork in the master: leave the master's part behind, run
-- main, exit.  Never returns.
local function become_worker(id, master, ls, main)
  for _, h in ipairs(master.handles) do h:cancel() end
  for gt in pairs(master.threads) do gthread.throw(gt, Exit) end
  local mine = {}
  for j, l in ipairs(ls) do
    if l.slots then
      for i, s in pairs(l.slots) do
        if i ~= id then s:close() end
      end
      mine[j] = l.slots[id]
    else
      mine[j] = l.sock
    end
  end
  local pid = P.getpid()
  M.id, M.stopping = id, Event()
  local function stop()
    if M.stopping:ready() then return end
    M.stopping:send(true)
    for _, s in ipairs(mine) do s:close() end
  end
  signal.signal("TERM", stop)
  signal.signal("INT", stop)
  signal.signal("HUP", function() end)	-- the master's to act on
  gthread.on_error(report_with_id(id, pid))
  W.unblock(unpack(HELD))
  local ok, err = xpcall(function() return main(id, mine) end, debug.traceback)
  if not ok then
    say("worker %d (pid %d) failed: %s", id, pid, tostring(err))
    W.exit(1)
  end
  W.exit(0)
end

-- -- The master --------------------------------------------------------------

local function outcome(code, how)
  if how == "exit" then return "exited with status " .. tostring(code) end
  if how == "signal" then return "killed by " .. (signame[code] or ("signal " .. tostring(code))) end
  return "lost (" .. tostring(how) .. ")"
end

local function supervise(n, ls, main, grace)
  local q = queue.Queue()
  local m = { threads = {}, handles = {} }	-- left behind in a worker
  local live, nlive = {}, 0			-- pid -> worker
  local slots = {}				-- id -> { current, delay, timer, done }
  local npending = 0				-- restarts waiting for their delay
  local stopping = false
  local problems = {}

  local function bg(fn, ...)
    local gt = gthread.spawn(fn, ...)
    m.threads[gt] = true
    return gt
  end
  local function drop(gt)
    if gt == nil then return end
    m.threads[gt] = nil
    if not gt.dead then gt:kill() end
  end

  local function restart_later(id, delay)
    local slot = slots[id]
    npending = npending + 1
    slot.timer = bg(function()
      sleep(delay)
      q:put({ "restart", id })
    end)
  end

  local function start(id)
    local slot = slots[id]
    local child, pid, ename = W.fork(signals.KILL, unpack(HELD))
    if child == false then become_worker(id, m, ls, main) end
    if not child then
      say("worker %d: fork failed: %s (%s); retrying in %g s", id, tostring(pid), tostring(ename), slot.delay)
      restart_later(id, slot.delay)
      slot.delay = math.min(slot.delay * 2, DELAY_MAX)
      return
    end
    local w = { id = id, pid = pid, child = child, born = now() }
    live[pid], nlive = w, nlive + 1
    slot.current = w
    w.waiter = bg(function()
      local code, how = P.wait(child)
      q:put({ "exit", w, code, how })
    end)
  end

  local function stop_worker(w)
    if w.stopping then return end
    w.stopping = true
    P.kill(w.child, signals.TERM)
    w.deadline = bg(function()
      sleep(grace)
      q:put({ "deadline", w })
    end)
  end

  local function on_exit(w, code, how)
    live[w.pid], nlive = nil, nlive - 1
    m.threads[w.waiter] = nil
    drop(w.deadline)
    local slot, clean = slots[w.id], how == "exit" and code == 0
    if slot.current ~= w then		-- replaced on SIGHUP: drained
      if not clean and not w.killed then
        say("worker %d (pid %d, replaced) %s", w.id, w.pid, outcome(code, how))
      end
      return
    end
    slot.current = nil
    if stopping then
      if not clean and not w.killed then
        problems[#problems + 1] = ("worker %d (pid %d) %s"):format(w.id, w.pid, outcome(code, how))
        say("worker %d (pid %d) %s while stopping", w.id, w.pid, outcome(code, how))
      end
    elseif clean then			-- main returned: its work is done
      slot.done = true
      close_listeners(ls, w.id)
    else
      if now() - w.born >= YOUNG then slot.delay = DELAY_MIN end
      say("worker %d (pid %d) %s; restarting in %g s", w.id, w.pid, outcome(code, how), slot.delay)
      restart_later(w.id, slot.delay)
      slot.delay = math.min(slot.delay * 2, DELAY_MAX)
    end
  end

  local function on_signal(name)
    if name == "HUP" then
      if stopping then return end
      for id = 1, n do
        local old = slots[id].current
        if old then
          start(id)
          stop_worker(old)
        end
      end
    elseif not stopping then		-- TERM, INT: stop gracefully
      stopping = true
      for id = 1, n do
        if slots[id].timer then
          drop(slots[id].timer)
          slots[id].timer = nil
          npending = npending - 1
        end
      end
      for _, w in pairs(live) do stop_worker(w) end
      close_listeners(ls)
    else				-- a second one: now
      for _, w in pairs(live) do
        if not w.killed then
          w.killed = true
          problems[#problems + 1] = ("worker %d (pid %d) killed on a second SIG%s"):format(w.id, w.pid, name)
          P.kill(w.child, signals.KILL)
        end
      end
    end
  end

  for _, name in ipairs { "TERM", "INT", "HUP" } do
    m.handles[#m.handles + 1] = signal.signal(name, function() q:put({ "signal", name }) end)
  end
  for id = 1, n do
    slots[id] = { delay = DELAY_MIN }
    start(id)
  end
  while nlive > 0 or npending > 0 do
    local ev = q:get()
    local what = ev[1]
    if what == "exit" then
      on_exit(ev[2], ev[3], ev[4])
    elseif what == "signal" then
      on_signal(ev[2])
    elseif what == "restart" then
      local slot = slots[ev[2]]
      m.threads[slot.timer], slot.timer = nil, nil
      npending = npending - 1
      if not stopping then start(ev[2]) end
    elseif what == "deadline" then
      local w = ev[2]
      m.threads[w.deadline], w.deadline = nil, nil
      if live[w.pid] == w and not w.killed then
        w.killed = true
        problems[#problems + 1] = ("worker %d (pid %d) killed %g s after SIGTERM"):format(w.id, w.pid, grace)
        say("worker %d (pid %d) still running %g s after SIGTERM; killing it", w.id, w.pid, grace)
        P.kill(w.child, signals.KILL)
      end
    end
  end
  for _, h in ipairs(m.handles) do h:cancel() end
  close_listeners(ls)
  if #problems > 0 then return nil, table.concat(problems, "; ") end
  return true
end

-- -- API ---------------------------------------------------------------------

local RUN = args.set { "n", "listen", "main", "grace", "backlog" }

-- The number of workers that n asks for ("auto": CPUs online).
local function count(n, fname, what)
  if n == "auto" then return W.ncpu() end
  if type(n) ~= "number" or n < 1 or n % 1 ~= 0 then
    argerror(what == "opts.n" and 1 or 3, fname,
      what .. ": positive integer or \"auto\" expected, got " .. tostring(n), 3)
  end
  return n
end

local function check_listen(v, i, fname, argn)
  if is_socket(v) then return end
  if type(v) ~= "string" then
    argerror(argn, fname, ("%s: \"host:port\" or a listening socket expected, got %s")
      :format(i, type(v)), 3)
  end
  local host, port = parse_addr(v)
  if not host or port > 65535 then
    argerror(argn, fname, ("%s: \"host:port\" expected, got %q"):format(i, v), 3)
  end
  args.check_host(host, argn, fname, 3)
end

-- run(opts) -> true | nil, err.  See the top of this file.
function M.run(opts)
  opts = args.check_options(opts, RUN, 1, "run")
  if M.id then error("workers.run: called in a worker", 2) end
  local n = count(opts.n, "run", "opts.n")
  if type(opts.main) ~= "function" then
    argerror(1, "run", "opts.main: function expected, got " .. type(opts.main))
  end
  local listen = opts.listen or {}
  if type(listen) ~= "table" or is_socket(listen) then
    argerror(1, "run", "opts.listen: list expected, got " .. type(listen))
  end
  for i = 1, #listen do check_listen(listen[i], "opts.listen[" .. i .. "]", "run", 1) end
  local grace = args.check_seconds(opts.grace, 1, "run", "opts.grace") or GRACE
  local backlog = opts.backlog or 1024
  if type(backlog) ~= "number" or backlog < 1 then
    argerror(1, "run", "opts.backlog: positive number expected, got " .. tostring(backlog))
  end
  local ls = {}
  for i = 1, #listen do
    local l, err = open_listener(listen[i], n, backlog)
    if not l then
      close_listeners(ls)
      return nil, err
    end
    ls[i] = l
  end
  return supervise(n, ls, opts.main, grace)
end

local SERVE = args.set { "workers", "concurrency", "grace", "backlog" }

-- serve(addr_or_socket, handler, opts): lg.serve with an address or an
-- options table (lgreen.socket hands those calls here).  opts: workers
-- (n or "auto"; none: this process serves), concurrency (per process),
-- grace, backlog.
function M.serve(server, handler, opts)
  local S = require "lgreen.socket"
  opts = args.check_options(opts, SERVE, 3, "serve")
  check_listen(server, "address", "serve", 1)
  if type(handler) ~= "function" then argerror(2, "serve", "function expected, got " .. type(handler)) end
  local conc = opts.concurrency
  if conc ~= nil and (type(conc) ~= "number" or conc < 1) then
    argerror(3, "serve", "opts.concurrency: positive number expected, got " .. tostring(conc))
  end
  if opts.backlog ~= nil and type(server) ~= "string" then
    argerror(3, "serve", "opts.backlog needs an address (a socket listens already)")
  end
  if opts.workers == nil then
    if opts.grace ~= nil then argerror(3, "serve", "opts.grace needs opts.workers") end
    if type(server) == "string" then
      local l, err = open_listener(server, nil, opts.backlog or 1024)
      if not l then return nil, err end
      server = l.sock
    end
    return S.serve(server, handler, conc)
  end
  count(opts.workers, "serve", "opts.workers")
  return M.run {
    n = opts.workers, listen = { server }, grace = opts.grace, backlog = opts.backlog,
    main = function(_, sockets)
      local ok, err = S.serve(sockets[1], handler, conc)
      if not ok then error("serve: " .. tostring(err), 0) end
    end,
  }
end

M.ncpu = W.ncpu		-- ncpu() -> CPUs online

return M
