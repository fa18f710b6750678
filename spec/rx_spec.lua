-- hilt.rx's graph: Values, Events, fn, transactions (diamonds, order,
-- follow-ons, loops), collection, and the helpers without a clock.
local hilt = require("hilt")
local rx = require("hilt.rx")

describe("hilt.rx", function()
  it("computes fn Values now and after each change", function()
    local a = rx.value(2)
    local sq = rx.fn(function(x) return x * x end, a)
    local sum = rx.fn(function(x, y, k) return x + y + k end, a, sq, 10)
    assert.are.equal(4, sq.value)
    assert.are.equal(16, sum.value)
    a.value = 3
    assert.are.equal(9, sq.value)
    assert.are.equal(22, sum:get())
    a:set(3)  -- the same value still propagates
    assert.are.equal(22, sum.value)
  end)

  it("updates a diamond once per change, after both sides", function()
    local a = rx.value(1)
    local b = rx.fn(function(x) return x * 2 end, a)
    local c = rx.fn(function(x) return x + 1 end, a)
    local seen = {}
    local d = rx.fn(function(x, y)
      seen[#seen + 1] = { x, y }
      return x + y
    end, b, c)
    local changes = {}
    d:on_change(function(v) changes[#changes + 1] = v end)
    a.value = 5
    a.value = 6
    -- Never a mix of an old b and a new c (a glitch).
    assert.are.same({ { 2, 2 }, { 10, 6 }, { 12, 7 } }, seen)
    assert.are.same({ 16, 19 }, changes)
  end)

  it("runs deep graphs in rank order whatever the creation order", function()
    local a = rx.value(1)
    local order = {}
    local long = a
    for i = 1, 5 do
      long = rx.fn(function(x) return x + 1 end, long)
    end
    local short = rx.fn(function(x) order[#order + 1] = "short" return x end, a)
    local last = rx.fn(function(x, y)
      order[#order + 1] = "last"
      return x + y
    end, long, short)
    order = {}
    a.value = 10
    assert.are.same({ "short", "last" }, order)
    assert.are.equal(25, last.value)
  end)

  it("leaves a Value alone on NoChange and passes NoValue to fn", function()
    local a = rx.value()
    assert.are.equal(rx.NoValue, a.value)
    local got
    local even = rx.fn(function(x)
      got = x
      if x == rx.NoValue or x % 2 == 1 then return rx.NoChange end
      return x
    end, a)
    assert.are.equal(rx.NoValue, got)
    assert.are.equal(rx.NoValue, even.value)
    a.value = 4
    a.value = 5
    assert.are.equal(4, even.value)
  end)

  it("makes fn over an Event emit once per emission", function()
    local e1, e2 = rx.event(), rx.event()
    local level = rx.value(3)
    local out = {}
    local f = rx.fn(function(x, y, l)
      return tostring(x) .. "/" .. tostring(y) .. "/" .. l
    end, e1, e2, level)
    assert.is_true(rx.is_event(f))
    f:on_event(function(v) out[#out + 1] = v end)
    e1:emit("a")
    level.value = 4  -- a Value alone does not emit
    e2:emit("b")
    rx.transact(function()
      e2:emit("c")
      e1:emit("d")
    end)
    assert.are.same({ "a/NoValue/3", "NoValue/b/4", "NoValue/c/4", "d/NoValue/4" }, out)
  end)

  it("sees the settled Values when an Event and a Value change together", function()
    local e = rx.event()
    local count = rx.event_to_value(e, 0)
    local seen = {}
    rx.fn(function(v, n) seen[#seen + 1] = tostring(v) .. "@" .. n end, e, count)
      :on_event(function() end)
    local keep = rx.fn(function(v, n) seen[#seen + 1] = tostring(v) .. "#" .. n end, e, count)
    e:emit(7)
    table.sort(seen)
    assert.are.same({ "7#7", "7@7" }, seen)
    assert.is_not_nil(keep)
  end)

  it("propagates a change a callback makes after the current transaction", function()
    local a, b = rx.value(0), rx.value(0)
    local log = {}
    a:on_change(function(v)
      b.value = v * 10
      -- The new value reads at once ...
      log[#log + 1] = "b=" .. b.value
    end)
    local sum = rx.fn(function(x, y)
      log[#log + 1] = x .. "+" .. y
      return x + y
    end, a, b)
    log = {}
    a.value = 1
    -- ... and reaches dependents in a transaction of its own, after.
    assert.are.same({ "b=10", "1+10", "1+10" }, log)
    assert.are.equal(11, sum.value)
  end)

  it("stops callbacks that keep changing each other with a loop error", function()
    local a, b = rx.value(0), rx.value(0)
    a:on_change(function(v) b.value = v + 1 end)
    b:on_change(function(v) a.value = v + 1 end)
    local ok, err = pcall(function() a.value = 1 end)
    assert.is_false(ok)
    assert.matches("dependency loop", err)
  end)

  it("refuses an input that would make a dependency loop, naming it", function()
    local a = rx.value(1):named("a")
    local b = rx.fn(function(x) return x end, a):named("b")
    local c = rx.fn(function(x) return x end, b):named("c")
    local ok, err = pcall(a.add_input, a, c)
    assert.is_false(ok)
    assert.matches("dependency loop: a %-> b %-> c %-> a", err)
    -- A dependency fn cannot see is fine when it makes no loop.
    local d = rx.value(0):named("d")
    c:add_input(d)
    assert.are.same({ b, d }, c:inputs())
  end)

  it("logs a failing computation or callback and goes on", function()
    local a = rx.value(1)
    local bad = rx.fn(function(x)
      if x == 2 then error("boom") end
      return x
    end, a)
    local good = rx.fn(function(x) return x * 3 end, a)
    a:on_change(function() error("callback boom") end)
    a.value = 2
    assert.are.equal(6, good.value)
    assert.are.equal(1, bad.value)
    a.value = 3
    assert.are.equal(3, bad.value)
  end)

  it("collects rules nothing refers to", function()
    local a = rx.value(1)
    local runs = 0
    local weak = setmetatable({}, { __mode = "v" })
    weak[1] = rx.fn(function(x) runs = runs + 1 return x end, a)
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak[1])
    runs = 0
    a.value = 2
    assert.are.equal(0, runs)
    -- One still referred to keeps its inputs alive and runs.
    local held = rx.fn(function(x) return x + 1 end, rx.fn(function(x) return x * 2 end, a))
    collectgarbage()
    a.value = 5
    assert.are.equal(11, held.value)
  end)

  describe("helpers", function()
    it("no_repeat passes only changes, tables by contents", function()
      local a = rx.value({ 1, 2 })
      local n = rx.no_repeat(a)
      local changes = 0
      n:on_change(function() changes = changes + 1 end)
      a.value = { 1, 2 }
      a.value = { 1, 3 }
      a.value = { 1, 3 }
      assert.are.equal(1, changes)
      local e = rx.event()
      local out = {}
      rx.no_repeat(e):on_event(function(v) out[#out + 1] = v end)
      for _, v in ipairs({ 1, 1, 2, 2, 1 }) do e:emit(v) end
      assert.are.same({ 1, 2, 1 }, out)
    end)

    it("filter keeps what passes, NoValue dropped by default", function()
      local a = rx.value(rx.NoValue)
      local f = rx.filter(a)
      a.value = 3
      a.value = rx.NoValue
      assert.are.equal(3, f.value)
      local odd = rx.filter(a, function(v) return v ~= rx.NoValue and v % 2 == 1 end)
      a.value = 4
      assert.are.equal(rx.NoValue, odd.value)
      a.value = 5
      a.value = 6
      assert.are.equal(5, odd.value)
      local e = rx.event()
      local out = {}
      rx.filter(e, function(v) return v > 1 end):on_event(function(v) out[#out + 1] = v end)
      for _, v in ipairs({ 1, 2, 0, 3 }) do e:emit(v) end
      assert.are.same({ 2, 3 }, out)
    end)

    it("window keeps the last n values", function()
      local a = rx.value(1)
      local w = rx.window(a, 3)
      assert.are.same({ 1 }, w.value)
      for i = 2, 5 do a.value = i end
      assert.are.same({ 3, 4, 5 }, w.value)
      local e = rx.event()
      local we = rx.window(e, 2)
      assert.are.same({}, we.value)
      e:emit("x")
      e:emit("y")
      e:emit("z")
      assert.are.same({ "y", "z" }, we.value)
    end)

    it("converts between Values and Events", function()
      local a = rx.value(1)
      local ev = rx.value_to_event(a)
      local out = {}
      ev:on_event(function(v) out[#out + 1] = v end)
      a.value = 2
      a.value = 2
      assert.are.same({ 2, 2 }, out)
      local back = rx.event_to_value(ev)
      assert.are.equal(rx.NoValue, back.value)
      a.value = 7
      assert.are.equal(7, back.value)
      assert.are.equal(5, rx.ensure_value(5).value)
      assert.are.equal(a, rx.ensure_value(a))
      local r = rx.replace_novalue(rx.value(), "none")
      assert.are.equal("none", r.value)
    end)
  end)

  it("is hilt.rx", function()
    assert.are.equal(rx, hilt.rx)
  end)
end)
