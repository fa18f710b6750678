-- The clock hilt.rx's timed helpers and retries read and wait on: the
-- loop's own by default; in specs a virtual one that moves only when told,
-- so a 30 s backoff is checked exactly and at once.
--
-- A clock has now() (seconds), after(seconds, fn) -> timer with
-- :stop() (fn runs once, outside the transaction that armed it) and
-- sleep(seconds) (in a task).
local hilt = require("hilt")

local M = {}

local real = {}

function real.now()
  return hilt.now()
end

function real.after(seconds, fn)
  return hilt.after(math.max(seconds, 0), fn)
end

function real.sleep(seconds)
  hilt.sleep(math.max(seconds, 0))
end

M.real = real

local VTimer = {}
VTimer.__index = VTimer

function VTimer:stop()
  self.timers[self] = nil
end

function VTimer:active()
  return self.timers[self] ~= nil
end

--- virtual([start]) -> a clock at `start` (default 0) that moves only
--- with advance(seconds). Its functions are fields, called with a dot, as
--- the real clock's: clock.now(), clock.after(s, fn), clock.sleep(s),
--- clock.advance(s), clock.pending().
function M.virtual(start)
  local t, seq, timers = start or 0, 0, {}
  local c = {}

  function c.now()
    return t
  end

  function c.after(seconds, fn)
    seq = seq + 1
    local timer = setmetatable({ timers = timers, seq = seq, fn = fn,
      at = t + math.max(seconds, 0) }, VTimer)
    timers[timer] = true
    return timer
  end

  -- The calling task waits until advance() passes `seconds` from now.
  function c.sleep(seconds)
    local q = hilt.queue(1)
    c.after(seconds, function() q:put(true) end)
    q:get()
  end

  -- Lets ready tasks run (those a timer woke) before time moves on.
  local function settle()
    for _ = 1, 20 do
      hilt.yield()
    end
  end

  local function next_due(limit)
    local best
    for timer in pairs(timers) do
      if timer.at <= limit and (best == nil or timer.at < best.at
          or (timer.at == best.at and timer.seq < best.seq)) then
        best = timer
      end
    end
    return best
  end

  -- Moves time on by `seconds`, running each timer due on the way at its
  -- own time and in order; the tasks each wakes run before the next.
  function c.advance(seconds)
    local limit = t + seconds
    settle()
    while true do
      local timer = next_due(limit)
      if not timer then
        break
      end
      timers[timer] = nil
      t = math.max(t, timer.at)
      timer.fn()
      settle()
    end
    t = limit
  end

  -- The number of armed timers.
  function c.pending()
    local n = 0
    for _ in pairs(timers) do
      n = n + 1
    end
    return n
  end

  return c
end

local current = real

--- get() -> the clock in use.
function M.get()
  return current
end

--- use(clock) -> the previous one: helpers and strategies made after this
--- use clock (M.real or a virtual one).
function M.use(clock)
  local old = current
  current = clock or real
  return old
end

return M
