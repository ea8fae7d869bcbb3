-- lgreen inside real nginx (Debian's nginx + ngx_lua on OpenResty's LuaJIT,
-- unpacked by tools/nginx-debs.sh): the hub runs on nginx's event loop,
-- handlers wait for green threads without blocking the worker, green
-- threads never see a request, workers survive reload and stop.
-- nginx runs as a subprocess, whatever VM runs busted: once, in the
-- LGREEN_LUA=luajit run.
local lg = require "lgreen"
local H = require "helper"
local N = require "nginx_util"

local why
if H.lua ~= "luajit" then
  why = "nginx specs run once, in the LGREEN_LUA=luajit run (nginx is a subprocess)"
else
  local ok, err = N.available()
  if not ok then why = "nginx cannot be had here: " .. tostring(err) end
end

-- A handler's green threads: each sleeps on a timer, resolves "localhost"
-- and talks to the spec's echo server; results in spawn order.
local FAN = [[
    location /fan { content_by_lua_block {
      local lg, lgx = require "lgreen", require "lgreen.ngx"
      local resolve = require "lgreen.resolve"
      local port, id = tonumber(ngx.var.arg_port), ngx.var.arg_id
      local gts = {}
      for i = 1, 10 do
        gts[i] = lgx.spawn(function()
          lg.sleep(0.001 * (i % 3))
          assert(resolve.toip("localhost"))
          local c = assert(lg.connect("127.0.0.1", port, 5))
          assert(c:send(id .. "-" .. i .. "\n"))
          local line = assert(c:receive("*l"))
          c:close()
          return line
        end)
      end
      local out = {}
      for i = 1, 10 do
        local ok, v = lgx.wait(gts[i], 20)
        out[i] = ok and v or ("error: " .. tostring(v))
      end
      ngx.say(table.concat(out, ","))
    } }
    location /reqapi { content_by_lua_block {
      local lgx = require "lgreen.ngx"
      ngx.say(select(2, lgx.run(function() return ngx.var.uri end)))
      ngx.say(select(2, lgx.run(function() ngx.sleep(0.001) end)))
      ngx.say(select(2, lgx.run(function() ngx.say("leak") end)))
      ngx.say(select(2, lgx.run(function() return ngx.req.get_headers() end)))
    } }
    location /park { content_by_lua_block {
      local lg, lgx = require "lgreen", require "lgreen.ngx"
      _G.gate = lg.Event()
      local gt = lgx.spawn(function() return "released:" .. _G.gate:wait() end)
      ngx.say(select(2, lgx.wait(gt, 30)))
    } }
    location /release { content_by_lua_block {
      local lgx = require "lgreen.ngx"
      local ok = lgx.run(function() _G.gate:send(ngx and "x" or "y") end)
      ngx.say(tostring(ok))
    } }
    location /release_direct { content_by_lua_block {
      if not _G.gate then return ngx.say("no gate") end
      _G.gate:send("direct")
      ngx.say(tostring(require("lgreen.ngx").kick()))
    } }
    location /misuse { content_by_lua_block {
      local lgx = require "lgreen.ngx"
      ngx.say(select(2, pcall(lgx.attach)))
      ngx.say(select(2, pcall(lgx.wait, 42)))
      ngx.say(select(2, pcall(lgx.wait, lgx.spawn(function() end), -1)))
      ngx.say(select(2, pcall(require("lgreen.nginx").attach, 0, print)))
    } }
    location /dns { content_by_lua_block {
      local lgx = require "lgreen.ngx"
      local resolve = require "lgreen.resolve"
      local name, out = ngx.var.arg_name, {}
      for i = 1, 5 do	-- each lookup alone: nothing else wakes the worker
        local ok, ip = lgx.wait(lgx.spawn(resolve.toip, name), 10)
        out[i] = tostring(ok) .. " " .. tostring(ip)
      end
      ngx.say(table.concat(out, ","))
    } }
    location /leave { content_by_lua_block {
      local lg, lgx = require "lgreen", require "lgreen.ngx"
      local a = lgx.spawn(function() lg.Event():wait() end)
      local b = lgx.spawn(lg.sleep, 3600)
      ngx.say(select(2, lgx.wait(a, 0.01)), " ", select(2, lgx.wait(b, 0.01)))
    } }
    location /timeout { content_by_lua_block {
      local lg, lgx = require "lgreen", require "lgreen.ngx"
      local gt = lgx.spawn(function() lg.Event():wait() end)
      local a, b = lgx.wait(gt, 0.05), select(2, lgx.wait(gt, 0))
      local alive = not gt.dead
      lgx.kill(gt)
      local ok, err = lgx.wait(gt, 10)
      ngx.say(table.concat({ tostring(a), tostring(b), tostring(alive), tostring(ok), tostring(err) }, " "))
    } }
    location /master { content_by_lua_block {
      ngx.say(tostring(_G.master_resolved), " ", tostring(_G.master_slept))
    } }
]]

