-- The hilt side of bench/rpc: an echo served with hilt.rpc, and a client
-- making sequential calls through a proxy, as a script would.
--   hilt hilt_echo.lua server ADDR
--   hilt hilt_echo.lua client ADDR SECONDS    prints "calls_per_sec N"
-- ADDR is tcp:PORT (on 127.0.0.1) or unix:PATH.
local hilt = require("hilt")
local rpc = require("hilt.rpc")

package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local address = require("hilt_addr")

local mode, addr, seconds = ...
if mode == "server" and addr then
  rpc.serve(address(addr), { echo = function(x) return x end })
  hilt.sleep(math.huge)
elseif mode == "client" and addr and tonumber(seconds) then
  local conn = rpc.connect(address(addr))
  local echo = conn.remote.echo
  local x = string.rep("x", 32)
  local start = hilt.now()
  local deadline = start + tonumber(seconds)
  local calls, now = 0, start
  repeat
    calls = calls + 1
    if echo(x) ~= x then
      error("bad reply to call " .. calls)
    end
    now = hilt.now()
  until now >= deadline
  print(("calls_per_sec %.0f"):format(calls / (now - start)))
  conn:close()
else
  io.stderr:write("usage: hilt hilt_echo.lua server ADDR\n",
    "       hilt hilt_echo.lua client ADDR SECONDS\n")
  os.exit(2)
end
