local hilt = require("hilt")

describe("queue", function()
  it("hands items over in FIFO order", function()
    local q = hilt.queue(10)
    for i = 1, 5 do q:put(i) end
    assert.are.equal(5, q:len())
    assert.are.equal(5, #q)
    local got = {}
    for i = 1, 5 do got[i] = q:get() end
    assert.are.same({ 1, 2, 3, 4, 5 }, got)
    assert.is_true(q:empty())
  end)

  it("get waits for a put", function()
    local q = hilt.queue(1)
    local t = hilt.spawn(function() return q:get() end)
    hilt.sleep(0.01)
    assert.are.equal("waiting", t:status())
    q:put("x")
    assert.are.equal("x", t:join())
  end)

  it("put waits while the queue is full", function()
    local q = hilt.queue(2)
    q:put(1)
    q:put(2)
    assert.is_true(q:full())
    local t = hilt.spawn(function() q:put(3) return "put" end)
    hilt.sleep(0.01)
    assert.are.equal("waiting", t:status())
    assert.are.equal(1, q:get())
    assert.are.equal("put", t:join())
    assert.are.same({ 2, 3 }, { q:get(), q:get() })
  end)

  it("try_put and try_get never wait", function()
    local q = hilt.queue(1)
    assert.is_true(q:try_put("a"))
    assert.is_false(q:try_put("b"))
    assert.are.equal("a", q:try_get())
    assert.is_nil(q:try_get())
  end)

  it("passes every item from many producers to many consumers exactly once", function()
    local q = hilt.queue(3)
    local producers, consumers, seen = {}, {}, {}
    for p = 1, 4 do
      producers[p] = hilt.spawn(function()
        for i = 1, 50 do q:put(p * 1000 + i) if i % 7 == 0 then hilt.yield() end end
      end)
    end
    for c = 1, 3 do
      consumers[c] = hilt.spawn(function()
        for v in q:iter() do seen[#seen + 1] = v end
      end)
    end
    hilt.wait_all(producers)
    q:close()
    hilt.wait_all(consumers)
    table.sort(seen)
    assert.are.equal(200, #seen)
    for i = 2, #seen do assert.is_true(seen[i] > seen[i - 1]) end
  end)

  it("a cancelled getter loses no item", function()
    local q = hilt.queue(1)
    local a = hilt.spawn(function() return q:get() end)
    local b = hilt.spawn(function() return q:get() end)
    hilt.sleep(0)
    a:cancel()
    q:put("only")
    assert.has_error(function() a:join() end)
    assert.are.equal("only", b:join())
  end)

  it("a getter woken just before being cancelled keeps its item", function()
    local q = hilt.queue(1)
    local t = hilt.spawn(function()
      local v = q:get()
      local ok = pcall(hilt.sleep, 1)
      return v, ok
    end)
    hilt.sleep(0)
    q:put("mine")
    t:cancel()
    local v, ok = t:join()
    assert.are.equal("mine", v)
    assert.is_false(ok)
  end)

  it("a get with a timeout gives up cleanly", function()
    local q = hilt.queue(1)
    local ok, err = pcall(hilt.timeout, 0.01, q.get, q)
    assert.is_false(ok)
    assert.are.equal("timeout", err.code)
    q:put(1)
    assert.are.equal(1, q:get())
  end)

  it("close wakes getters with nil and refuses puts", function()
    local q = hilt.queue(2)
    q:put("last")
    local t = hilt.spawn(function() return q:get(), q:get() end)
    hilt.sleep(0)
    q:close()
    assert.are.same({ "last", nil }, { t:join() })
    assert.has_error(function() q:put(1) end, "queue:put: the queue is closed")
    assert.is_false(q:try_put(1))
    assert.matches("closed", tostring(q))
  end)

  it("rejects bad sizes and nil items", function()
    assert.has_error(function() hilt.queue(0) end,
      "bad argument #1 to 'queue' (size must be an integer >= 1)")
    assert.has_error(function() hilt.queue(1.5) end)
    assert.has_error(function() hilt.queue(1):put(nil) end,
      "bad argument #1 to 'put' (cannot put nil in a queue)")
  end)
end)
