-- Loaded by `hilt test` into busted: after each spec, fails it if it left
-- a task running, a timer started or a libuv handle active, and cleans
-- them up so the next spec starts from a clean runtime.
local busted = require("busted")
local core = require("hilt.core")

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do
    s[v] = true
  end
  return s
end

-- Lets cancelled tasks finish and closed handles go before counting.
local function settle()
  for _ = 1, 3 do
    core.yield()
  end
end

local function leaks(before)
  local found, tasks, timers = {}, {}, {}
  for _, t in ipairs(core.live_tasks()) do
    if not before.tasks[t] and t ~= core.current() then
      tasks[#tasks + 1] = t
      found[#found + 1] = tostring(t)
    end
  end
  for _, tm in ipairs(core.live_timers()) do
    if not before.timers[tm] then
      timers[#timers + 1] = tm
      found[#found + 1] = tostring(tm)
    end
  end
  return found, tasks, timers
end

local function cleanup(tasks, timers)
  for _, t in ipairs(tasks) do
    t:cancel()
  end
  for _, tm in ipairs(timers) do
    tm:stop()
  end
  settle()
end

local function wrap(run)
  return function(...)
    local before = {
      tasks = set_of(core.live_tasks()),
      timers = set_of(core.live_timers()),
      handles = core.stats().handles,
    }
    local ok, err = pcall(run, ...)
    settle()
    local found, tasks, timers = leaks(before)
    cleanup(tasks, timers)
    if not ok then
      error(err, 0)
    end
    local handles = core.stats().handles - before.handles
    if handles > 0 then
      found[#found + 1] = ("%d active handle(s)"):format(handles)
    end
    if #found > 0 then
      error("spec leaked: " .. table.concat(found, "; "), 0)
    end
  end
end

busted.subscribe({ "test", "start" }, function(element)
  element.run = wrap(element.run)
  return nil, true
end)

local user = package.loaded["hilt.test.user_helper"]
if user then
  dofile(user)
end

return true
