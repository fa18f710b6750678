-- net.tcp: a TCP port reached from the exporter's side. Each call of
-- `connect` opens one connection and carries its bytes both ways; on the
-- client, net:forward(addr) listens locally and tunnels every connection
-- it accepts this way (an SSH port behind the exporter, a web UI, ...).
local driver = require("hilt.driver")
local net = require("hilt.net")
local pump = require("hilt.pump")

local Tcp = driver.class("net.tcp", {
  client = "net",
  description = "A TCP port on the exporter's side",
  options = {
    host = { type = "string", default = "127.0.0.1", doc = "host to connect to" },
    port = { type = "integer", required = true, doc = "port to connect to",
      check = function(v) return v >= 1 and v <= 65535, "must be 1..65535" end },
  },
})

function Tcp:address()
  local h = self.options.host
  return ("tcp://%s:%d"):format(h:find(":", 1, true) and ("[" .. h .. "]") or h,
    self.options.port)
end

Tcp:export("target", "The address connections go to.", function(self)
  return self:address()
end)

Tcp:export_stream("connect", "A byte stream to the port: what is written "
  .. "goes to it, what it sends comes back.", function(self, stream)
  local sock <close> = net.connect(self:address())
  return (pump.both(stream, sock))
end)

return Tcp
