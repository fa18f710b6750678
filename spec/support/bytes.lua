-- Byte streams in specs: reading one to its end, or until some text.
local hilt = require("hilt")

local M = {}

--- read_until_seen(s, want [, seconds]) -> everything read from s until
--- the plain text `want` has been seen (default 5 s; fails at the end).
function M.read_until_seen(s, want, seconds)
  local seen = ""
  hilt.timeout(seconds or 5, function()
    while not seen:find(want, 1, true) do
      local d = s:read()
      assert(d, "stream ended before " .. want .. "; got: " .. seen)
      seen = seen .. d
    end
  end)
  return seen
end

--- read_all(s) -> everything s:read() gives until its end.
function M.read_all(s)
  local parts = {}
  for data in function() return s:read() end do
    parts[#parts + 1] = data
  end
  return table.concat(parts)
end

return M
