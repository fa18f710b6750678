-- The load of bench/bus's memory measurement: CONNS hilt.bus connections
-- to one hub, each registering STATES states (/load/cC/sI) and giving
-- each a value, so the hub holds CONNS * STATES paths with values.
--
--   hilt hilt_load.lua ADDR CONNS STATES
--
-- Prints "loaded" and "load_seconds S" once the hub has answered every
-- request, then holds the connections until killed.
local hilt = require("hilt")
local bus_mod = require("hilt.bus")

local addr, nconns, nstates = ..., tonumber((select(2, ...))),
  tonumber((select(3, ...)))
if not (addr and nconns and nstates) then
  io.stderr:write("usage: hilt hilt_load.lua ADDR CONNS STATES\n")
  os.exit(2)
end

local start = hilt.now()
local tasks = {}
for c = 1, nconns do
  local bus = bus_mod.connect(addr)
  tasks[c] = hilt.spawn(function()
    for i = 1, nstates do
      local st = bus:state_register(("/load/c%d/s%d"):format(c, i))
      st:changed(i)
    end
  end)
end
hilt.wait_all(tasks)
print("loaded")
print(("load_seconds %.3f"):format(hilt.now() - start))
io.stdout:flush()
hilt.sleep(math.huge)
