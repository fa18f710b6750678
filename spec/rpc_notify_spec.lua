-- hilt.rpc notifications: those in a row run in one task, in the order
-- they came; a handler that waits or fails hands the rest on instead of
-- holding them back; calls keep their place among them.
local hilt = require("hilt")
local rpc = require("hilt.rpc")
local wait = require("spec.support.wait")

describe("rpc notifications", function()
  it("run in the order they were sent", function()
    local seen = {}
    local a, b = rpc.pair(nil, { note = function(i) seen[#seen + 1] = i end,
      count = function() return #seen end })
    for i = 1, 500 do
      a:notify("note", i)
    end
    -- The call comes after the notifications, so it runs after them too.
    assert.are.equal(500, a:call("count"))
    for i = 1, 500 do
      assert.are.equal(i, seen[i])
    end
    a:close()
    b:close()
  end)

  it("go on past a handler that waits", function()
    local gate = hilt.queue()
    local seen = {}
    local a, b = rpc.pair(nil, {
      wait = function()
        seen[#seen + 1] = "waiting"
        local v = gate:get()
        seen[#seen + 1] = v
      end,
      open = function(v) seen[#seen + 1] = "open"; gate:put(v) end,
      note = function(i) seen[#seen + 1] = i end,
      log = function() return seen end,
    })
    -- "wait" would wait forever if "open", sent after it, waited behind it.
    a:notify("wait")
    a:notify("note", 1)
    a:notify("open", "opened")
    a:notify("note", 2)
    local log
    assert.is_true(wait.poll(5, function()
      log = a:call("log")
      return #log == 5
    end))
    -- "open" wakes "wait", which goes on once the rest of the row ran.
    assert.are.same({ "waiting", 1, "open", 2, "opened" }, log)
    a:close()
    b:close()
  end)

  it("go on past a handler that fails", function()
    local seen = {}
    local a, b = rpc.pair(nil, {
      note = function(i) seen[#seen + 1] = i end,
      fail = function() error("broken") end,
      count = function() return #seen end,
    })
    a:notify("note", 1)
    a:notify("fail")
    a:notify("nowhere")
    a:notify("note", 2)
    assert.are.equal(2, a:call("count"))
    assert.are.same({ 1, 2 }, seen)
    a:close()
    b:close()
  end)
end)
