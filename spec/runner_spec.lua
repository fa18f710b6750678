-- `hilt test` itself: busted inside the runtime, leak checks, bad specs.
local proc = require("spec.support.proc")

describe("hilt test", function()
  it("fails a spec that leaves a task or timer behind, naming them", function()
    local r = proc.run({ "test", "-o", "utfTerminal", "spec/fixtures/runner/leaky.lua" })
    assert.are.equal(1, r.code)
    assert.matches("2 successes / 0 failures / 1 error", r.out)
    assert.matches("spec leaked: task %d+ %(waiting on hilt.sleep, spawned at spec/fixtures/runner/leaky.lua:8%); timer %(active%)", r.out)
  end)

  it("reports a spec file that raises while loading, and goes on", function()
    local r = proc.run({ "test", "-o", "utfTerminal", "spec/fixtures/runner/crash.lua",
      "spec/fixtures/runner/leaky.lua" })
    assert.are.equal(1, r.code)
    assert.matches("this spec file is broken", r.out)
    assert.matches("2 successes", r.out)
  end)

  it("passes busted's options through", function()
    local r = proc.run({ "test", "--list", "spec/fixtures/runner/leaky.lua" })
    assert.matches("fixture is clean", r.out)
    assert.are.equal(0, r.code)
  end)

  it("exits 0 when every spec passes", function()
    local r = proc.run({ "test", "--filter=clean", "spec/fixtures/runner/leaky.lua" })
    assert.are.equal(0, r.code)
  end)
end)
