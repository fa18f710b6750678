-- A bounded FIFO queue between tasks: put waits while full, get waits
-- while empty. Waiters are kept as (task, wait number) pairs, so a waiter
-- that was cancelled or timed out is skipped, never woken by mistake.
local core = require("hilt.core")

local Queue = {}
Queue.__index = Queue

local function wait(list, what)
  list[#list + 1] = { core.current(), core.wait_seq() }
  return core.suspend(what)
end

local function notify_one(list)
  while #list > 0 do
    local w = table.remove(list, 1)
    if core.wake(w[1], w[2]) then
      return
    end
  end
end

--- new(maxsize) -> a queue holding at most maxsize items (default: no
--- bound).
function Queue.new(maxsize)
  maxsize = maxsize or math.huge
  if type(maxsize) ~= "number" or maxsize < 1 or
      (maxsize ~= math.huge and math.type(maxsize) ~= "integer") then
    error("bad argument #1 to 'queue' (size must be an integer >= 1)", 2)
  end
  return setmetatable({
    items = {}, head = 1, tail = 0, max = maxsize,
    getters = {}, putters = {}, closed = false,
  }, Queue)
end

function Queue:len()
  return self.tail - self.head + 1
end

function Queue:full()
  return self:len() >= self.max
end

function Queue:empty()
  return self:len() == 0
end

local function push(self, v)
  self.tail = self.tail + 1
  self.items[self.tail] = v
  notify_one(self.getters)
end

local function pop(self)
  local v = self.items[self.head]
  self.items[self.head] = nil
  self.head = self.head + 1
  notify_one(self.putters)
  return v
end

local function check_value(v)
  if v == nil then
    error("bad argument #1 to 'put' (cannot put nil in a queue)", 3)
  end
end

--- put(v): adds v, waiting while the queue is full. Raises on a closed
--- queue.
function Queue:put(v)
  check_value(v)
  while true do
    if self.closed then
      error("queue:put: the queue is closed", 2)
    end
    if self:len() < self.max then
      return push(self, v)
    end
    wait(self.putters, "queue:put")
  end
end

--- try_put(v) -> true, or false when the queue is full or closed.
function Queue:try_put(v)
  check_value(v)
  if self.closed or self:len() >= self.max then
    return false
  end
  push(self, v)
  return true
end

--- get() -> the oldest item, waiting while the queue is empty; nil once
--- the queue is closed and drained.
function Queue:get()
  while self:len() == 0 do
    if self.closed then
      return nil
    end
    wait(self.getters, "queue:get")
  end
  return pop(self)
end

--- try_get() -> the oldest item, or nil when the queue is empty.
function Queue:try_get()
  if self:len() == 0 then
    return nil
  end
  return pop(self)
end

--- close(): no more puts; getters drain what is left, then get nil.
function Queue:close()
  self.closed = true
  while #self.getters > 0 do
    notify_one(self.getters)
  end
  while #self.putters > 0 do
    notify_one(self.putters)
  end
end

--- Iterates items until the queue is closed and drained.
function Queue:iter()
  return function()
    return self:get()
  end
end

function Queue:__tostring()
  return ("queue (%d/%s items%s)"):format(self:len(),
    self.max == math.huge and "inf" or tostring(self.max),
    self.closed and ", closed" or "")
end

Queue.__len = Queue.len

return Queue
