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

--- both(a, b) -> bytes a->b, bytes b->a: copies both ways until both
--- directions have ended. When one direction fails, the other is stopped
--- and the failure raised.
function M.both(a, b)
  local back = hilt.spawn(M.copy, b, a)
  local ok, res = pcall(M.copy, a, b)
  if not ok then
    back:cancel()
    pcall(back.join, back)
    error(res, 0)
  end
  local ok2, res2 = pcall(back.join, back)
  if not ok2 and not hcore.is_error(res2, "cancelled") then
    error(res2, 0)
  end
  return res, ok2 and res2 or 0
end

--- bridge(local_end, remote_end, linger) -> as both(), except that once
--- the remote end has ended, the local end gets `linger` seconds to end
--- too before its copy is stopped.
function M.bridge(loc, rem, linger)
  local fwd = hilt.spawn(M.copy, loc, rem)
  local ok, res = pcall(M.copy, rem, loc)
  if not ok then
    fwd:cancel()
    pcall(fwd.join, fwd)
    error(res, 0)
  end
  local deadline = hilt.now() + (linger or 0.5)
  while not fwd:done() and hilt.now() < deadline do
    hilt.sleep(0.01)
  end
  if not fwd:done() then
    fwd:cancel()
  end
  local ok2, res2 = pcall(fwd.join, fwd)
  if not ok2 and not hcore.is_error(res2, "cancelled") then
    error(res2, 0)
  end
  return ok2 and res2 or 0, res
end

return M
