-- lgreen.hub: the hub's blocking primitives, for modules that need them
-- without the lgreen façade (which re-exports them).
--   sleep([seconds])	0 or none: yield to every ready greenthread
--   now()		the hub's clock, in seconds
--   run()		from main: until nothing is ready or waited for
--   step()		from main: run what is ready, never block
--   wait_read(fd [, timeout]), wait_write(fd [, timeout]): park this
--     greenthread until fd is readable (writable); true, or nil, "timeout"
--     (or "closed": fd was closed while we waited).  Any non-blocking fd
--     works: a LuaSocket socket's getfd(), a pipe...
--   backend_fd()	the fd a foreign poller watches for readability (the
--     hub's epoll fd), or nil (a host's libev loop, or not epoll)
--   next_timeout()	seconds until step() is due at the latest, or nil
--     (no timer); deadlines are tracked from the first call of either on
local H = require("lgreen.core").hub

return {
  sleep = H.sleep,
  now = H.now,
  run = H.run,
  step = H.step,
  wait_read = H.wait_read,
  wait_write = H.wait_write,
  backend_fd = H.backend_fd,
  next_timeout = H.next_timeout,
}
