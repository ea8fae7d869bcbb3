-- A stuck program: the workers of a pool wait for jobs on a Queue that
-- nobody fills.  `LGREEN_DUMP_SIGNAL=USR1 luajit prog.lua` and then
-- `kill -USR1 <pid>` prints the same dump to stderr without a change.
local lg = require "lgreen"
local dbg = require "lgreen.debug"

local jobs = lg.Queue()                 -- nobody ever puts a job here
local pool = lg.GreenPool(4)

local function worker(n)
  local job = jobs:get()                -- stuck: waits for a job forever
  print("worker", n, "did", job)
end

lg.spawn(function()
  for n = 1, 6 do pool:spawn(worker, n) end   -- the 5th waits for a slot
end)

lg.sleep(0.5)                           -- the program seems to hang...
dbg.dump(io.stdout)                     -- ...so ask what everyone waits on
