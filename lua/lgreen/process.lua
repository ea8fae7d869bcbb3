-- Subprocesses (lg.process): spawn a command with green pipes, wait for it
-- without blocking the hub, signal it; run() gets output and status in one
-- call.  The C half (core.process) spawns with posix_spawn and waits on a
-- pidfd; this half holds the policy: argument checks, the shell, env
-- tables, Process objects, run().
--
--   local p = lg.process({ "tr", "a-z", "A-Z" }, { stdin = "pipe", stdout = "pipe" })
--   p.stdin:send("hello\n"); p.stdin:close()
--   print(p.stdout:receive("*a"), p:wait())	--> HELLO  0  exit
--
--   local out, err, code, how = lg.process.run({ "ls", "-l" }, { timeout = 5 })
local core = require "lgreen.core"
local gthread = require "lgreen.greenthread"
local argcheck = require "lgreen.args"

local C = core.process
local signals = C.signals
local spawn = gthread.spawn
local now = core.hub.now
local error, pcall, type, tostring, pairs, setmetatable =
  error, pcall, type, tostring, pairs, setmetatable
local sort = table.sort
local max = math.max

local M = {}

local argerror = argcheck.argerror
-- The options of spawn (and process()); run adds input and timeout.
local SPAWN = argcheck.set { "shell", "env", "env_add", "cwd", "stdin", "stdout",
  "stderr", "pidfd", "setsid" }
local RUN = argcheck.set { "shell", "env", "env_add", "cwd", "stdin", "stdout",
  "stderr", "pidfd", "setsid", "input", "timeout" }
-- plan's errors blame the caller of the public function: plan <- new <- it
local PL = 4

-- Signal number of sig: a number, "SIGTERM" or "TERM".
local function signum(sig, n, fname)
  if type(sig) == "number" then
    if sig ~= sig or sig < 0 or sig >= 65 or sig % 1 ~= 0 then
      argerror(n, fname, "invalid signal number", 3)
    end
    return sig
  end
  if type(sig) ~= "string" then
    argerror(n, fname, "signal number or name expected, got " .. type(sig), 3)
  end
  local num = signals[sig:upper():gsub("^SIG", "")]
  if num == nil then argerror(n, fname, "unknown signal '" .. sig .. "'", 3) end
  return num
end
M.signum = signum
M.signals = signals

local stdio_modes = { inherit = true, pipe = true, null = true }

-- The fd of a stream (anything with a getfd method), or nil.
local function stream_fd(v)
  local t = type(v)
  if t ~= "table" and t ~= "userdata" then return nil end
  local ok, fd = pcall(function() return v:getfd() end)
  if ok and type(fd) == "number" then return fd end
  return nil
end

