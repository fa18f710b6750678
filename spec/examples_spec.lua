-- The README's main job: examples/smoke_test.lua against examples/lab.lua,
-- served in the script's own process and by `hilt serve`, unchanged.
local exporter = require("spec.support.exporter")

local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

describe("the smoke test example", function()
  it("passes against the lab served in its own process", function()
    local r = exporter.cli({ "run", "--lab", "examples/lab.lua",
      "examples/smoke_test.lua" }, { timeout = 60 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches("\n9 passed, 0 failed\n$", r.stdout)
  end)

  it("passes unchanged against hilt serve", function()
    local exp = exporter.start(read("examples/lab.lua"))
    local r = exporter.cli({ "run", "--connect", exp.addr,
      "examples/smoke_test.lua" }, { timeout = 60 })
    local stopped = exp:stop()
    exp:remove()
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches("\n9 passed, 0 failed\n$", r.stdout)
    assert.are.equal(0, stopped.code, stopped.err)
    assert.matches("call dut%.power%.read ok", stopped.err)
  end)

  it("says how to give a lab when none is given", function()
    local r = exporter.cli({ "run", "examples/smoke_test.lua" },
      { env = { HILT_LAB = false, HILT_CONNECT = false } })
    assert.are.equal(1, r.code)
    assert.matches("hilt run %-%-lab lab%.lua script%.lua", r.stderr)
  end)
end)
