-- hilt.msgpack against Debian's lua-messagepack (pure Lua), both packing
-- and unpacking the same ~1 KiB driver-call payload in this run.
-- Run with: build/hilt bench/msgpack.lua [--check]
-- --check exits with status 1 when the pack+unpack ratio is below target.
package.path = "/usr/share/lua/5.3/?.lua;" .. package.path
local msgpack = require("hilt.msgpack")
local now = require("hilt.core").now

local TARGET = 10
local ok, lmp = pcall(require, "MessagePack")
if not ok then
  print("msgpack: lua-messagepack not found (apt install lua-messagepack); skipped")
  return
end

-- A reply to a power meter's read: [type, id, method, params] whose params
-- hold readings of several channels.
local function payload()
  local readings = {}
  for i = 1, 16 do
    readings[i] = {
      volts = 12.01 + i / 100, amps = 0.53 + i / 1000,
      ts = 1732190000.123 + i, channel = ({ "a", "b", "c" })[i % 3 + 1],
      ok = i % 5 ~= 0, seq = i * 17,
    }
  end
  return { 1, 42, "power/read", readings }
end

local value = payload()
local bytes = msgpack.pack(value)
assert(bytes == lmp.pack(value), "the two libraries disagree on the bytes")
-- Same length: map keys may come back in another order, nothing else.
assert(#msgpack.pack(msgpack.unpack(bytes)) == #bytes)

local function round(fn, seconds)
  local n, t0 = 0, now()
  repeat
    for _ = 1, 50 do fn() end
    n = n + 50
  until now() - t0 >= seconds
  return n / (now() - t0)
end

-- Best of many short interleaved rounds, so both sides see the same
-- machine and each gets its quiet moments; about one second each.
local function compare(name, fn, base)
  local best_fn, best_base = 0, 0
  for _ = 1, 25 do
    best_fn = math.max(best_fn, round(fn, 0.04))
    best_base = math.max(best_base, round(base, 0.04))
  end
  local ratio = best_fn / best_base
  print(("msgpack %s 1KiB (%d B): hilt %.0f/s, lua-messagepack %.0f/s, ratio %.1fx%s")
    :format(name, #bytes, best_fn, best_base, ratio,
            name == "pack+unpack" and (" (target >= %dx)"):format(TARGET) or ""))
  return ratio
end

local ratio = compare("pack+unpack",
  function() return msgpack.unpack(msgpack.pack(value)) end,
  function() return lmp.unpack(lmp.pack(value)) end)
compare("pack", function() return msgpack.pack(value) end,
  function() return lmp.pack(value) end)
compare("unpack", function() return msgpack.unpack(bytes) end,
  function() return lmp.unpack(bytes) end)

if arg and arg[1] == "--check" and ratio < TARGET then
  print(("msgpack: ratio %.1fx is below the target of %dx"):format(ratio, TARGET))
  os.exit(1)
end