-- The environment of a child, as core.process.spawn takes it: nil
-- (inherit ours), or a sorted list of "K=V" from env (replacing ours)
-- and env_add (over env, else over ours; false removes the name).
local function envlist(env, add, fname)
  if env == nil and add == nil then return nil end
  local vars = {}
  for what, t in pairs({ env = env or false, env_add = add or false }) do
    if t and type(t) ~= "table" then
      argerror(2, fname, "opts." .. what .. ": table expected, got " .. type(t), PL + 1)
    end
    for k, v in pairs(t or {}) do
      if type(k) ~= "string" or k == "" or k:find("=", 1, true) or k:find("\0", 1, true) then
        argerror(2, fname, "opts." .. what .. ": keys must be variable names", PL + 1)
      end
      if type(v) == "number" then v = tostring(v) end
      if type(v) ~= "string" and not (v == false and what == "env_add") then
        argerror(2, fname, ("opts.%s.%s: string expected%s, got %s"):format(what, k,
          what == "env_add" and " (or false)" or "", type(v)), PL + 1)
      end
    end
  end
  if env then
    for k, v in pairs(env) do vars[k] = tostring(v) end
  else
    local ours = C.environ()
    for i = 1, #ours do
      local k, v = ours[i]:match("^([^=]*)=(.*)$")
      if k then vars[k] = v end
    end
  end
  for k, v in pairs(add or {}) do vars[k] = v and tostring(v) or nil end
  local list = {}
  for k, v in pairs(vars) do list[#list + 1] = k .. "=" .. v end
  sort(list)
  return list
end

-- The argv and options for core.process.spawn, checked.
local function plan(argv, opts, fname)
  opts = argcheck.check_options(opts, SPAWN, 2, fname, PL)
  local args
  if opts.shell then
    if type(argv) ~= "string" then
      argerror(1, fname, "command string expected with opts.shell, got " .. type(argv), PL)
    end
    local sh = opts.shell == true and "/bin/sh" or opts.shell
    if type(sh) ~= "string" then argerror(2, fname, "opts.shell: true or a shell path expected", PL) end
    args = { sh, "-c", argv }
  else
    if type(argv) == "string" then
      argerror(1, fname, "argv table expected, got string (set opts.shell = true to run it through /bin/sh -c)", PL)
    end
    if type(argv) ~= "table" then argerror(1, fname, "argv table expected, got " .. type(argv), PL) end
    if argv[1] == nil then argerror(1, fname, "argv is empty", PL) end
    args = {}
    for i = 1, #argv do
      local a = argv[i]
      if type(a) == "number" then a = tostring(a) end
      if type(a) ~= "string" then
        argerror(1, fname, ("argv[%d] is a %s, not a string"):format(i, type(a)), PL)
      end
      args[i] = a
    end
  end
  local env = envlist(opts.env, opts.env_add, fname)
  if opts.setsid ~= nil and type(opts.setsid) ~= "boolean" then
    argerror(2, fname, "opts.setsid: boolean expected, got " .. type(opts.setsid), PL)
  end
  if opts.cwd ~= nil and type(opts.cwd) ~= "string" then
    argerror(2, fname, "opts.cwd: string expected", PL)
  end
  local stdio
  for _, k in pairs({ "stdin", "stdout", "stderr" }) do
    local v = opts[k]
    local fd = stream_fd(v)
    if fd then
      if fd < 0 then argerror(2, fname, "opts." .. k .. ": stream is closed", PL) end
      stdio = stdio or {}
      stdio[k], v = fd, fd
    end
    if not (v == nil or stdio_modes[v] or (k == "stderr" and v == "stdout")
            or (type(v) == "number" and v >= 0 and v % 1 == 0)) then
      argerror(2, fname, ("opts.%s: \"pipe\", \"inherit\", \"null\", %san fd or a stream expected")
        :format(k, k == "stderr" and "\"stdout\" " or ""), PL)
    end
  end
  if stdio then		-- streams given as their fds, on a copy of opts
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    for k, v in pairs(stdio) do o[k] = v end
    opts = o
  end
  return args, env, opts
end

-- -- Process ---------------------------------------------------------------

local Process = {}
Process.__index = Process

local wrap	-- lgreen.socket.wrap, loaded with the first pipe

local function stream(fd)
  if not fd then return nil end
  wrap = wrap or require("lgreen.socket").wrap
  return wrap(fd)
end

-- spawn(argv [, opts]) -> Process | nil, err, errname.
-- argv: { "cmd", "arg", ... } run without a shell (PATH is searched when
-- argv[1] has no slash); with opts.shell = true, a string for /bin/sh -c.
-- opts.env: a table { NAME = value } replacing the environment (default:
-- inherited); opts.env_add: { NAME = value | false } set (false: unset)
-- over the inherited environment, or over opts.env; opts.cwd;
-- opts.stdin/stdout/stderr: "inherit" (default),
-- "pipe" (a green stream in p.stdin/p.stdout/p.stderr), "null", an fd
-- number or a stream (a pipeline: { stdin = p1.stdout }; then close
-- p1.stdout here), or for stderr "stdout".  A command that cannot be executed is
-- nil, "No such file or directory", "ENOENT" (or so), not an exit 127.
-- opts.setsid (default: true with opts.shell, else false): the child
-- starts a new session and leads its own process group, so p:kill and
-- run's timeout reach everything it started.
-- opts.pidfd = false waits by polling waitpid, as on kernels before 5.3.
local function new(argv, opts, fname)
  local args, env, o = plan(argv, opts, fname)
  local setsid = o.setsid
  if setsid == nil then setsid = o.shell and true or false end
  local child, pid, i, out, err = C.spawn(args, env, o.cwd, o.stdin, o.stdout,
    o.stderr, o.pidfd == false, setsid)
  if not child then return nil, pid, i end
  return setmetatable({ pid = pid, child = child, code = false, how = false,
    setsid = setsid,
    stdin = stream(i), stdout = stream(out), stderr = stream(err) }, Process)
end

-- (Not tail calls: argument errors blame the caller of spawn, two levels up.)
function M.spawn(argv, opts)
  local p, err, name = new(argv, opts, "spawn")
  return p, err, name
end

-- wait([timeout]) -> code, "exit" | signo, "signal" | nil, "timeout".
-- Parks only this greenthread; waiting again returns the same.
function Process:wait(timeout)
  argcheck.check_seconds(timeout, 1, "wait")
  if self.how then return self.code, self.how end
  local code, how, name = C.wait(self.child, timeout)
  if code == nil then return nil, how, name end
  self.code, self.how = code, how
  return code, how
end

-- poll() -> code, how, or nil while it runs (wait(0)).
function Process:poll()
  local code, how = self:wait(0)
  if code == nil then return nil end
  return code, how
end

-- kill([sig]) -> true | nil, err, errname.  sig: number or name, default
-- SIGTERM.  With p.setsid the whole process group gets it.  Once the child
-- is reaped: nil, "No such process", "ESRCH" (its pid may belong to
-- another process by then).
function Process:kill(sig)
  if sig == nil then sig = signals.TERM else sig = signum(sig, 1, "kill") end
  return C.kill(self.child, sig)
end

-- close(): close the pipes we hold (the child sees EOF on its stdin).
function Process:close()
  for _, k in pairs({ "stdin", "stdout", "stderr" }) do
    local s = self[k]
    if s then s:close() end
  end
end

function Process:__tostring()
  return ("Process %d (%s)"):format(self.pid, self.how
    and (self.how .. " " .. self.code) or "running")
end

M.Process = Process

-- kill(pid, sig) -> true | nil, err, errname: kill(2) for any pid (one
-- from a pidfile, this process's own).  For a child of spawn, p:kill is
-- safer: it never signals a pid that has been reaped and reused.
function M.kill(pid, sig)
  if type(pid) ~= "number" or pid % 1 ~= 0 then argerror(1, "kill", "pid expected") end
  return C.killpid(pid, signum(sig, 2, "kill"))
end

M.getpid = C.getpid	-- getpid() -> this process's pid

-- -- run -------------------------------------------------------------------

-- Everything s gives until EOF, or (deadline passed) what came before it:
-- data, or data, "timeout".
local function readall(s, deadline)
  if deadline then s:settimeout(max(0, deadline - now()), "t") end
  local data, err, partial = s:receive("*a")
  return data or partial or "", err
end

local function writeall(s, data, deadline)
  if deadline then s:settimeout(max(0, deadline - now()), "t") end
  s:send(data)		-- the child may exit without reading: fine
  s:close()
end

-- run(argv [, opts]) -> stdout, stderr, code, how | nil, err, errname |
-- nil, "timeout", partial.
-- Like spawn, with stdout and stderr piped and read concurrently (each
-- may be set to "inherit" etc. instead, then it is nil), opts.input
-- written to stdin then closed.  opts.timeout (seconds) bounds the whole
-- run: then the child (its whole process group with opts.setsid, the
-- default for opts.shell) is killed with SIGKILL and run returns nil,
-- "timeout", { stdout = ..., stderr = ... }: the output read so far (as
-- LuaSocket's receive returns its partial result; nil for a stream not
-- piped).
function M.run(argv, opts)
  opts = argcheck.check_options(opts, RUN, 2, "run")
  local input, timeout = opts.input, opts.timeout
  if input ~= nil and type(input) ~= "string" then argerror(2, "run", "opts.input: string expected") end
  argcheck.check_seconds(timeout, 2, "run", "opts.timeout")
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.input, o.timeout = nil, nil
  if input then o.stdin = "pipe" end
  if o.stdout == nil then o.stdout = "pipe" end
  if o.stderr == nil then o.stderr = "pipe" end
  local p, err, name = new(argv, o, "run")
  if not p then return nil, err, name end
  local deadline = timeout and now() + timeout
  local workers = {}
  local rout = p.stdout and spawn(readall, p.stdout, deadline)
  local rerr = p.stderr and spawn(readall, p.stderr, deadline)
  workers[#workers + 1] = rout or nil
  workers[#workers + 1] = rerr or nil
  if input then workers[#workers + 1] = spawn(writeall, p.stdin, input, deadline) end
  -- On a timeout, or an error (this greenthread killed): nothing may stay
  -- behind, neither the child (nor, with setsid, its children) nor a
  -- reader blocked on a pipe that something outside the group holds.
  local function cleanup()
    p:kill(signals.KILL)
    p:wait()
    for k = 1, #workers do workers[k]:kill() end
    p:close()
  end
  local ok, out, errout, code, how, ename = pcall(function()
    local o1, e1, o2, e2
    if rout then o1, e1 = rout:wait() end
    if rerr then o2, e2 = rerr:wait() end
    if e1 == "timeout" or e2 == "timeout" then return o1, o2, nil, "timeout" end
    local c, h, n = p:wait(deadline and max(0, deadline - now()))
    return o1, o2, c, h, n
  end)
  if not ok then
    cleanup()
    error(out, 0)
  end
  if code == nil and how == "timeout" then
    cleanup()
    return nil, "timeout", { stdout = out, stderr = errout }
  end
  p:close()
  if code == nil then return nil, how, ename end
  return out, errout, code, how
end

-- process(argv [, opts]) is spawn(argv, opts).
return setmetatable(M, { __call = function(_, argv, opts)
  local p, err, name = new(argv, opts, "process")
  return p, err, name
end })
