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

-- Sinks see every message at or above their own level, whatever the
-- level of stderr: the exporter streams its log to clients through one.
local sinks = {}
local RANK = { debug = 0, info = 1, warn = 2, error = 3, off = 4 }

local function wanted(level)
  if core.log_enabled(level) then
    return true
  end
  for _, s in ipairs(sinks) do
    if RANK[level] >= s.rank then
      return true
    end
  end
  return false
end

local function emit(level, src, msg)
  if core.log_enabled(level) then
    core.log(level, msg, src)
  end
  for _, s in ipairs(sinks) do
    if RANK[level] >= s.rank then
      s.fn(level, msg, src)
    end
  end
end

for _, level in ipairs({ "debug", "info", "warn", "error" }) do
  M[level] = function(...)
    if wanted(level) then
      emit(level, source(), format(...))
    end
  end
end

--- at(level, source, ...) logs with `source` naming the part that
--- speaks (a driver's path) instead of the calling line.
function M.at(level, src, ...)
  if RANK[level] == nil or level == "off" then
    error(("bad argument #1 to 'at' (unknown log level '%s')"):format(
      tostring(level)), 2)
  end
  if wanted(level) then
    emit(level, src, format(...))
  end
end

--- add_sink(fn [, level]) -> fn: fn(level, message, source) sees every
--- message at `level` (default "debug") or above. It must not yield.
function M.add_sink(fn, level)
  sinks[#sinks + 1] = { fn = fn, rank = RANK[level or "debug"] }
  return fn
end

--- remove_sink(fn): undoes add_sink.
function M.remove_sink(fn)
  for i, s in ipairs(sinks) do
    if s.fn == fn then
      table.remove(sinks, i)
      return
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
    if wanted("info") then
      emit("info", source(), format(...))
    end
  end,
})
