#!/usr/bin/env hilt
-- A console watchdog: a probe asks the board's console for an echo every
-- 0.3 s and shares the answer as the state /lab/dut/console_ok; a rule
-- power-cycles the board when the console has been silent for 1 s, and
-- again (backing off) for as long as it stays silent after a cycle.
--
--   hilt run --lab examples/lab.lua examples/rules/watchdog.lua [seconds]
--
-- With [seconds] (the demo), the board's shell is made to hang 1 s in, and
-- the rules close after that long. (The simulated board comes back from
-- its hang after 2 s whatever is done; a real one would need the cycle.)
local hilt = require("hilt")
local rx = hilt.rx

local lab = hilt.lab()
local board = lab.dut
local bus = hilt.bus.connect()
local t0 = hilt.now()
local function say(fmt, ...)
  print(("%5.2f s  " .. fmt):format(hilt.now() - t0, ...))
end

board.power:on()
local con = board.console:console({ timeout = 5 })
con:login({ user = "root", prompt = "# $" })

-- The probe: true while the console answers within 0.5 s.
local console_ok = rx.value(true)
local probing = hilt.every(0.3, function()
  local ok = pcall(con.run, con, "echo ping", 0.5)
  if ok ~= console_ok.value then
    say("console %s", ok and "answers" or "silent")
    console_ok.value = ok
  end
end)

bus:action_register("/lab/dut/power_cycle", function()
  say("power cycle")
  board.power:cycle(0.1)
end)

-- Dead: silent for a whole second (a single missed echo is not enough).
local dead = rx.fsm(function(state, now, timed_out)
  if now.ok then
    return "alive"
  elseif state ~= "silent" and state ~= "dead" then
    return "silent", 1
  elseif state == "silent" and timed_out then
    return "dead"
  end
  return rx.NoChange
end, { ok = console_ok })

-- While dead: cycle, give the board 1.5 s to answer, and if it does not,
-- cycle again after 2, 4, 8 ... s (the strategy's backoff).
local cycler = rx.serially({ only_latest = true, retry = true, name = "power cycle" })
dead:on_change(function(state)
  if state == "dead" then
    cycler(function()
      bus:call("/lab/dut/power_cycle")
      hilt.sleep(1.5)
      if not console_ok.value then
        error("the console is still silent after a power cycle")
      end
    end)
  end
end)
local rules = { rx.state_register("/lab/dut/console_ok", console_ok), cycler }
local revived = rx.filter(rx.value_to_event(dead), function(s) return s == "alive" end)
revived:on_event(function() say("board alive again") end)

local seconds = tonumber(arg[1])
if seconds then
  hilt.sleep(1)
  say("making the shell hang")
  con:sendline("hang 2")
  hilt.sleep(seconds - 1)
  for _, r in ipairs(rules) do r:close() end
  probing:stop()
  con:close()
  lab:close()
  say("rules closed")
end
