-- process.run gathers stdout and stderr in time and memory linear in their
-- size (it read through receive("*a"), which joined strings quadratically).
local lg = require "lgreen"
local H = require "helper"

local MB = 1024 * 1024
local N = 8 * MB

describe("process.run of large output", function()
  it("allocates O(size) for 8 MiB on stdout and 8 MiB on stderr", function()
    local cmd = ("head -c %d /dev/zero; head -c %d /dev/zero | tr '\\0' e >&2"):format(N, N)
    local bytes, r = H.allocated(function()
      return lg.process.run(cmd, { shell = true })
    end)
    assert.equal(N, #r[1])
    assert.equal(N, #r[2])
    assert.is_nil(r[2]:find("[^e]"))
    assert.equal(0, r[3])
    assert.equal("exit", r[4])
    -- per stream: doubling buffers under 4N and the result N; quadratic
    -- joining cost some 30 N
    assert.is_true(bytes < 2 * 6 * N, ("%d bytes allocated for 2 x %d"):format(bytes, N))
  end)

  it("gives \"\" for a stream with no output", function()
    local out, err, code = lg.process.run({ "true" })
    assert.equal("", out)
    assert.equal("", err)
    assert.equal(0, code)
  end)
end)
