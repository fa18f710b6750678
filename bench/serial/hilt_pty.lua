-- bench/serial's measurement of hilt: bytes through a pseudo-terminal,
-- one end a serial port (serial.open on the slave, the termios fallback),
-- the other the master stream of serial.openpty, each driven by a task,
-- 64 KiB per write as raw_pty.c does.
--   hilt bench/serial/hilt_pty.lua MIB down|up     prints "mb_per_sec N"
-- down: the device (master) writes, the port reads; up: the other way.
local hilt = require("hilt")
local serial = require("hilt.serial")

local total = math.floor(tonumber(arg[1]) * 1024 * 1024)
local down = arg[2] == "down"
local CHUNK = 64 * 1024

local bytes = {}
for i = 0, CHUNK - 1 do
  bytes[i + 1] = string.char(i * 31 % 256)
end
local chunk = table.concat(bytes)

local dev, path = serial.openpty()
local port = serial.open(path)
local from, to = port, dev
if down then
  from, to = dev, port
end

local t0 = hilt.now()
local writer = hilt.spawn(function()
  local sent = 0
  while sent < total do
    local n = math.min(CHUNK, total - sent)
    from:write(n == CHUNK and chunk or chunk:sub(1, n))
    sent = sent + n
  end
end)
local got = 0
while got < total do
  got = got + #to:read()
end
local elapsed = hilt.now() - t0
writer:join()
port:close()
dev:close()
print(("mb_per_sec %.1f"):format(total / elapsed / 1e6))
