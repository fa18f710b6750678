-- hilt.pump: copies bytes between two byte streams (hilt.net sockets,
-- the byte streams of remote calls), both ways, with end-of-stream passed
-- on as a half-close. Forwards and the CLI's stdin/stdout bridge use it.
local hilt = require("hilt")
local hcore = require("hilt.core")

local M = {}

local function half_close(s)
  if s.close_write then
    s:close_write()
  else
    s:shutdown()
  end
end

--- copy(src, dst) -> bytes copied: reads src until its end, writing each
--- chunk to dst (which waits while dst's peer is behind), then
--- half-closes dst.
function M.copy(src, dst)
  local n = 0
  while true do
    local data = src:read()
    if data == nil then
      break
    end
    n = n + #data
    dst:write(data)
  end
  half_close(dst)
  return n
end

--- both(a, b [, linger]) -> bytes a->b, bytes b->a: copies both ways until
--- both directions have ended. When this task's direction (b->a) fails,
--- the other is stopped and the failure raised. Once b's end has been
--- passed to a, the copy from a gets `linger` more seconds (default: as
--- long as it takes), for a local end that may never end by itself (a
--- terminal bridged to a remote stream).
function M.both(a, b, linger)
  local fwd = hilt.spawn(M.copy, a, b)
  local ok, back = pcall(M.copy, b, a)
  if not ok then
    fwd:cancel()
    pcall(fwd.join, fwd)
    error(back, 0)
  end
  local ok2, sent
  if linger then
    ok2, sent = pcall(hilt.timeout, linger, fwd.join, fwd)
    if not ok2 and not fwd:done() then
      fwd:cancel()
      ok2, sent = pcall(fwd.join, fwd)
    end
  else
    ok2, sent = pcall(fwd.join, fwd)
  end
  if not ok2 and not hcore.is_error(sent, "cancelled") then
    error(sent, 0)
  end
  return ok2 and sent or 0, back
end

return M
