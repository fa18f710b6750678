-- What the hub's listeners share about their clients: a client that asked
-- for an idle timeout in its hello and then says nothing for longer is
-- dropped, as ESHET's server does; closing the listener drops them all.
local hilt = require("hilt")

local M = {}

--- listener(listener, clients, drop) -> {address, close}: clients maps a
--- key to a record with `timeout` (seconds, 0 for none) and `last` (when
--- the client last spoke); drop(key, record [, why]) ends one (why is nil
--- when the listener closes).
function M.listener(listener, clients, drop)
  local sweep = hilt.every(1, function()
    local now = hilt.now()
    for key, c in pairs(clients) do
      if c.timeout > 0 and now - c.last > c.timeout then
        drop(key, c, ("silent for %ds"):format(c.timeout))
      end
    end
  end)
  return {
    address = function() return listener:address() end,
    close = function()
      sweep:stop()
      for key, c in pairs(clients) do
        drop(key, c)
      end
      listener:close()
    end,
  }
end

return M
