-- The rules examples, run as a user runs them: `hilt run --lab` against
-- the simulated lab and the embedded bus, for a few seconds each.
local exporter = require("spec.support.exporter")

describe("the rules examples", function()
  it("cut the oven's heater above its limit and ring the alarm", function()
    local r = exporter.cli({ "run", "--lab", "examples/lab.lua",
      "examples/rules/oven.lua", "1" }, { timeout = 30 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches("^20 +heater on\n", r.stdout)
    assert.matches("ALARM oven at %d+, limit 250: heater cut\n%d+ +heater off\n",
      r.stdout)
    -- Cooled below 210: back on.
    assert.matches("1%d%d +heater on\n", r.stdout)
    assert.matches("rules closed\n$", r.stdout)
  end)

  it("power-cycle the board once its console stays silent", function()
    local r = exporter.cli({ "run", "--lab", "examples/lab.lua",
      "examples/rules/watchdog.lua", "5" }, { timeout = 30 })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    local lines = {}
    for what in r.stdout:gmatch("s  ([^\n]+)\n") do
      lines[#lines + 1] = what
    end
    assert.are.same({ "making the shell hang", "console silent", "power cycle",
      "console answers", "board alive again", "rules closed" }, lines)
  end)
end)
