-- net.unix: a unix socket reached from the exporter's side; as net.tcp.
local driver = require("hilt.driver")
local net = require("hilt.net")
local pump = require("hilt.pump")

local Unix = driver.class("net.unix", {
  client = "net",
  description = "A unix socket on the exporter's side",
  options = {
    path = { type = "string", required = true, doc = "the socket's path" },
  },
})

Unix:export("target", "The address connections go to.", function(self)
  return "unix://" .. self.options.path
end)

Unix:export_stream("connect", "A byte stream to the socket: what is "
  .. "written goes to it, what it sends comes back.", function(self, stream)
  local sock <close> = net.connect("unix://" .. self.options.path)
  return (pump.both(stream, sock))
end)

return Unix
