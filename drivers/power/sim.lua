-- power.sim: a simulated bench supply, for labs without hardware and for
-- tests. It remembers whether it is on and streams made-up voltage and
-- current readings around its set point.
local hilt = require("hilt")
local driver = require("hilt.driver")

local Sim = driver.class("power.sim", {
  client = "power",
  description = "Simulated power supply",
  options = {
    voltage = { type = "number", default = 5.0, doc = "output voltage when on (V)" },
    current = { type = "number", default = 0.5, doc = "load current when on (A)" },
    noise = { type = "number", default = 0.01, doc = "relative noise of readings",
      check = function(v) return v >= 0 and v < 1, "must be in [0, 1)" end },
    interval = { type = "number", default = 0.1, doc = "seconds between readings",
      check = function(v) return v > 0, "must be > 0" end },
    switch_time = { type = "number", default = 0, doc = "seconds a switch takes" },
  },
})

function Sim:init()
  self.on_since = nil
  self.switches = 0
end

local function switch(self, on)
  if self.options.switch_time > 0 then
    hilt.sleep(self.options.switch_time)
  end
  if on and not self.on_since then
    self.on_since = hilt.now()
  elseif not on then
    self.on_since = nil
  end
  self.switches = self.switches + 1
  self:log("info", "output %s", on and "on" or "off")
  return on and "on" or "off"
end

Sim:export("on", "Turn the output on.", function(self)
  return switch(self, true)
end)

Sim:export("off", "Turn the output off.", function(self)
  return switch(self, false)
end)

Sim:export("cycle", { doc = "Turn the output off, wait, and on again.",
  args = { "wait: seconds to stay off (default 1)" } }, function(self, wait)
  switch(self, false)
  hilt.sleep(tonumber(wait) or 1)
  return switch(self, true)
end)

Sim:export("state", "Whether the output is \"on\" or \"off\".", function(self)
  return self.on_since and "on" or "off"
end)

local function reading(self)
  local o = self.options
  local on = self.on_since ~= nil
  local function jitter(v)
    return v * (1 + o.noise * (2 * math.random() - 1))
  end
  return {
    time = hilt.time(),
    voltage = on and jitter(o.voltage) or 0.0,
    current = on and jitter(o.current) or 0.0,
  }
end

Sim:export_generator("read", { doc = "Stream readings {time, voltage, current}.",
  args = { "n: how many (default: until the caller stops)",
           "interval: seconds between readings (default: the option)" } },
  function(self, emit, n, interval)
    interval = tonumber(interval) or self.options.interval
    local count = 0
    while n == nil or count < n do
      if count > 0 then
        hilt.sleep(interval)
      end
      emit(reading(self))
      count = count + 1
    end
    return count
  end)

Sim:export("measure", "One reading {time, voltage, current}.", function(self)
  return reading(self)
end)

function Sim:reset()
  switch(self, false)
end

function Sim:close()
  self.on_since = nil
end

return Sim
