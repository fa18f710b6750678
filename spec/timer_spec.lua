local hilt = require("hilt")
local proc = require("spec.support.proc")

describe("time", function()
  it("now is monotonic seconds with sub-millisecond resolution", function()
    local a = hilt.now()
    local b = hilt.now()
    assert.is_true(b >= a)
    assert.are.equal("float", math.type(a))
    -- Wall-clock seconds: between os.time() read before and after, which
    -- holds even when this shared machine stalls or steps its clock
    -- between the two reads.
    local before = os.time()
    local t = hilt.time()
    local after = os.time()
    assert.is_true(t >= before - 1 and t <= after + 1,
      ("hilt.time() %.3f outside [%d, %d]"):format(t, before, after))
  end)

  it("sleep waits at least the time asked", function()
    for _, s in ipairs({ 0.001, 0.005, 0.02 }) do
      local t0 = hilt.now()
      hilt.sleep(s)
      assert.is_true(hilt.now() - t0 >= s, "slept less than " .. s)
    end
  end)

  it("sleep(0) lets other ready tasks run", function()
    local ran = false
    local t = hilt.spawn(function() ran = true end)
    hilt.sleep(0)
    assert.is_true(ran)
    t:join()
  end)

  it("sleeps of many tasks end in deadline order", function()
    local order = {}
    local tasks = {}
    for _, d in ipairs({ 30, 10, 20 }) do
      tasks[#tasks + 1] = hilt.spawn(function() hilt.sleep(d / 1000) order[#order + 1] = d end)
    end
    hilt.wait_all(tasks)
    assert.are.same({ 10, 20, 30 }, order)
  end)

  it("rejects bad durations", function()
    assert.has_error(function() hilt.sleep(-1) end,
      "bad argument #1 to 'sleep' (seconds must be a number >= 0)")
    assert.has_error(function() hilt.sleep(0 / 0) end,
      "bad argument #1 to 'sleep' (seconds must be a number >= 0)")
    assert.has_error(function() hilt.sleep("soon") end,
      "bad argument #1 to 'sleep' (number expected, got string)")
  end)
end)

describe("timers", function()
  it("after runs its function once, as a task that may block", function()
    local q = hilt.queue()
    local tm = hilt.after(0.01, function() hilt.sleep(0.001) q:put("fired") end)
    assert.is_true(tm:active())
    assert.are.equal("fired", q:get())
    hilt.sleep(0.02)
    assert.are.equal(0, q:len())
    assert.is_false(tm:active())
  end)

  it("every repeats until stopped", function()
    local n = 0
    local tm = hilt.every(0.005, function() n = n + 1 end)
    hilt.sleep(0.05)
    tm:stop()
    hilt.sleep(0) -- a run spawned just before stop still happens
    local seen = n
    assert.is_true(seen >= 3, "fired " .. seen .. " times")
    hilt.sleep(0.02)
    assert.are.equal(seen, n)
    tm:stop()
  end)

  it("a stopped timer never fires", function()
    local fired = false
    local tm = hilt.after(0.01, function() fired = true end)
    tm:stop()
    hilt.sleep(0.02)
    assert.is_false(fired)
  end)

  it("an error in a timer's function is logged and the timer goes on", function()
    local r = proc.script([[
      local hilt = require("hilt")
      local n = 0
      local tm = hilt.every(0.005, function() n = n + 1 error("tick " .. n) end)
      -- However slow the machine: wait for two runs, within 5 s.
      local deadline = hilt.now() + 5
      while n < 2 and hilt.now() < deadline do hilt.sleep(0.005) end
      tm:stop()
      print(n >= 2)
    ]])
    assert.are.equal("true\n", r.out)
    assert.matches("failed: .-tick 1", r.err)
    assert.matches("failed: .-tick 2", r.err)
    assert.are.equal(0, r.code)
  end)

  it("a running timer keeps the process alive", function()
    local r = proc.script([[
      local hilt = require("hilt")
      local n = 0
      local tm
      tm = hilt.every(0.01, function() n = n + 1 if n == 3 then print("three") tm:stop() end end)
    ]])
    assert.are.same({ "three\n", 0 }, { r.out, r.code })
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() hilt.after(1, nil) end)
    assert.has_error(function() hilt.every(0, print) end,
      "bad argument #3 to 'timer' (interval must be > 0)")
    assert.has_error(function() hilt.after(math.huge, print) end)
  end)
end)
