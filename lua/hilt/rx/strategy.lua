-- How hilt.rx runs the work a rule triggers (a bus call, a set): each in a
-- task of its own, or one after another with the options of ESHET's
-- RunSerially: only_latest (skip to the newest queued), retry (exponential
-- backoff) and assume_failed (resend until replaced). A strategy is
-- called with a function to run: `s(fn)`; `s:close()` stops it.
local hilt = require("hilt")
local log = require("hilt.log")
local clock_mod = require("hilt.rx.clock")

local M = {}

-- Runs fn, catching its failure (with a traceback), but not a
-- cancellation: that ends the task running the strategy (its close).
local function on_error(e)
  if hilt.is_error(e, "cancelled") then
    return e
  end
  return debug.traceback(e, 2)
end

local function run(fn)
  local ok, err = xpcall(fn, on_error)
  if not ok and hilt.is_error(err, "cancelled") then
    error(err, 0)
  end
  return ok, err
end

-- --- in_task ------------------------------------------------------------------------

local InTask = {}
InTask.__index = InTask

function InTask:__call(fn)
  if self.closed then
    error("hilt.rx: the strategy is closed", 2)
  end
  local task
  task = hilt.spawn(function()
    local ok, err = run(fn)
    self.running[task] = nil
    if not ok then
      log.at("warn", "rx", "%s failed: %s", self.name, tostring(err))
    end
  end)
  self.running[task] = true
end

--- strategy:close(): cancels what runs and refuses more.
function InTask:close()
  self.closed = true
  for task in pairs(self.running) do
    task:cancel()
  end
  self.running = {}
end

--- in_task([name]) -> a strategy running each function in a task of its
--- own, at once (concurrent, in no particular order).
function M.in_task(name)
  return setmetatable({ running = {}, name = name or "task" }, InTask)
end

-- --- serially -----------------------------------------------------------------------

local Serial = {}
Serial.__index = Serial

local DEFAULTS = { retry_start = 2, retry_end = 30, retry_multiplier = 2 }

local function check(opts)
  for k, v in pairs(opts) do
    if DEFAULTS[k] == nil and k ~= "only_latest" and k ~= "retry"
        and k ~= "assume_failed" and k ~= "name" then
      error(("hilt.rx.serially: unknown option '%s'"):format(k), 3)
    end
    if DEFAULTS[k] ~= nil and (type(v) ~= "number" or v <= 0) then
      error(("hilt.rx.serially: %s must be a number above 0, not %s"):format(
        k, tostring(v)), 3)
    end
  end
  if opts.assume_failed and not (opts.only_latest and opts.retry) then
    error("hilt.rx.serially: assume_failed needs only_latest and retry "
      .. "(it would otherwise resend one task forever)", 3)
  end
end

-- Waits for a new function or the retry timer, whichever comes first
-- (a new function only counts with only_latest). Returns true if the
-- timer fired.
function Serial:wait_retry(delay)
  self.gen = self.gen + 1
  local gen = self.gen
  self.timer = self.clock.after(delay, function() self.wake:try_put(gen) end)
  while true do
    local got = self:next_wake()
    if got == gen then
      self.timer = nil
      return true
    end
    if got == true and self.only_latest and #self.inbox > 0 then
      self.timer:stop()
      self.timer = nil
      return false
    end
  end
end

-- Runs fn until it succeeds, it is replaced (only_latest), or not retried.
function Serial:attempt(fn)
  local delay = self.retry_start
  while true do
    local ok, err = run(fn)
    if ok and not self.assume_failed then
      return
    end
    if not ok then
      log.at("warn", "rx", "%s failed: %s", self.name, tostring(err))
    end
    if not self.retry then
      return
    end
    if not self:wait_retry(delay) then
      return  -- a newer function replaces this one
    end
    delay = math.min(delay * self.retry_multiplier, self.retry_end)
  end
end

-- The next wake-up: true for a new function (one is queued at most, so
-- a burst of calls leaves no backlog of wake-ups), a number for a timer.
function Serial:next_wake()
  local got = self.wake:get()
  if got == true then
    self.signalled = false
  end
  return got
end

function Serial:loop()
  while true do
    while #self.inbox == 0 do
      self:next_wake()
    end
    local fn
    if self.only_latest then
      fn = self.inbox[#self.inbox]
      self.inbox = {}
    else
      fn = table.remove(self.inbox, 1)
    end
    self:attempt(fn)
  end
end

function Serial:__call(fn)
  if self.closed then
    error("hilt.rx: the strategy is closed", 2)
  end
  self.inbox[#self.inbox + 1] = fn
  if not self.signalled then
    self.signalled = true
    self.wake:try_put(true)
  end
  if not self.task then
    self.task = hilt.spawn(function() self:loop() end)
  end
end

function Serial:close()
  self.closed = true
  self.inbox = {}
  if self.timer then
    self.timer:stop()
    self.timer = nil
  end
  if self.task then
    self.task:cancel()
    self.task = nil
  end
end

--- serially([opts]) -> a strategy running functions one at a time, in
--- order, in one task. opts: only_latest (run only the newest of those
--- waiting: for idempotent work), retry (run a failed one again after
--- retry_start s, default 2, then multiplied by retry_multiplier, 2, up
--- to retry_end, 30; with only_latest a newer function ends the wait and
--- replaces it), assume_failed (count success as failure too: resend
--- until replaced; needs only_latest and retry), name (for messages).
function M.serially(opts)
  opts = opts or {}
  check(opts)
  local self = setmetatable({
    only_latest = opts.only_latest, retry = opts.retry,
    assume_failed = opts.assume_failed, name = opts.name or "task",
    clock = clock_mod.get(), inbox = {}, wake = hilt.queue(),
    gen = 0,
  }, Serial)
  for k, v in pairs(DEFAULTS) do
    self[k] = opts[k] or v
  end
  return self
end

return M
