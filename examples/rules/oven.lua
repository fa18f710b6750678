#!/usr/bin/env hilt
-- Rules for a reflow oven whose heater hangs off the lab's power switch:
-- above a limit the power is cut and an alarm rings on the bus; once the
-- oven has cooled below a margin, the power may come back on.
--
--   hilt run --lab examples/lab.lua examples/rules/oven.lua [seconds]
--
-- A rules file keeps running while it has rules; [seconds] closes them
-- after that long (the demo's oven is simulated below, on the bus, so the
-- rules read it as they would a real sensor's state).
local hilt = require("hilt")
local rx = hilt.rx

local LIMIT, MARGIN = 250, 40
local lab = hilt.lab()
local heater = lab.power
local bus = hilt.bus.connect()

-- The simulated oven: +15 degrees a tick while the heater is on, -10 off.
local temp_state = bus:state_register("/lab/oven/temp")
local sim = hilt.every(0.02, function()
  local t = temp_state.value
  if t == rx.Unknown then t = 20 end
  t = heater:state() == "on" and t + 15 or math.max(20, t - 10)
  temp_state:changed(t)
end)
bus:action_register("/lab/oven/heater", function(on)
  if on then heater:on() else heater:off() end
  print(("%-5s heater %s"):format(temp_state.value, on and "on" or "off"))
end)
bus:listen("/lab/oven/alarm", function(msg) print("ALARM " .. msg) end)

-- The rules.
local temp = rx.observe("/lab/oven/temp")
-- Hysteresis: too hot above LIMIT, fine again only below LIMIT - MARGIN.
-- (Unknown, while the sensor is away, keeps the verdict.)
local too_hot = rx.no_repeat(rx.fsm(function(hot, now)
  local t = now.temp
  if hot == rx.START then hot = false end
  if t ~= rx.Unknown and t > LIMIT then
    hot = true
  elseif t ~= rx.Unknown and t < LIMIT - MARGIN then
    hot = false
  end
  return hot
end, { temp = temp }))
local alarm = rx.filter(rx.fn(function(hot, t)
  return hot and ("oven at %d, limit %d: heater cut"):format(t, LIMIT) or rx.NoChange
end, rx.value_to_event(too_hot), temp))
local rules = {
  -- The heater follows the verdict; a failed switch is retried, only the
  -- latest wish counts.
  rx.call_with({ strategy = rx.serially({ only_latest = true, retry = true }) },
    "/lab/oven/heater", rx.fn(function(hot) return not hot end, too_hot)),
  rx.event_register("/lab/oven/alarm", alarm),
  rx.state_register("/lab/oven/too_hot", too_hot),
}

local seconds = tonumber(arg[1])
if seconds then
  hilt.sleep(seconds)
  for _, r in ipairs(rules) do r:close() end
  sim:stop()
  heater:off()
  lab:close()
  print("rules closed")
end
