-- The client of network drivers (net.tcp, net.unix): connect() is the raw
-- byte stream; forward() makes it a local port.
local hilt = require("hilt")
local client = require("hilt.client")
local net = require("hilt.net")
local pump = require("hilt.pump")

local Net = client.class("net")

--- net:forward([addr]) -> listener: listens on addr (default
--- tcp://127.0.0.1:0, any free port; listener:address() says which) and
--- tunnels each connection it accepts to the driver's target, until
--- listener:close().
function Net:forward(addr)
  return net.listen(addr or "tcp://127.0.0.1:0", function(sock)
    local ok, err = pcall(function()
      local s <close> = self:connect()
      pump.both(sock, s)
    end)
    sock:close()
    if not ok and not hilt.is_error(err, "cancelled") then
      hilt.log.warn("forward to %s: %s", self.path, tostring(err))
    end
  end)
end

return Net
