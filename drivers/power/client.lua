-- The client of power drivers (power.sim, power.command): the exported
-- on/off/state/read, plus conveniences that work on any of them.
local hilt = require("hilt")
local client = require("hilt.client")

local Power = client.class("power")

--- power:cycle([wait]): off, `wait` seconds (default 2), on.
function Power:cycle(wait)
  self:off()
  hilt.sleep(wait or 2)
  return self:on()
end

--- power:wait_state(want, timeout) -> true once state() == want, polling.
function Power:wait_state(want, timeout)
  local deadline = hilt.now() + (timeout or 10)
  while self:state() ~= want do
    if hilt.now() >= deadline then
      error(hilt.error("timeout", ("power did not reach '%s' within %g s")
        :format(want, timeout or 10)), 2)
    end
    hilt.sleep(0.05)
  end
  return true
end

return Power
