-- serial: a serial port on the exporter's machine, shared as a console.
-- The exporter reads the port all the time (into a scrollback and an
-- optional timestamped log), so nothing is lost between viewers; one
-- client at a time types (`connect`), any number watch (`watch`). A port
-- that goes away (a USB adapter unplugged) is reopened when it comes back.
--
--   console = { type = "serial", path = "/dev/ttyUSB0", baud = 115200,
--               log = "/var/log/hilt/dut-console.log" }
--   console = { type = "serial", match = { vid = 0x0403, pid = 0x6001, serial = "A1" } }
local driver = require("hilt.driver")
local serial = require("hilt.serial")
local console_hub = require("hilt.console_hub")

local Serial = driver.class("serial", {
  client = "console",
  description = "A serial console",
  options = {
    path = { type = "string", doc = "the device, e.g. /dev/ttyUSB0" },
    match = { type = "table", doc = "{vid=, pid=, serial=, description=} instead of a path" },
    baud = { type = "integer", default = 115200 },
    bits = { type = "integer", default = 8 },
    parity = { type = "string", default = "none" },
    stop = { type = "integer", default = 1 },
    flow = { type = "string", default = "none" },
    log = { type = "string", doc = "file the console is logged to, with timestamps" },
    scrollback = { type = "integer", default = 64 * 1024,
      doc = "bytes of output kept for viewers that attach later" },
  },
})

function Serial:init(opts)
  if (opts.path == nil) == (opts.match == nil) then
    error("give the port as path or as match, one of them", 0)
  end
  self.settings = { baud = opts.baud, bits = opts.bits, parity = opts.parity,
    stop = opts.stop, flow = opts.flow }
end

function Serial:open()
  local spec = self.options.path or self.options.match
  self.hub = console_hub.new(function()
    return serial.open(spec, self.settings)
  end, { name = self.path ~= "" and self.path or "serial", log = self.options.log,
    scrollback = self.options.scrollback })
  self.hub:start()
end

function Serial:close()
  if self.hub then
    self.hub:stop()
    self.hub = nil
  end
end

console_hub.exports(Serial)

Serial:export("set", { doc = "Change the port's settings.",
  args = { "settings: {baud=, bits=, parity=, stop=, flow=}" } }, function(self, s)
  if type(s) ~= "table" then
    error(require("hilt").error("invalid_argument", "set: a table of settings expected"), 0)
  end
  self.hub:device():set(s)
  for k, v in pairs(s) do self.settings[k] = v end
  return self.hub:device():get()
end)

Serial:export("get", "The port's settings.", function(self)
  return self.hub:device():get()
end)

Serial:export("dtr", { doc = "Set the DTR line.", args = { "on: true or false" } },
  function(self, on) self.hub:device():dtr(on and true or false) return on and true or false end)

Serial:export("rts", { doc = "Set the RTS line.", args = { "on: true or false" } },
  function(self, on) self.hub:device():rts(on and true or false) return on and true or false end)

Serial:export("lines", "The modem lines {cts, dsr, dcd, ri, dtr, rts}.", function(self)
  return self.hub:device():lines()
end)

Serial:export("send_break", { doc = "Send a break.", args = { "seconds: how long (default 0.25)" } },
  function(self, seconds) self.hub:device():send_break(tonumber(seconds)) return true end)

Serial:export("flush", { doc = "Drop unsent and unread bytes.",
  args = { "which: \"input\", \"output\" or \"both\" (default)" } },
  function(self, which) self.hub:device():flush(which) return true end)

return Serial
