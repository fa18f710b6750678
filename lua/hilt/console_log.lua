-- A console's log file: everything read from and written to a console,
-- line by line, each line stamped with the time it came and its direction
-- ("<" from the device, ">" typed into it). Bytes that are not printable
-- text are written as \xNN, so a log is always plain text.
--
--   2026-11-21T15:04:05.123Z < U-Boot 2024.01 (Jan 08 2024)
--   2026-11-21T15:04:05.480Z > root
local hcore = require("hilt.core")
local stamp = require("hilt.log").stamp

local M = {}

local Log = {}
Log.__index = Log

--- open(path) -> log, appending to path. Raises not_found with the reason
--- when the file cannot be opened.
function M.open(path)
  local f, err = io.open(path, "ab")
  if not f then
    error(hcore.error("not_found", "cannot open console log " .. err), 2)
  end
  f:setvbuf("no")
  return setmetatable({ f = f, path = path, partial = {} }, Log)
end

local function printable(s)
  return (s:gsub("[%z\1-\8\11-\31\127-\255]", function(c)
    return c == "\r" and "" or ("\\x%02x"):format(c:byte())
  end))
end

--- log:write(dir, data): data read ("<") or written (">"). Whole lines are
--- written at once; a line still open waits for its end (or the other
--- direction) so that a line read in pieces stays one line.
function Log:write(dir, data)
  if not self.f then
    return
  end
  local other = dir == "<" and ">" or "<"
  self:flush_partial(other)
  local text = (self.partial[dir] or "") .. data
  local out, pos = {}, 1
  local ts = stamp()
  while true do
    local nl = text:find("\n", pos, true)
    if not nl then
      break
    end
    out[#out + 1] = ("%s %s %s\n"):format(ts, dir, printable(text:sub(pos, nl - 1)))
    pos = nl + 1
  end
  self.partial[dir] = pos <= #text and text:sub(pos) or nil
  if #out > 0 then
    self.f:write(table.concat(out))
  end
end

function Log:flush_partial(dir)
  local p = self.partial[dir]
  if p and self.f then
    self.f:write(("%s %s %s\n"):format(stamp(), dir, printable(p)))
    self.partial[dir] = nil
  end
end

--- log:close(): writes what is pending and closes the file.
function Log:close()
  if self.f then
    self:flush_partial("<")
    self:flush_partial(">")
    self.f:close()
    self.f = nil
  end
end

return M
