local hilt = require("hilt")
local proc = require("spec.support.proc")

describe("tasks", function()
  it("spawn runs the function with its arguments and join returns its values", function()
    local t = hilt.spawn(function(a, b) return a + b, "x", nil end, 2, 3)
    assert.are.equal("ready", t:status())
    local a, b, c = t:join()
    assert.are.same({ 5, "x", nil }, { a, b, c })
    assert.are.equal(3, select("#", t:join()))
    assert.are.equal("done", t:status())
    assert.is_true(t:done())
  end)

  it("does not run a spawned task before the spawner waits", function()
    local ran = false
    local t = hilt.spawn(function() ran = true end)
    assert.is_false(ran)
    t:join()
    assert.is_true(ran)
  end)

  it("join re-raises the task's error with the task's traceback", function()
    local t = hilt.spawn(function()
      local function inner() error("boom") end
      inner()
    end)
    local ok, err = pcall(t.join, t)
    assert.is_false(ok)
    assert.is_true(hilt.is_error(err, "failed"))
    assert.matches("task_spec.lua:%d+: boom", err.message)
    assert.matches("in local 'inner'", err.traceback)
    assert.matches("boom", tostring(err))
    assert.are.equal("failed", t:status())
    assert.are.equal(err, t:error())
  end)

  it("keeps a non-string error value in err.value", function()
    local t = hilt.spawn(function() error({ reason = 42 }) end)
    local ok, err = pcall(t.join, t)
    assert.is_false(ok)
    assert.are.equal(42, err.value.reason)
  end)

  it("yield takes turns in spawn order", function()
    local order = {}
    local function worker(name)
      for i = 1, 3 do
        order[#order + 1] = name .. i
        hilt.yield()
      end
    end
    hilt.wait_all({ hilt.spawn(worker, "a"), hilt.spawn(worker, "b") })
    assert.are.same({ "a1", "b1", "a2", "b2", "a3", "b3" }, order)
  end)

  it("cancel ends a waiting task with a cancelled error", function()
    local t = hilt.spawn(function() hilt.sleep(10) end)
    hilt.sleep(0)
    assert.are.equal("waiting", t:status())
    t:cancel()
    local ok, err = pcall(t.join, t)
    assert.is_false(ok)
    assert.are.equal("cancelled", err.code)
    assert.are.equal("cancelled", t:status())
  end)

  it("cancel before the task starts means it never runs", function()
    local ran = false
    local t = hilt.spawn(function() ran = true end)
    t:cancel()
    assert.has_error(function() t:join() end)
    assert.is_false(ran)
  end)

  it("a cancelled task can clean up, and its <close> variables are closed", function()
    local log = {}
    local t = hilt.spawn(function()
      local res <close> = setmetatable({}, { __close = function() log[#log + 1] = "closed" end })
      local ok, err = pcall(hilt.sleep, 10)
      log[#log + 1] = err.code
      hilt.sleep(10)
    end)
    hilt.sleep(0)
    t:cancel()
    hilt.sleep(0.01)
    assert.are.same({ "cancelled" }, log)
    t:cancel()
    pcall(t.join, t)
    assert.are.same({ "cancelled", "closed" }, log)
  end)

  it("cancel after the end does nothing", function()
    local t = hilt.spawn(function() return 1 end)
    t:join()
    t:cancel()
    assert.are.equal(1, t:join())
  end)

  it("a <close> task is cancelled when its scope ends", function()
    local t
    do
      local scoped <close> = hilt.spawn(function() hilt.sleep(10) end)
      t = scoped
      hilt.sleep(0)
    end
    assert.has_error(function() t:join() end)
    assert.are.equal("cancelled", t:status())
  end)

  it("a task cannot join itself", function()
    local t
    t = hilt.spawn(function() return pcall(function() t:join() end) end)
    local ok, err = t:join()
    assert.is_false(ok)
    assert.matches("cannot join itself", err)
  end)

  it("several tasks can join one task", function()
    local t = hilt.spawn(function() hilt.sleep(0.01) return "v" end)
    local a = hilt.spawn(function() return t:join() end)
    local b = hilt.spawn(function() return t:join() end)
    assert.are.same({ "v", "v" }, { a:join(), b:join() })
  end)

  it("a cancelled joiner is not woken later by the joined task", function()
    local slow = hilt.spawn(function() hilt.sleep(0.02) return 1 end)
    local joiner = hilt.spawn(function()
      pcall(slow.join, slow)
      local t0 = hilt.now()
      hilt.sleep(0.05)
      return hilt.now() - t0
    end)
    hilt.sleep(0)
    joiner:cancel()
    assert.is_true(joiner:join() >= 0.05)
    slow:join()
  end)

  it("wait_all returns every task's values and raises the first failure", function()
    local r = hilt.wait_all({
      hilt.spawn(function() hilt.sleep(0.01) return 1 end),
      hilt.spawn(function() return 2, 3 end),
    })
    assert.are.same({ { n = 1, 1 }, { n = 2, 2, 3 } }, r)
    local finished = false
    local ok, err = pcall(hilt.wait_all, {
      hilt.spawn(function() error("first") end),
      hilt.spawn(function() hilt.sleep(0.01) finished = true end),
    })
    assert.is_false(ok)
    assert.matches("first", err.message)
    assert.is_true(finished)
  end)

  it("wait_first returns the first task to end and its index", function()
    local slow = hilt.spawn(function() hilt.sleep(1) end)
    local fast = hilt.spawn(function() hilt.sleep(0.01) return "fast" end)
    local t, i = hilt.wait_first({ slow, fast })
    assert.are.equal(fast, t)
    assert.are.equal(2, i)
    assert.are.equal("fast", t:join())
    slow:cancel()
    pcall(slow.join, slow)
    assert.has_error(function() hilt.wait_first({}) end)
    assert.has_error(function() hilt.wait_first({ 1 }) end, "hilt.wait_first: item 1 is a number, not a task")
  end)

  it("a blocking call from a context that cannot yield names the call", function()
    local ok, err = pcall(table.sort, { 3, 1, 2 }, function(a, b)
      hilt.sleep(0.001)
      return a < b
    end)
    assert.is_false(ok)
    assert.matches("hilt.sleep: cannot block here", err)
  end)

  it("a blocking call inside a plain coroutine says to use spawn", function()
    local co = coroutine.wrap(function() hilt.sleep(0.001) end)
    local ok, err = pcall(co)
    assert.is_false(ok)
    assert.matches("hilt.sleep: cannot block inside a plain coroutine", err)
  end)

  it("coroutine.yield in a task body gives other tasks a turn", function()
    local order = {}
    local a = hilt.spawn(function() order[#order + 1] = "a1" coroutine.yield() order[#order + 1] = "a2" end)
    local b = hilt.spawn(function() order[#order + 1] = "b" end)
    hilt.wait_all({ a, b })
    assert.are.same({ "a1", "b", "a2" }, order)
  end)

  it("spawning and joining 100k tasks returns memory to its baseline", function()
    collectgarbage()
    collectgarbage()
    local before = collectgarbage("count")
    local batch = {}
    for i = 1, 100000 do
      batch[i] = hilt.spawn(function(x) return x end, i)
    end
    for i = 1, 100000 do
      assert(batch[i]:join() == i)
    end
    batch = nil
    collectgarbage()
    collectgarbage()
    local after = collectgarbage("count")
    assert.is_true(after - before < 64, ("grew by %.0f KiB"):format(after - before))
  end)

  it("rejects bad arguments with clear errors", function()
    assert.has_error(function() hilt.spawn(42) end,
      "bad argument #1 to 'spawn' (function expected, got number)")
    assert.has_error(function() hilt.Task.join(42) end)
  end)
end)

describe("timeout", function()
  it("ends the pending operation with a timeout error", function()
    local t0 = hilt.now()
    local ok, err = pcall(hilt.timeout, 0.02, hilt.sleep, 10)
    assert.is_false(ok)
    assert.are.equal("timeout", err.code)
    assert.are.equal("timed out after 0.02 s", err.message)
    assert.is_true(hilt.now() - t0 < 1)
  end)

  it("returns fn's values when it finishes in time", function()
    assert.are.same({ 1, 2 }, { hilt.timeout(1, function() hilt.sleep(0.001) return 1, 2 end) })
  end)

  it("does not fire after it returned", function()
    hilt.timeout(0.01, function() end)
    hilt.sleep(0.03)
  end)

  it("passes fn's own errors through", function()
    assert.has_error(function() hilt.timeout(1, error, "mine", 0) end, "mine")
  end)

  it("nests: the inner deadline fires first", function()
    local ok, err = pcall(hilt.timeout, 1, function()
      return hilt.timeout(0.01, hilt.sleep, 5)
    end)
    assert.is_false(ok)
    assert.are.equal("timed out after 0.01 s", err.message)
  end)

  it("nests: the outer deadline fires through the inner one", function()
    local ok, err = pcall(hilt.timeout, 0.01, function()
      return hilt.timeout(5, hilt.sleep, 5)
    end)
    assert.is_false(ok)
    assert.are.equal("timed out after 0.01 s", err.message)
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() hilt.timeout(-1, print) end,
      "bad argument #1 to 'timeout' (seconds must be a number >= 0)")
    assert.has_error(function() hilt.timeout(1, 5) end,
      "bad argument #2 to 'timeout' (function expected, got number)")
  end)
end)

describe("the process", function()
  it("exits when the main task is done and nothing keeps the loop alive", function()
    local r = proc.script([[
      local hilt = require("hilt")
      hilt.spawn(function() hilt.sleep(0.05) print("late task") end)
      print("main done")
    ]])
    assert.are.equal("main done\nlate task\n", r.out)
    assert.are.equal(0, r.code)
  end)

  it("logs an error in an unjoined task with its traceback and goes on", function()
    local r = proc.script([[
      local hilt = require("hilt")
      hilt.spawn(function() error("lost task failed") end)
      hilt.sleep(0.01)
      print("still running")
    ]])
    assert.are.equal("still running\n", r.out)
    assert.matches("ERROR task: task %d+ %(spawned at .-:2%) failed: .-:2: lost task failed", r.err)
    assert.matches("stack traceback:", r.err)
    assert.are.equal(0, r.code)
  end)

  it("hilt.exit sets the exit status at once", function()
    local r = proc.script([[
      local hilt = require("hilt")
      hilt.every(0.01, function() end)
      hilt.spawn(function() hilt.exit(3) end)
      hilt.sleep(5)
    ]])
    assert.are.equal(3, r.code)
    assert.are.equal("", r.err)
  end)

  it("os.exit goes through the same path", function()
    local r = proc.script([[io.write("a") os.exit(4)]])
    assert.are.same({ "a", 4 }, { r.out, r.code })
  end)

  it("names the wait when the main task can never be woken", function()
    local r = proc.script([[require("hilt").queue(1):get()]])
    assert.are.equal(1, r.code)
    assert.matches("the main task waits on queue:get, but nothing is left", r.err)
  end)

  it("SIGINT cancels the main task (exit 130) and it may clean up", function()
    local r = proc.run({ "-e", [[
      local hilt = require("hilt")
      -- system() ignores SIGINT while it waits, so the kill runs detached.
      os.execute("(sleep 0.05; kill -INT " .. io.open("/proc/self/stat"):read("n") .. ") &")
      local ok, err = pcall(hilt.sleep, 5)
      print(err.code, err.message)
      error(err)
    ]] })
    assert.are.equal(130, r.code)
    assert.matches("^cancelled\tinterrupted\n", r.out)
  end)

  it("a second SIGINT exits at once", function()
    local r = proc.run({ "-e", [[
      local hilt = require("hilt")
      local pid = io.open("/proc/self/stat"):read("n")
      os.execute(("(sleep 0.05; kill -INT %d; sleep 0.1; kill -INT %d) &"):format(pid, pid))
      pcall(hilt.sleep, 5)
      print("caught the first")
      hilt.sleep(5)
      print("never")
    ]] })
    assert.are.equal(130, r.code)
    assert.are.equal("caught the first\n", r.out)
    assert.matches("hilt: interrupted", r.err)
  end)
end)
