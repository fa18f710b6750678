-- hilt.net: raw byte streams over TCP, unix sockets and stdio (docs/io.md).
--
--   local net = require("hilt.net")
--   local srv = net.listen("tcp://127.0.0.1:0", function(s)
--     for line in function() return s:read_until("\n") end do
--       s:write(line)
--     end
--     s:close()
--   end)
--   local s = net.connect(srv:address())
--   s:write("hello\n")
--   print(s:read_until("\n"))
--
-- The streams, listeners and stdio are C (bindings/l_net*.c); this module
-- is where Lua helpers over them belong.
local core = require("hilt.net.core")

return {
  connect = core.connect,
  listen = core.listen,
  stdio = core.stdio,
}
