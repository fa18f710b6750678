-- Byte streams in specs: reading one to its end.
local M = {}

--- read_all(s) -> everything s:read() gives until its end.
function M.read_all(s)
  local parts = {}
  for data in function() return s:read() end do
    parts[#parts + 1] = data
  end
  return table.concat(parts)
end

return M
