-- power.command: power switched by running commands on the exporter's
-- machine (a relay tool, a PDU's CLI, a USB hub's port power, ...).
--
--   power = { type = "power.command", on = "usbrelay R1=1", off = "usbrelay R1=0",
--             state = "usbrelay | grep -q R1=1 && echo on || echo off" }
local driver = require("hilt.driver")
local process = require("hilt.process")
local hilt = require("hilt")

local Command = driver.class("power.command", {
  client = "power",
  description = "Power switched by shell commands",
  serial = true,
  options = {
    on = { type = "string", required = true, doc = "command that turns power on" },
    off = { type = "string", required = true, doc = "command that turns power off" },
    state = { type = "string", doc = "command printing on or off (optional)" },
    timeout = { type = "number", default = 10, doc = "seconds a command may take",
      check = function(v) return v > 0, "must be > 0" end },
    shell = { type = "string", default = "/bin/sh" },
  },
})

function Command:init()
  self.last = "unknown"
end

local function sh(self, which)
  local cmd = self.options[which]
  local r = process.run({ self.options.shell, "-c", cmd },
    { timeout = self.options.timeout })
  if r.timed_out then
    error(hilt.error("timeout", ("power %s command timed out after %g s: %s")
      :format(which, self.options.timeout, cmd)), 0)
  elseif r.code ~= 0 then
    local err = r.stderr:gsub("%s+$", "")
    error(hilt.error("failed", ("power %s command failed (exit %s): %s%s")
      :format(which, tostring(r.code or r.signal), cmd,
        err ~= "" and (": " .. err) or "")), 0)
  end
  return r.stdout
end

Command:export("on", "Turn power on.", function(self)
  sh(self, "on")
  self.last = "on"
  self:log("info", "power on")
  return "on"
end)

Command:export("off", "Turn power off.", function(self)
  sh(self, "off")
  self.last = "off"
  self:log("info", "power off")
  return "off"
end)

Command:export("state", "\"on\" or \"off\" (from the state command, or "
  .. "the last switch made; \"unknown\" before the first).", function(self)
  if self.options.state then
    local out = sh(self, "state"):match("^%s*(%S+)")
    return out == "on" and "on" or out == "off" and "off" or "unknown"
  end
  return self.last
end)

return Command
