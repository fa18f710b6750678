-- hilt.rx's helpers that run on a clock (hilt.rx.clock: the loop's, or a
-- virtual one in specs): delay, rate_limit, time_window, emit_at, and the
-- small state machine, whose states may time out.
local core = require("hilt.rx.core")
local clock_mod = require("hilt.rx.clock")
local helpers = require("hilt.rx.helpers")

local NoValue, NoChange = core.NoValue, core.NoChange
local M = {}

-- helpers.follow, with later(v): passes v on from a timer, in a
-- transaction of its own.
local function timed(src, name, on)
  local initial
  if core.is_value(src) then
    initial = src.value
  end
  local out = helpers.follow(src, name, initial, on)
  local function later(v)
    if core.is_value(out) then
      out:set(v)
    else
      out:emit(v)
    end
  end
  return out, later
end

--- delay(src, seconds) -> src, each change (emission) `seconds` later. A
--- Value starts with src's value.
function M.delay(src, seconds)
  local clock = clock_mod.get()
  local later
  local out
  out, later = timed(src, "delay", function(v)
    clock.after(seconds, function() later(v) end)
  end)
  return out
end

--- rate_limit(src [, min_interval]) -> src at most once per min_interval
--- seconds (default 0.1): the first value passes at once; later ones
--- within the interval are held and only the last passes when it ends.
function M.rate_limit(src, min_interval)
  min_interval = min_interval or 0.1
  local clock = clock_mod.get()
  local held, has_held, timer, later = nil, false, nil, nil
  local function block()
    timer = clock.after(min_interval, function()
      timer = nil
      if has_held then
        local v = held
        held, has_held = nil, false
        block()
        later(v)
      end
    end)
  end
  local out
  out, later = timed(src, "rate_limit", function(v, now)
    if timer then
      held, has_held = v, true
    else
      block()
      now(v)
    end
  end)
  return out
end

--- time_window(src, seconds) -> a Value of the list of src's values (or
--- emissions) of the last `seconds`, oldest first; a Value's current one
--- is always in it.
function M.time_window(src, seconds)
  local clock = clock_mod.get()
  local is_value = core.is_value(src)
  local keep_last = is_value and 1 or 0
  local entries = {}  -- {at, value}
  local function values()
    local out = {}
    for i, e in ipairs(entries) do
      out[i] = e[2]
    end
    return out
  end
  if is_value and src.value ~= NoValue then
    entries[1] = { clock.now(), src.value }
  end
  local out, timer
  local function arm()
    if not timer and #entries > keep_last then
      timer = clock.after(entries[1][1] + seconds - clock.now(), function()
        timer = nil
        local now, dropped = clock.now(), false
        while #entries > keep_last and entries[1][1] + seconds <= now do
          table.remove(entries, 1)
          dropped = true
        end
        arm()
        if dropped then
          out:set(values())
        end
      end)
    end
  end
  local function add(v)
    entries[#entries + 1] = { clock.now(), v }
    arm()
  end
  if is_value then
    out = core.derived_value({ src }, values(), function(set)
      add(src.value)
      set(values())
    end, "time_window")
  else
    assert(core.is_event(src), "hilt.rx.time_window: a Value or an Event expected")
    out = core.derived_value({ src }, {}, function(set, node)
      for _, e in ipairs(core.emissions(node)) do
        add(e[2])
      end
      set(values())
    end, "time_window")
  end
  return out
end

--- emit_at(src) -> an Event: src is a Value of a time (the clock's
--- seconds), a pair {time, value}, or NoValue/nil for none; the Event
--- emits the value (or the time) when that time comes, once. A new value
--- of src re-arms it; a time already past fires at once, from a timer.
function M.emit_at(src)
  assert(core.is_value(src), "hilt.rx.emit_at: a Value expected")
  local clock = clock_mod.get()
  local out, timer
  local function arm(v)
    if timer then
      timer:stop()
      timer = nil
    end
    if v == nil or v == NoValue then
      return
    end
    local at, value = v, v
    if type(v) == "table" then
      at, value = v[1], v[2]
    end
    timer = clock.after(at - clock.now(), function()
      timer = nil
      out:emit(value)
    end)
  end
  out = core.derived_event({ src }, function() arm(src.value) end, "emit_at")
  arm(src.value)
  return out
end

--- START: the state an fsm starts in.
M.START = setmetatable({}, { __tostring = function() return "START" end })

--- fsm(step, inputs) -> a Value of the machine's state. step(state, now,
--- timed_out) -> next state [, timeout seconds]; `now` has, for each key
--- of inputs, a Value's current value, the list of an Event's emissions
--- in this transaction (empty if none) or the plain value. step runs once
--- at the start (state START), after each transaction that reached an
--- input, and when a timeout it asked for passes with no step in between
--- (timed_out true). NoChange keeps the state.
function M.fsm(step, inputs)
  local clock = clock_mod.get()
  local list = {}
  for _, v in pairs(inputs) do
    if core.is_node(v) then
      list[#list + 1] = v
    end
  end
  local emitted = {}
  local function snapshot()
    local now = {}
    for k, v in pairs(inputs) do
      if core.is_value(v) then
        now[k] = v.value
      elseif core.is_event(v) then
        now[k] = emitted[v] or {}
      else
        now[k] = v
      end
    end
    return now
  end
  local state, timer
  local function run(timed_out, set)
    if timer then
      timer:stop()
      timer = nil
    end
    local current = state and state.value or M.START
    local next_state, timeout = step(current, snapshot(), timed_out)
    if timeout then
      timer = clock.after(timeout, function()
        timer = nil
        core.transact(function()
          run(true, function(v) core.change(state, v) end)
        end)
      end)
    end
    if next_state ~= NoChange and next_state ~= current then
      set(next_state)
    end
  end
  local first = M.START
  run(false, function(v) first = v end)
  state = core.derived_value(list, first, function(set, node)
    emitted = {}
    for _, e in ipairs(core.emissions(node)) do
      local l = emitted[e[1]] or {}
      l[#l + 1] = e[2]
      emitted[e[1]] = l
    end
    run(false, set)
    emitted = {}
  end, "fsm")
  return state
end

return M
