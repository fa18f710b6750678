-- The cost of console:expect scanning a long stream for a pattern, against
-- Lua's own string.find over the same bytes held in one buffer: the best a
-- Lua program could do if all the output were there at once. The stream
-- hands out 64 KiB chunks from memory, so only the scanning is measured.
--
--   hilt bench/console/expect.lua [MiB] [rounds]
local hilt = require("hilt")
local console = require("hilt.console")

local mib = tonumber(arg[1]) or 1
local rounds = tonumber(arg[2]) or 5
local CHUNK = 64 * 1024

-- Boot-log-like lines, then the prompt expect looks for.
local lines = {}
local n = 0
while n < mib * 1024 * 1024 do
  local line = ("[%8.6f] sim: probing device %d at 0x%08x ... ok\r\n")
    :format(n / 1e6, #lines, n)
  lines[#lines + 1] = line
  n = n + #line
end
lines[#lines + 1] = "\r\nsim login: "
local text = table.concat(lines)
local pattern = arg[3] or "(%w+) login: $"

local function chunks()
  local pos = 1
  return {
    read = function()
      if pos > #text then return nil end
      local c = text:sub(pos, pos + CHUNK - 1)
      pos = pos + CHUNK
      return c
    end,
    write = function() end,
  }
end

local function time(fn, reps)
  local t0 = hilt.now()
  for _ = 1, reps do fn() end
  return (hilt.now() - t0) / reps
end

local function find_once()
  local s, e, who = text:find(pattern)
  assert(s)
end

local function expect_once()
  local con = console.new(chunks(), { timeout = 60 })
  local i, m = con:expect(pattern)
  assert(i == 1 and m[0])
end

local reps = 10
local ratios = {}
for r = 1, rounds do
  local tf = time(find_once, reps)
  local te = time(expect_once, reps)
  ratios[r] = tf / te
  print(("round %d: string.find %.1f MB/s, expect %.1f MB/s, expect/find %.2fx")
    :format(r, #text / tf / 1e6, #text / te / 1e6, tf / te))
end
table.sort(ratios)
print(("console expect/string.find over %d MiB: %.2fx (median of %d rounds; target >= 0.5x: %s)")
  :format(mib, ratios[(#ratios + 1) // 2], rounds,
    ratios[(#ratios + 1) // 2] >= 0.5 and "met" or "missed"))
