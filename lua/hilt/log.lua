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

--- RANK: level name -> number, higher is more severe (for filtering).
M.RANK = RANK

--- stamp([t]) -> "2026-11-21T15:04:05.123Z": the time t (default now,
--- seconds since the epoch) as log lines show it.
function M.stamp(t)
  t = t or core.time()
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t))
    .. (".%03dZ"):format(math.floor(t % 1 * 1000))
end

-- The ranks of stderr's level and of the lowest level anything takes,
-- kept by level(), add_sink and remove_sink (the only ways they change),
-- so that a message nobody takes costs one comparison.
local stderr_rank = RANK[core.log_level()]
local floor_rank

local function update_floor()
  floor_rank = stderr_rank
  for i = 1, #sinks do
    floor_rank = math.min(floor_rank, sinks[i].rank)
  end
end
update_floor()

local function wanted(level)
  return RANK[level] >= floor_rank
end

local function emit(level, src, msg)
  local rank = RANK[level]
  if rank >= stderr_rank then
    core.log(level, msg, src)
  end
  for i = 1, #sinks do
    local s = sinks[i]
    if rank >= s.rank then
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
  update_floor()
  return fn
end

--- remove_sink(fn): undoes add_sink.
function M.remove_sink(fn)
  for i, s in ipairs(sinks) do
    if s.fn == fn then
      table.remove(sinks, i)
      update_floor()
      return
    end
  end
end

--- level([new]) -> the current level name; sets it when given.
function M.level(new)
  -- Called through a local named `level`, so that a bad name's error
  -- says "bad argument #1 to 'level'", as before.
  local level = core.log_level
  local old = level(new)
  if new ~= nil then
    stderr_rank = RANK[core.log_level()]
    update_floor()
  end
  return old
end

--- enabled(level) -> whether a message at level would be written.
M.enabled = core.log_enabled

--- wanted(level) -> whether a message at level would go anywhere: to
--- stderr or to a sink.
M.wanted = wanted

return setmetatable(M, {
  -- hilt.log("message") logs at info.
  __call = function(_, ...)
    if wanted("info") then
      emit("info", source(), format(...))
    end
  end,
})
