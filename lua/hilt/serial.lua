-- hilt.serial: serial ports (docs/serial.md).
--
--   local serial = require("hilt.serial")
--   local port <close> = serial.open("/dev/ttyUSB0", { baud = 115200 })
--   port:write("version\r\n")
--   print(port:read_until("\n", 2))
--
--   -- by what is known of the adapter, wherever it is plugged in
--   local p = serial.open({ vid = 0x0403, pid = 0x6001, serial = "A12" })
--
--   -- a simulated device on the other end of a pseudo-terminal
--   local dev, path = serial.openpty()
--   local port = serial.open(path)
--
-- A Port is two C objects made one: its controls (settings, lines, break,
-- flush: bindings/l_serial_port.c) and its bytes, a hilt.net Stream over
-- the device (bindings/l_net_stream.c), whose reads and writes never block
-- the loop. What is here: the timeouts, drain and send_break, which wait.
local hilt = require("hilt")
local hcore = require("hilt.core")
local core = require("hilt.serial.core")

local M = {}

-- drain() polls the queues, from this often to at most this seldom.
local DRAIN_POLL_MIN, DRAIN_POLL_MAX = 0.001, 0.02
local BREAK_SECONDS = 0.25

local Port = {}
Port.__index = Port

-- Raises at the caller of the Port method (arg_error, check_number, the
-- method, the caller).
local function arg_error(n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 4)
end

-- Raises unless v is nil or a number >= 0 (an integer if asked).
local function check_number(v, n, fname, what, integer, min)
  if v == nil or (type(v) == "number" and v == v and v >= min
      and (not integer or math.type(v) == "integer")) then
    return
  end
  arg_error(n, fname, ("%s must be %s >= %d, got %s"):format(what,
    integer and "an integer" or "a number", min, tostring(v)))
end

local function closed_error(self)
  return hcore.error("unavailable",
    ("serial %s: the port is closed"):format(self.path))
end

-- Runs fn(...) so that past `seconds` the wait in it ends with a timeout
-- naming the port and `what`; the bytes it waited for stay for the next
-- read (the stream keeps what a cancelled read did not take).
local function within(self, what, seconds, fn, ...)
  local me = hcore.current()
  if me == nil then
    return fn(...)  -- raises: nothing can wait outside a task
  end
  local err = hcore.error("timeout", ("serial %s: %s timed out after %g s")
    :format(self.path, what, seconds))
  local deadline = hcore.deadline(me, seconds, err)
  local ok, r = pcall(fn, ...)
  if deadline then
    deadline:stop()
  end
  if not ok then
    error(r, 0)
  end
  return r
end

--- port:read([max] [, timeout]) -> bytes: what has arrived (at most max),
--- waiting for at least one byte. Raises `timeout` after `timeout`
--- seconds, `unavailable` when the device went away; nil once closed.
function Port:read(max, timeout)
  local s = self._stream
  check_number(max, 1, "read", "max", true, 0)
  if timeout == nil then
    return s:read(max)
  end
  check_number(timeout, 2, "read", "timeout", false, 0)
  return within(self, "read", timeout, s.read, s, max)
end

--- port:read_until(delim [, timeout [, max]]) -> bytes up to and
--- including delim. Raises `timeout` (what came stays for the next read)
--- and `failed` when max bytes (1 MiB) come without delim.
function Port:read_until(delim, timeout, max)
  local s = self._stream
  check_number(timeout, 2, "read_until", "timeout", false, 0)
  check_number(max, 3, "read_until", "max", true, 1)
  if timeout == nil then
    return s:read_until(delim, max)
  end
  return within(self, "read_until", timeout, s.read_until, s, delim, max)
end

--- port:write(data): queues data, waiting while more than 1 MiB is queued.
function Port:write(data)
  if self.closed then
    error(closed_error(self), 0)
  end
  return self._stream:write(data)
end

--- port:drain(): waits until everything written has left the device.
function Port:drain()
  local delay = DRAIN_POLL_MIN
  while true do
    if self.closed then
      error(closed_error(self), 0)
    end
    if self._stream:queued() == 0 and self._ctl:output_waiting() == 0 then
      return
    end
    hilt.sleep(delay)
    delay = math.min(delay * 2, DRAIN_POLL_MAX)
  end
end

--- port:send_break([seconds]): holds the line in break for `seconds`
--- (0.25 by default), waiting meanwhile.
function Port:send_break(seconds)
  check_number(seconds, 1, "send_break", "seconds", false, 0)
  local ctl = self._ctl
  ctl:break_start()
  local ok, err = pcall(hilt.sleep, seconds or BREAK_SECONDS)
  ctl:break_stop()
  if not ok then
    error(err, 0)
  end
end

function Port:set(settings) return self._ctl:set(settings) end
function Port:get() return self._ctl:get() end
function Port:dtr(on) return self._ctl:dtr(on) end
function Port:rts(on) return self._ctl:rts(on) end
function Port:lines() return self._ctl:lines() end
function Port:flush(which) return self._ctl:flush(which) end

--- port:close(): closes the port; a task waiting in read gets nil, what
--- was written is still sent. Idempotent.
function Port:close()
  self.closed = true
  self._ctl:close()
end

Port.__close = Port.close
Port.__gc = Port.close

function Port:__tostring()
  return ("serial port %s%s"):format(self.path, self.closed and " (closed)" or "")
end

--- open(spec [, opts]) -> port. spec: a path, or a match table {vid=,
--- pid=, serial=, description=}; opts: baud, bits, parity, stop, flow,
--- dtr, rts, exclusive.
function M.open(spec, opts)
  local ctl, stream, path, backend = core.open(spec, opts)
  return setmetatable({ path = path, backend = backend, closed = false,
    _ctl = ctl, _stream = stream }, Port)
end

--- list() -> the serial ports of this machine.
M.list = core.list

--- openpty() -> master, slave_path: a pseudo-terminal for a simulated
--- device. master is a hilt.net stream (read, read_until, write, close);
--- serial.open(slave_path) opens the port on the other end.
M.openpty = core.openpty

M.Port = Port

return M
