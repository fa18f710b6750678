#!/usr/bin/env hilt
-- A smoke test for a board: power it, check its supply, log in on its
-- console, run a command on the exporter's machine, cycle the power, share
-- its power state on the bus. The same script runs against
-- the lab served in this process or an exporter elsewhere:
--
--   hilt run --lab examples/lab.lua examples/smoke_test.lua
--   hilt serve examples/lab.lua &
--   hilt run --connect tcp://127.0.0.1:7420 examples/smoke_test.lua
local hilt = require("hilt")

local lab = hilt.lab()
local board = lab.dut
local passed, failed = 0, 0

local function step(name, fn)
  local t0 = hilt.now()
  local ok, err = pcall(fn)
  local ms = (hilt.now() - t0) * 1000
  if ok then
    passed = passed + 1
    print(("ok    %-34s %7.1f ms"):format(name, ms))
  else
    failed = failed + 1
    print(("FAIL  %-34s %7.1f ms  %s"):format(name, ms, tostring(err)))
  end
end

step("power on", function()
  board.power:on()
  assert(board.power:state() == "on", "the supply does not say on")
end)

step("supply within 5 V +/- 5 %", function()
  local n = 0
  for r in board.power:read(20, 0.01) do
    assert(r.voltage > 4.75 and r.voltage < 5.25,
      ("reading %d: %.3f V"):format(n + 1, r.voltage))
    n = n + 1
  end
  assert(n == 20, ("%d readings, 20 expected"):format(n))
end)

step("current drawn 0.2 .. 1 A", function()
  local r = board.power:measure()
  assert(r.current > 0.2 and r.current < 1, ("%.3f A"):format(r.current))
end)

step("console: log in, run a command", function()
  local con = board.console:console({ timeout = 5, backlog = 256 })
  con:login({ user = "root", prompt = "# $" })
  local out, code = con:run("uname")
  assert(code == 0, "uname exited " .. tostring(code))
  assert(out:match("^Linux sim"), "the board said " .. out)
  con:close()
end)

step("exporter runs Linux", function()
  local r = lab.host:uname()
  assert(r.code == 0, "uname exited " .. tostring(r.code))
  assert(r.stdout:match("^Linux "), "uname said " .. r.stdout)
end)

step("a command that hangs times out", function()
  local r = lab.host:slow(10)
  assert(r.timed_out, "sleep 10 was not stopped")
end)

step("power cycle", function()
  board.power:cycle(0.1)
  assert(board.power:state() == "on")
end)

step("bus: the board's power, observed", function()
  -- The bus is inside this process unless --bus or $HILT_BUS names a hub.
  local owner, watcher = hilt.bus.connect(), hilt.bus.connect()
  local power = owner:state_register("/lab/dut/power")
  power:changed(board.power:state())
  local seen = watcher:observe("/lab/dut/power")
  assert(seen() == "on", "the observer did not see the board on")
  board.power:off()
  power:changed(board.power:state())
  assert(seen() == "off", "the observer did not see the board off")
  owner:close()
  assert(seen() == hilt.bus.Unknown, "the state outlived its owner")
  watcher:close()
  board.power:on()
end)

step("power off", function()
  board.power:off()
  assert(board.power:state() == "off")
end)

lab:close()
print(("%d passed, %d failed"):format(passed, failed))
hilt.exit(failed == 0 and 0 or 1)