-- lgreen used in the master before the workers fork: a hub, a timer and
-- the resolver's thread pool all exist there.
local INIT = [[
  local lg = require "lgreen"
  local gt = lg.spawn(function() lg.sleep(0.001); return require("lgreen.resolve").toip("localhost") end)
  _G.master_resolved = gt:wait()
  _G.master_slept = true
]]

local function echo_server()
  local srv = assert(lg.listen("127.0.0.1", 0, 256))
  local _, port = srv:getsockname()
  local server = lg.spawn(lg.serve, srv, function(c)
    while true do
      local line = c:receive("*l")
      if not line then break end
      c:send("echo:" .. line .. "\n")
    end
  end)
  return port, function() srv:close(); server:kill() end
end

local function expected(id)
  local t = {}
  for i = 1, 10 do t[i] = ("echo:%s-%d"):format(id, i) end
  return table.concat(t, ",") .. "\n"
end

describe("lgreen in nginx", function()
  if why then
    pending(why, function() end)
    return
  end
  local inst, eport, estop

  setup(function()
    eport, estop = echo_server()
    inst = N.start { port = N.port(), workers = 2, init = INIT, server = FAN }
  end)

  teardown(function()
    if inst then N.stop(inst, "QUIT") end
    if estop then estop() end
  end)

  it("serves concurrent requests whose green threads do timers, DNS and sockets", function()
    local gts = {}
    for r = 1, 24 do
      gts[r] = lg.spawn(N.get, inst.port, ("/fan?port=%d&id=r%d"):format(eport, r))
    end
    for r = 1, 24 do
      local status, body = gts[r]:wait()
      assert.equal(200, status)
      assert.equal(expected("r" .. r), body)
    end
    assert.same({}, N.crashes(inst))
  end)

  it("lgreen used in init_by_lua (the master) works in the forked workers", function()
    local status, body = N.get(inst.port, "/master")
    assert.equal(200, status)
    assert.equal("127.0.0.1 true\n", body)
    local _, fan = N.get(inst.port, ("/fan?port=%d&id=m"):format(eport))
    assert.equal(expected("m"), fan)
  end)

  it("a lookup alone on an idle worker completes (libev's async wake-up is collected)", function()
    -- spec/c/slow_gai.c: "50ms.slow.test" answers 127.0.0.1 after 50 ms,
    -- so it always ends after the hub's step returned to nginx
    local so = os.tmpname()
    assert.equal(0, (N.sh(("cc -shared -fPIC -o %s spec/c/slow_gai.c -ldl"):format(so))))
    local one = N.start({ port = N.port(), workers = 1, server = FAN }, nil, nil, "LD_PRELOAD=" .. so)
    finally(function() N.stop(one, "QUIT"); os.remove(so) end)
    local status, body = N.get(one.port, "/dns?name=50ms.slow.test")
    assert.equal(200, status)
    assert.equal(("true 127.0.0.1,"):rep(4) .. "true 127.0.0.1\n", body)
    status, body = N.get(one.port, "/dns?name=localhost")
    assert.equal(("true 127.0.0.1,"):rep(4) .. "true 127.0.0.1\n", body)
  end)

  it("request APIs in a green thread raise 'no request found', never crash", function()
    local status, body = N.get(inst.port, "/reqapi")
    assert.equal(200, status)
    local lines = {}
    for l in body:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(4, #lines)
    for i = 1, 4 do assert.matches("no request", lines[i], 1, true) end
    assert.not_matches("leak", body, 1, true)
    assert.same({}, N.crashes(inst))
  end)

  it("a handler waiting for a green thread does not block its worker", function()
    -- one worker: /release can only be served while /park waits
    local one = N.start { port = N.port(), workers = 1, server = FAN }
    finally(function() N.stop(one, "QUIT") end)
    local park = lg.spawn(N.get, one.port, "/park")
    local served
    for _ = 1, 100 do	-- /park may not have created the gate yet
      local _, body = N.get(one.port, "/release")
      if body == "true\n" then served = true; break end
      lg.sleep(0.01)
    end
    assert.is_true(served)
    local status, body = park:wait()
    assert.equal(200, status)
    assert.equal("released:x\n", body)
  end)

  it("a handler wakes a green thread itself: event:send, then kick()", function()
    local one = N.start { port = N.port(), workers = 1, server = FAN }
    finally(function() N.stop(one, "QUIT") end)
    local park = lg.spawn(N.get, one.port, "/park")
    local served
    for _ = 1, 100 do
      local _, body = N.get(one.port, "/release_direct")
      if body == "true\n" then served = true; break end
      lg.sleep(0.01)
    end
    assert.is_true(served)
    local status, body = park:wait()
    assert.same({ 200, "released:direct\n" }, { status, body })
    assert.same({}, N.crashes(one))
  end)

  it("misuse raises errors that name the call and the argument", function()
    local status, body = N.get(inst.port, "/misuse")
    assert.equal(200, status)
    local lines = {}
    for l in body:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.matches("lgreen.ngx.attach: call it from init_worker_by_lua*, not from the 'content' phase", lines[1], 1, true)
    assert.matches("bad argument #1 to 'wait' (GreenThread expected, got number)", lines[2], 1, true)
    assert.matches("bad argument #2 to 'wait' (non-negative number expected, got -1)", lines[3], 1, true)
    assert.matches("lgreen.nginx.attach: call it from init_worker_by_lua*", lines[4], 1, true)
  end)

  it("wait gives nil, 'timeout' and leaves the green thread running; kill ends it", function()
    local status, body = N.get(inst.port, "/timeout")
    assert.equal(200, status)
    assert.equal("nil timeout true false GreenletExit\n", body)
  end)

  it("workers survive a reload (HUP) and the old ones exit cleanly", function()
    local before = N.workers(inst)
    assert.equal(2, #before)
    N.sh("kill -HUP " .. inst.master)
    local changed = H.await(function()
      local now = N.workers(inst)
      if #now ~= 2 then return false end
      for _, p in ipairs(now) do
        for _, q in ipairs(before) do if p == q then return false end end
      end
      return true
    end, 30)
    assert.is_true(changed)
    for r = 1, 6 do
      local _, body = N.get(inst.port, ("/fan?port=%d&id=h%d"):format(eport, r))
      assert.equal(expected("h" .. r), body)
    end
    assert.same({}, N.crashes(inst))
    for _, pid in ipairs(before) do
      assert.matches("worker process " .. pid .. " exited with code 0", N.errlog(inst), 1, true)
    end
  end)

  it("runs examples/nginx.conf as the README shows", function()
    local port = N.port()
    local conf = H.read("examples/nginx.conf")
      :gsub("listen 127%.0%.0%.1:8089", "listen 127.0.0.1:" .. port)
      :gsub("build/nginx%-example", "$DIR")
      :gsub("%$prefix/build/nginx%-debs/root", N.debs)
      :gsub("load_module build/nginx%-debs/root", "load_module " .. N.debs)
      :gsub("%$prefix/build/", N.build .. "/")
    local x = N.start(conf, port, N.pwd)
    finally(function() N.stop(x, "QUIT") end)
    local status, body = N.get(port, "/fanout?n=10")
    assert.same({ 200, "10 green threads, sum 55\n" }, { status, body })
    status, body = N.get(port, "/fetch")
    assert.same({ 200, "1: hello\n2: hello\n3: hello\n4: hello\n5: hello\n" }, { status, body })
    assert.same({}, N.crashes(x))
  end)

  it("-s stop (TERM) and -s quit end workers with parked green threads without a crash", function()
    local started = {}
    finally(function() for _, x in ipairs(started) do N.stop(x, "TERM") end end)
    for _, sig in ipairs { "TERM", "QUIT" } do
      local x = N.start { port = N.port(), workers = 2, server = FAN }
      started[#started + 1] = x
      -- a green thread left parked on an Event, and one on a long timer
      local _, body = N.get(x.port, "/leave")
      assert.equal("timeout timeout\n", body)
      local _, fan, raw = N.get(x.port, ("/fan?port=%d&id=%s"):format(eport, sig))
      assert.equal(expected(sig), fan, raw .. "\n" .. N.errlog(x))
      local workers = N.workers(x)
      assert.is_true(N.stop(x, sig))
      assert.same({}, N.crashes(x))
      for _, pid in ipairs(workers) do
        assert.matches("worker process " .. pid .. " exited with code 0", N.errlog(x), 1, true)
      end
    end
  end)
end)
