-- hilt.rx on the bus: states observed as Values and events listened to as
-- Events; Values registered as states and Events as events; actions
-- called and states or properties set whenever a rule's inputs change.
--
-- A bridge that acts (everything but observe and listen) is a rule: it
-- stays alive, and keeps the process running, until rule:close() (or
-- close_all()), so a rules file run with `hilt run` keeps running while it
-- has rules. What it sends goes through a strategy (hilt.rx.strategy), so
-- a hub that is away is retried as the strategy says.
local hilt = require("hilt")
local core = require("hilt.rx.core")
local helpers = require("hilt.rx.helpers")
local strategy = require("hilt.rx.strategy")

local NoValue = core.NoValue
local Unknown = require("hilt.bus").Unknown
local M = {}

local default_bus

--- use_bus(bus): the bus the bridges use when not given one; by default
--- hilt.bus.connect() (the hub of --bus or $HILT_BUS, else the embedded
--- one), made on first use.
function M.use_bus(bus)
  default_bus = bus
end

local function bus_of(opts)
  if opts and opts.bus then
    return opts.bus
  end
  if not default_bus then
    default_bus = require("hilt.bus").connect()
  end
  return default_bus
end

-- --- rules and the process -----------------------------------------------------

local live = {}  -- rule -> true: kept from the collector until closed
local count, keeper = 0, nil

local Rule = {}
Rule.__index = Rule

local function rule(name, undo)
  local r = setmetatable({ name = name, undo = undo }, Rule)
  live[r] = true
  count = count + 1
  if count == 1 then
    -- An armed timer keeps the loop, and so the process, alive.
    keeper = hilt.after(2 ^ 30, function() end)
  end
  return r
end

--- rule:close(): stops the rule (its strategy's work is cancelled).
function Rule:close()
  if not live[self] then
    return
  end
  live[self] = nil
  count = count - 1
  if count == 0 then
    keeper:stop()
    keeper = nil
  end
  self.undo()
end

function Rule:__tostring()
  return "hilt.rx rule " .. self.name
end

--- rules() -> the number of live rules.
function M.rules()
  return count
end

--- close_all(): closes every rule.
function M.close_all()
  for r in pairs(live) do
    r:close()
  end
end

-- --- from the bus -------------------------------------------------------------------

--- observe(path [, opts]) -> a Value of the state at path: its value when
--- this returns, then each change; Unknown (hilt.bus.Unknown) while
--- unknown, so never NoValue. opts.bus: the bus.
function M.observe(path, opts)
  local v = core.value(nil, path)
  local initial = bus_of(opts):observe(path, function(x) v:set(x) end)
  if v.value == NoValue then
    rawset(v, "_value", initial)
  end
  return v
end

--- listen(path [, opts]) -> an Event emitting each emit of the event at
--- path.
function M.listen(path, opts)
  local e = core.event(path)
  bus_of(opts):listen(path, function(x) e:emit(x) end)
  return e
end

-- --- to the bus ---------------------------------------------------------------------

-- Whether v is fit to send: no NoValue and no Unknown anywhere in it.
local function sendable(v)
  return not helpers.contains(v, NoValue, Unknown)
end
M.sendable = sendable

-- Runs send(v) through strat for the value a node has now (a Value) and
-- for each change, or for each emission (an Event), when sendable.
local function drive(node, strat, send, name)
  local function on(v)
    if sendable(v) then
      strat(function() send(v) end)
    end
  end
  if core.is_value(node) then
    node:on_change(on)
    on(node.value)
  else
    node:on_event(on)
  end
  return rule(name, function()
    node:off(on)
    strat:close()
  end)
end

local function combine(...)
  return core.fn(function(...) return table.pack(...) end, ...)
end

--- call_with(opts, path, ...) -> rule: calls the action at path with the
--- arguments (Values, Events or plain values, combined as fn combines
--- them) now and at each change, or at each emission if one is an Event;
--- never while any holds NoValue or Unknown. opts: bus, strategy
--- (default in_task()).
function M.call_with(opts, path, ...)
  local bus = bus_of(opts)
  local strat = opts.strategy or strategy.in_task("call " .. path)
  return drive(combine(...), strat, function(args)
    bus:call(path, table.unpack(args, 1, args.n))
  end, "call " .. path)
end

--- call(path, ...) -> rule: call_with({}, path, ...).
function M.call(path, ...)
  return M.call_with({}, path, ...)
end

--- set_with(opts, path, value) -> rule: sets the state or property at
--- path to value (a Value, an Event or a plain value) as call_with calls.
function M.set_with(opts, path, value)
  local bus = bus_of(opts)
  local strat = opts.strategy or strategy.in_task("set " .. path)
  local node = core.is_node(value) and value or core.value(value)
  return drive(node, strat, function(v) bus:set(path, v) end, "set " .. path)
end

function M.set(path, value)
  return M.set_with({}, path, value)
end

--- state_register(path, value [, opts]) -> rule: a state at path that
--- follows the Value (NoValue and Unknown: unknown). opts: settable (a
--- set from the bus sets the Value), on_set (fn(v) answers sets
--- instead), bus. Changes leave in order; if they come faster than the
--- hub takes them, only the latest waiting one is sent; one that fails is
--- retried (from 0.5 s, doubling to 30 s) until a newer one replaces it.
function M.state_register(path, value, opts)
  opts = opts or {}
  assert(core.is_value(value), "hilt.rx.state_register: a Value expected")
  local on_set = opts.on_set
  if not on_set and opts.settable then
    on_set = function(v) value:set(v) end
  end
  local st = bus_of(opts):state_register(path, { set = on_set })
  local function publish(v)
    if v == NoValue or v == Unknown then
      st:unknown()
    else
      st:changed(v)
    end
  end
  publish(value.value)  -- there when this returns
  -- In order, the latest first if they queue; one the hub refused (back
  -- from a restart, not yet replayed) is sent again.
  local strat = strategy.serially({ only_latest = true, retry = true,
    retry_start = 0.5, name = "state " .. path })
  local function on(v)
    strat(function() publish(v) end)
  end
  value:on_change(on)
  return rule("state " .. path, function()
    value:off(on)
    strat:close()
  end)
end

--- state_register_set_event(path, value [, opts]) -> rule, Event: as
--- state_register, with an Event that emits each value others set.
function M.state_register_set_event(path, value, opts)
  local e = core.event("set " .. path)
  local o = { bus = opts and opts.bus, on_set = function(v) e:emit(v) end }
  return M.state_register(path, value, o), e
end

--- event_register(path, event [, opts]) -> rule: emits each emission of
--- event as the bus event at path, in order.
function M.event_register(path, event, opts)
  assert(core.is_event(event), "hilt.rx.event_register: an Event expected")
  local ev = bus_of(opts):event_register(path)
  local strat = strategy.serially({ name = "event " .. path })
  local function on(v)
    strat(function() ev:emit(v) end)
  end
  event:on_event(on)
  return rule("event " .. path, function()
    event:off(on)
    strat:close()
  end)
end

return M
