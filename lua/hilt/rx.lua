-- hilt.rx: reactive rules. Values and Events computed from one another
-- (hilt.rx.core), helpers (hilt.rx.helpers, hilt.rx.time), the strategies
-- that run what rules trigger (hilt.rx.strategy) and the bridges to the
-- bus (hilt.rx.bus), in one table. docs/rx.md is the guide.
local core = require("hilt.rx.core")
local helpers = require("hilt.rx.helpers")
local time = require("hilt.rx.time")
local strategy = require("hilt.rx.strategy")
local clock = require("hilt.rx.clock")
local bridges = require("hilt.rx.bus")

local M = {
  NoValue = core.NoValue, NoChange = core.NoChange, START = time.START,
  value = core.value, event = core.event, fn = core.fn,
  is_value = core.is_value, is_event = core.is_event,
  transact = core.transact,

  no_repeat = helpers.no_repeat, filter = helpers.filter,
  window = helpers.window, replace_novalue = helpers.replace_novalue,
  value_to_event = helpers.value_to_event,
  event_to_value = helpers.event_to_value,
  ensure_value = helpers.ensure_value, equal = helpers.equal,

  delay = time.delay, rate_limit = time.rate_limit,
  time_window = time.time_window, emit_at = time.emit_at, fsm = time.fsm,

  in_task = strategy.in_task, serially = strategy.serially,

  clock = clock.get, use_clock = clock.use, virtual_clock = clock.virtual,

  observe = bridges.observe, listen = bridges.listen,
  state_register = bridges.state_register,
  state_register_set_event = bridges.state_register_set_event,
  event_register = bridges.event_register,
  call = bridges.call, call_with = bridges.call_with,
  set = bridges.set, set_with = bridges.set_with,
  use_bus = bridges.use_bus, rules = bridges.rules,
  close_all = bridges.close_all,
}

--- Unknown: the bus's Unknown (what observe holds while a state is unknown).
M.Unknown = require("hilt.bus").Unknown

return M
