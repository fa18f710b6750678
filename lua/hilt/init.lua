-- The hilt module: tasks, time, timers, queues, logging and msgpack.
-- Built on hilt.core (bindings/); see docs/lua-api.md.
local core = require("hilt.core")

local M = {
  version = core.version,
  spawn = core.spawn,
  current = core.current,
  yield = core.yield,
  sleep = core.sleep,
  now = core.now,
  time = core.time,
  wait_first = core.wait_first,
  stats = core.stats,
  exit = core.exit,
  Task = core.Task,
  Error = core.Error,
}

--- error(code, message) -> a new hilt.Error (not raised).
function M.error(code, message)
  return core.error(code, message)
end

--- is_error(value [, code]) -> true if value is a hilt.Error (with code).
M.is_error = core.is_error

--- Runs fn(...) in the calling task; if it has not returned after
--- `seconds`, its pending operation ends with a `timeout` error, which
--- propagates out of fn and of this call. Returns fn's results.
function M.timeout(seconds, fn, ...)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 then
    error("bad argument #1 to 'timeout' (seconds must be a number >= 0)", 2)
  end
  if type(fn) ~= "function" then
    error("bad argument #2 to 'timeout' (function expected, got "
      .. type(fn) .. ")", 2)
  end
  local me = core.current()
  if me == nil then
    error("hilt.timeout: not inside a task", 2)
  end
  local err = core.error("timeout", ("timed out after %g s"):format(seconds))
  local deadline = core.deadline(me, seconds, err)
  local r = table.pack(pcall(fn, ...))
  if deadline then
    deadline:stop()
  end
  if not r[1] then
    error(r[2], 0)
  end
  return table.unpack(r, 2, r.n)
end

--- after(seconds, fn) -> Timer: runs fn as a new task once.
function M.after(seconds, fn)
  return core.timer(fn, seconds)
end

--- every(seconds, fn) -> Timer: runs fn as a new task every `seconds`,
--- first after one interval, until timer:stop().
function M.every(seconds, fn)
  return core.timer(fn, seconds, seconds)
end

local function check_tasks(tasks, fname)
  if type(tasks) ~= "table" then
    error(("bad argument #1 to '%s' (list of tasks expected, got %s)")
      :format(fname, type(tasks)), 3)
  end
end

--- wait_all(tasks) -> list of results, one table.pack(...) per task.
--- Waits for every task to end; if any failed, raises the error of the
--- first failed task in list order (after all have ended).
function M.wait_all(tasks)
  check_tasks(tasks, "wait_all")
  local results, first_err = {}, nil
  for i, t in ipairs(tasks) do
    local r = table.pack(pcall(t.join, t))
    if r[1] then
      results[i] = table.pack(table.unpack(r, 2, r.n))
    elseif first_err == nil then
      first_err = r[2]
    end
  end
  if first_err ~= nil then
    error(first_err, 0)
  end
  return results
end

M.queue = require("hilt.queue").new
M.log = require("hilt.log")

--- signal(name, fn) -> watcher: fn runs as a task on each delivery of
--- the signal ("term", "int", "hup", "usr1", ...); watcher:stop().
M.signal = core.signal

-- Parts that most scripts do not use load on first use: hilt.msgpack,
-- hilt.bus, hilt.rx, and the driver trees' hilt.connect, hilt.serve and hilt.lab.
local lazy = {
  msgpack = function() return require("hilt.msgpack") end,
  bus = function() return require("hilt.bus") end,
  rx = function() return require("hilt.rx") end,
  connect = function() return require("hilt.lab").connect end,
  serve = function() return require("hilt.lab").serve end,
  lab = function() return require("hilt.lab").lab end,
}

return setmetatable(M, {
  __index = function(t, k)
    local load = lazy[k]
    if load then
      local v = load()
      rawset(t, k, v)
      return v
    end
  end,
})
