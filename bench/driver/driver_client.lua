-- The client of bench/driver/run.sh: a client tree from hilt.connect and
-- sequential calls of lab.dut.echo:echo(x) with bench/rpc's 32-byte
-- argument, as a test script would make them.
--   hilt driver_client.lua ADDR SECONDS    prints "calls_per_sec N"
-- ADDR is tcp:PORT (on 127.0.0.1) or unix:PATH.
local hilt = require("hilt")

package.path = (arg[0]:match("^(.*)/") or ".") .. "/../rpc/?.lua;"
  .. package.path
local address = require("hilt_addr")

local addr, seconds = ...
if not (addr and tonumber(seconds)) then
  io.stderr:write("usage: hilt driver_client.lua ADDR SECONDS\n")
  os.exit(2)
end
local lab = hilt.connect(address(addr))
local echo = lab.dut.echo
local x = string.rep("x", 32)
-- Timed from an established connection (hilt.connect has fetched the
-- report), as every client in bench/rpc is.
local start = hilt.now()
local deadline = start + tonumber(seconds)
local calls, now = 0, start
repeat
  calls = calls + 1
  if echo:echo(x) ~= x then
    error("bad reply to call " .. calls)
  end
  now = hilt.now()
until now >= deadline
print(("calls_per_sec %.0f"):format(calls / (now - start)))
lab:close()
