-- hilt.log: leveled, timestamped lines on stderr, shared with the runtime.
-- hilt.log.info("powered %s on", name) formats like string.format when
-- given more than one argument. HILT_LOG=debug|info|warn|error|off.
local core = require("hilt.core")

local M = {}

local function source()
  local info = debug.getinfo(3, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return info.short_src .. ":" .. info.currentline
  end
  return "lua"
end

local function format(...)
  local n = select("#", ...)
  if n == 1 then
    return tostring((...))
  end
  local fmt = ...
  if type(fmt) == "string" and fmt:find("%", 1, true) then
    return fmt:format(select(2, ...))
  end
  local parts = {}
  for i = 1, n do
    parts[i] = tostring((select(i, ...)))
  end
  return table.concat(parts, " ")
end

for _, level in ipairs({ "debug", "info", "warn", "error" }) do
  M[level] = function(...)
    if core.log_enabled(level) then
      core.log(level, format(...), source())
    end
  end
end

--- level([new]) -> the current level name; sets it when given.
M.level = core.log_level

--- enabled(level) -> whether a message at level would be written.
M.enabled = core.log_enabled

return setmetatable(M, {
  -- hilt.log("message") logs at info.
  __call = function(_, ...)
    if core.log_enabled("info") then
      core.log("info", format(...), source())
    end
  end,
})
