-- console.tcp: a console reached over TCP, such as a serial port behind
-- ser2net (raw mode) or a terminal server, shared as serial consoles are:
-- read all the time, logged, one writer and any number of watchers, and
-- reconnected when the connection drops.
--
--   console = { type = "console.tcp", host = "ts-1", port = 7001, log = "dut.log" }
local driver = require("hilt.driver")
local net = require("hilt.net")
local console_hub = require("hilt.console_hub")

local Tcp = driver.class("console.tcp", {
  client = "console",
  description = "A console over TCP",
  options = {
    host = { type = "string", default = "127.0.0.1" },
    port = { type = "integer", doc = "the TCP port",
      check = function(v) return v >= 1 and v <= 65535, "must be 1..65535" end },
    path = { type = "string", doc = "a unix socket instead of host:port" },
    log = { type = "string", doc = "file the console is logged to, with timestamps" },
    scrollback = { type = "integer", default = 64 * 1024 },
    retry = { type = "number", default = 1, doc = "seconds between reconnects" },
  },
})

function Tcp:init(opts)
  if (opts.port == nil) == (opts.path == nil) then
    error("give port (with host) or path, one of them", 0)
  end
  local h = opts.host
  self.addr = opts.path and ("unix://" .. opts.path)
    or ("tcp://%s:%d"):format(h:find(":", 1, true) and ("[" .. h .. "]") or h, opts.port)
end

function Tcp:open()
  self.hub = console_hub.new(function() return net.connect(self.addr) end,
    { name = self.path ~= "" and self.path or "console", log = self.options.log,
      scrollback = self.options.scrollback, retry = self.options.retry })
  self.hub:start()
end

function Tcp:close()
  if self.hub then
    self.hub:stop()
    self.hub = nil
  end
end

console_hub.exports(Tcp)

Tcp:export("target", "The address the console is reached at.", function(self)
  return self.addr
end)

return Tcp
