-- hilt.rx's timed helpers and strategies on a virtual clock: exact times,
-- no sleeping.
local hilt = require("hilt")
local rx = require("hilt.rx")

local clock

local function collect(ev)
  local out = {}
  ev:on_event(function(v) out[#out + 1] = v end)
  return out
end

describe("hilt.rx on a virtual clock", function()
  before_each(function()
    clock = rx.virtual_clock(100)
    rx.use_clock(clock)
  end)

  after_each(function()
    rx.use_clock(nil)
  end)

  it("delays each change and emission", function()
    local a = rx.value(1)
    local d = rx.delay(a, 5)
    a.value = 2
    clock.advance(2)
    a.value = 3
    clock.advance(2.9)
    assert.are.equal(1, d.value)
    clock.advance(0.1)
    assert.are.equal(2, d.value)
    clock.advance(2)
    assert.are.equal(3, d.value)
    local e = rx.event()
    local out = collect(rx.delay(e, 1))
    e:emit("x")
    e:emit("y")
    clock.advance(0.5)
    assert.are.same({}, out)
    clock.advance(0.5)
    assert.are.same({ "x", "y" }, out)
    assert.are.equal(0, clock.pending())
  end)

  it("rate_limits: the first at once, the last of a burst at its end", function()
    local e = rx.event()
    local out = collect(rx.rate_limit(e, 1))
    e:emit(1)
    e:emit(2)
    e:emit(3)
    assert.are.same({ 1 }, out)
    clock.advance(1)
    assert.are.same({ 1, 3 }, out)
    clock.advance(1)
    assert.are.same({ 1, 3 }, out)
    e:emit(4)
    assert.are.same({ 1, 3, 4 }, out)
    local a = rx.value(0)
    local r = rx.rate_limit(a)  -- 0.1 s by default
    a.value = 1
    a.value = 2
    assert.are.equal(1, r.value)
    clock.advance(0.1)
    assert.are.equal(2, r.value)
    clock.advance(1)
    assert.are.equal(0, clock.pending())
  end)

  it("keeps a time_window of recent values", function()
    local e = rx.event()
    local w = rx.time_window(e, 10)
    e:emit("a")
    clock.advance(4)
    e:emit("b")
    assert.are.same({ "a", "b" }, w.value)
    clock.advance(6)
    assert.are.same({ "b" }, w.value)
    clock.advance(4)
    assert.are.same({}, w.value)
    local a = rx.value(1)
    local wv = rx.time_window(a, 2)
    a.value = 2
    clock.advance(5)
    -- A Value's current value stays.
    assert.are.same({ 2 }, wv.value)
  end)

  it("emits at a time, re-armed when the time changes", function()
    local at = rx.value(105)
    local out = collect(rx.emit_at(at))
    clock.advance(3)
    at.value = { 110, "late" }
    clock.advance(3)
    assert.are.same({}, out)
    clock.advance(4)
    assert.are.same({ "late" }, out)
    at.value = 90  -- already past: fires from a timer, at once
    assert.are.same({ "late" }, out)
    clock.advance(0)
    assert.are.same({ "late", 90 }, out)
    at.value = 200
    at.value = rx.NoValue
    clock.advance(200)
    assert.are.same({ "late", 90 }, out)
  end)

  it("runs a small state machine with timeouts", function()
    local door = rx.event()
    local power = rx.value(false)
    -- closed -> (open) -> opened -> 30 s -> alarm; power off -> idle
    local state = rx.fsm(function(state, now, timed_out)
      if not now.power then
        return "idle"
      elseif state == "idle" or state == rx.START then
        return "closed"
      elseif state == "closed" and #now.door > 0 then
        return "opened", 30
      elseif state == "opened" and timed_out then
        return "alarm"
      elseif state == "opened" then
        return rx.NoChange, 30 - 0  -- stays, the timeout re-armed
      end
      return rx.NoChange
    end, { door = door, power = power })
    assert.are.equal("idle", state.value)
    power.value = true
    assert.are.equal("closed", state.value)
    door:emit("open")
    assert.are.equal("opened", state.value)
    clock.advance(20)
    door:emit("open")  -- re-arms: 30 s from now
    clock.advance(20)
    assert.are.equal("opened", state.value)
    clock.advance(10)
    assert.are.equal("alarm", state.value)
    power.value = false
    assert.are.equal("idle", state.value)
  end)

  describe("strategies", function()
    it("in_task runs each at once in a task of its own", function()
      local s = rx.in_task()
      local q = hilt.queue()
      s(function() q:put(1) end)
      s(function() error("fails alone") end)
      s(function() q:put(2) end)
      local got = { q:get(), q:get() }
      table.sort(got)
      assert.are.same({ 1, 2 }, got)
      s:close()
      assert.has_error(function() s(function() end) end,
        "hilt.rx: the strategy is closed")
    end)

    it("serially runs one at a time, in order", function()
      local s = rx.serially()
      local log, gate = {}, hilt.queue()
      s(function() log[#log + 1] = "1 start" gate:get() log[#log + 1] = "1 end" end)
      s(function() log[#log + 1] = "2" end)
      clock.advance(0)
      assert.are.same({ "1 start" }, log)
      gate:put(true)
      clock.advance(0)
      assert.are.same({ "1 start", "1 end", "2" }, log)
      s:close()
    end)

    it("retries with exponential backoff, capped", function()
      local s = rx.serially({ retry = true })
      local tries = {}
      s(function()
        tries[#tries + 1] = clock.now() - 100
        if #tries < 7 then error("not yet") end
      end)
      clock.advance(200)
      -- 2, 4, 8, 16, then capped at 30.
      assert.are.same({ 0, 2, 6, 14, 30, 60, 90 }, tries)
      s:close()
    end)

    it("takes its backoff from the options", function()
      local s = rx.serially({ retry = true, retry_start = 1, retry_multiplier = 3,
        retry_end = 5 })
      local tries = {}
      s(function()
        tries[#tries + 1] = clock.now() - 100
        error("never")
      end)
      clock.advance(16)
      assert.are.same({ 0, 1, 4, 9, 14 }, tries)
      s:close()
    end)

    it("with only_latest runs only the newest waiting, and a new one ends a retry", function()
      local s = rx.serially({ only_latest = true, retry = true })
      local log, gate = {}, hilt.queue()
      s(function() gate:get() log[#log + 1] = "first" end)
      clock.advance(0)  -- "first" starts
      for i = 1, 5 do
        s(function() log[#log + 1] = "skipped " .. i end)
      end
      s(function() log[#log + 1] = "latest" error("fails") end)
      gate:put(true)
      clock.advance(1)
      assert.are.same({ "first", "latest" }, log)
      -- Waiting 2 s to retry "latest"; a newer one replaces it at once.
      s(function() log[#log + 1] = "replacement" end)
      clock.advance(0)
      assert.are.same({ "first", "latest", "replacement" }, log)
      clock.advance(60)
      assert.are.same({ "first", "latest", "replacement" }, log)
      s:close()
    end)

    it("with assume_failed resends until replaced", function()
      local s = rx.serially({ only_latest = true, retry = true, assume_failed = true })
      local sent = {}
      s(function() sent[#sent + 1] = "a@" .. (clock.now() - 100) end)
      clock.advance(7)
      s(function() sent[#sent + 1] = "b@" .. (clock.now() - 100) end)
      clock.advance(2)
      assert.are.same({ "a@0", "a@2", "a@6", "b@7", "b@9" }, sent)
      s:close()
    end)

    it("refuses combinations that make no sense", function()
      assert.has_error(function() rx.serially({ assume_failed = true }) end,
        "hilt.rx.serially: assume_failed needs only_latest and retry (it would otherwise resend one task forever)")
      assert.has_error(function() rx.serially({ assume_failed = true, retry = true }) end)
      assert.has_error(function() rx.serially({ retry_start = -1 }) end,
        "hilt.rx.serially: retry_start must be a number above 0, not -1")
      assert.has_error(function() rx.serially({ retyr = true }) end,
        "hilt.rx.serially: unknown option 'retyr'")
      for _, ok in ipairs({ {}, { only_latest = true },
          { only_latest = true, retry = true }, { retry = true },
          { only_latest = true, retry = true, assume_failed = true } }) do
        rx.serially(ok):close()
      end
    end)
  end)
end)
