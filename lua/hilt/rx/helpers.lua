-- hilt.rx's helpers that need no clock: conversions between Values and
-- Events, no_repeat, filter, window, replace_novalue, and the deep checks
-- the bus bridges use (equal, contains).
local core = require("hilt.rx.core")

local NoValue, NoChange = core.NoValue, core.NoChange
local M = {}

--- equal(a, b) -> whether a and b are equal, tables by their contents.
local function equal(a, b)
  if a == b then
    return true
  end
  if type(a) ~= "table" or type(b) ~= "table" or getmetatable(a) ~= getmetatable(b) then
    return false
  end
  for k, v in pairs(a) do
    if not equal(v, b[k]) then
      return false
    end
  end
  for k in pairs(b) do
    if a[k] == nil then
      return false
    end
  end
  return true
end
M.equal = equal

--- contains(v, ...) -> whether v is one of the sentinels given, or holds
--- one anywhere in its tables (keys or values).
function M.contains(v, ...)
  local seen = {}
  local function walk(x, ...)
    for i = 1, select("#", ...) do
      if x == select(i, ...) then
        return true
      end
    end
    if type(x) ~= "table" or seen[x] then
      return false
    end
    seen[x] = true
    for k, y in pairs(x) do
      if walk(k, ...) or walk(y, ...) then
        return true
      end
    end
    return false
  end
  return walk(v, ...)
end

--- ensure_value(x) -> x if a Value; an Event's latest emission as a
--- Value; a plain value as a constant Value.
function M.ensure_value(x)
  if core.is_value(x) then
    return x
  elseif core.is_event(x) then
    return M.event_to_value(x)
  end
  return core.value(x)
end

--- value_to_event(v) -> an Event that emits each new value of v.
function M.value_to_event(v)
  assert(core.is_value(v), "hilt.rx.value_to_event: a Value expected")
  return core.derived_event({ v }, function(emit) emit(v.value) end)
end

--- event_to_value(e [, initial]) -> a Value holding e's last emission
--- (initial, default NoValue, before the first).
function M.event_to_value(e, initial)
  assert(core.is_event(e), "hilt.rx.event_to_value: an Event expected")
  return core.derived_value({ e }, initial, function(set, node)
    local list = core.emissions(node)
    set(list[#list][2])
  end)
end

--- follow(src, name, initial, on) -> a node of src's kind (a Value
--- starting at initial, or an Event) whose part in a transaction calls
--- on(v, pass) for src's new value, or for each of its emissions in order;
--- pass(x) changes the node to x (emits x) in that transaction.
local function follow(src, name, initial, on)
  if core.is_value(src) then
    return core.derived_value({ src }, initial, function(set)
      on(src.value, set)
    end, name)
  end
  assert(core.is_event(src), "hilt.rx." .. name .. ": a Value or an Event expected")
  return core.derived_event({ src }, function(emit, node)
    for _, e in ipairs(core.emissions(node)) do
      on(e[2], emit)
    end
  end, name)
end
M.follow = follow

-- Applies one rule to a source that may be a Value or an Event:
-- per_value(v) for each new value or emission returns what to pass on, or
-- NoChange to pass nothing; a Value starts at initial_of(its value).
local function transform(src, initial_of, per_value, name)
  local initial
  if core.is_value(src) then
    initial = initial_of(src.value)
  end
  return follow(src, name, initial, function(v, pass)
    local r = per_value(v)
    if r ~= NoChange then
      pass(r)
    end
  end)
end

--- no_repeat(src) -> src without repeats: a Value that changes (an Event
--- that emits) only when the value differs from the last (tables by
--- contents).
function M.no_repeat(src)
  local last = NoValue
  return transform(src, function(v) last = v return v end, function(v)
    if equal(v, last) then
      return NoChange
    end
    last = v
    return v
  end, "no_repeat")
end

--- filter(src [, keep]) -> the values of src for which keep(v) is true;
--- without keep, those that are not NoValue. A Value keeps its last
--- passing value (NoValue until one passes).
function M.filter(src, keep)
  keep = keep or function(v) return v ~= NoValue end
  return transform(src, function(v)
    if keep(v) then return v end
    return NoValue
  end, function(v)
    if keep(v) then
      return v
    end
    return NoChange
  end, "filter")
end

--- replace_novalue(src, default) -> src with NoValue replaced by default.
function M.replace_novalue(src, default)
  local function f(v)
    if v == NoValue then return default end
    return v
  end
  return transform(src, f, f, "replace_novalue")
end

--- window(src, n) -> a Value of the list of the last n values of src
--- (oldest first; a Value's own initial value counts), a new list on each.
function M.window(src, n)
  assert(type(n) == "number" and n >= 1, "hilt.rx.window: a size >= 1 expected")
  local list = {}
  local function push(v)
    local out = table.move(list, #list >= n and 2 or 1, #list, 1, {})
    out[#out + 1] = v
    list = out
    return out
  end
  if core.is_value(src) then
    return transform(src, function(v)
      if v == NoValue then return {} end
      return push(v)
    end, push, "window")
  end
  local node = core.derived_value({ src }, {}, function(set, self)
    for _, e in ipairs(core.emissions(self)) do
      set(push(e[2]))
    end
  end, "window")
  return node
end

return M
