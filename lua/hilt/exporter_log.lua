-- The exporter's log as clients see it (Jumpstarter's LogStream): every
-- message the process logs at info or above (calls, drivers, errors) goes
-- into a ring of the last records and out to each subscribed client. A
-- subscriber that falls behind loses records, and is told how many; it
-- never holds up the calls being logged.
local hcore = require("hilt.core")
local log = require("hilt.log")
local queue = require("hilt.queue")

local M = {}

local Log = {}
Log.__index = Log

local RING = 1000
local SUB_QUEUE = 1024
local RANK = log.RANK

--- new() -> a log that records from now on, until log:close().
function M.new()
  local self = setmetatable({ ring = {}, next = 1, subs = {} }, Log)
  self.sink = log.add_sink(function(level, msg, src)
    self:add(level, msg, src)
  end, "info")
  return self
end

function Log:add(level, msg, src)
  local rec = { time = hcore.time(), level = level, source = src or "",
                message = msg }
  self.ring[self.next] = rec
  self.next = self.next % RING + 1
  for sub in pairs(self.subs) do
    if RANK[level] >= sub.rank and not sub.q:try_put(rec) then
      sub.dropped = sub.dropped + 1
    end
  end
end

-- The ring's records, oldest first, the last `n` of them.
function Log:backlog(n)
  local out = {}
  for i = 0, RING - 1 do
    local rec = self.ring[(self.next + i - 1) % RING + 1]
    if rec then
      out[#out + 1] = rec
    end
  end
  return table.move(out, math.max(1, #out - n + 1), #out, 1, {})
end

local Sub = {}
Sub.__index = Sub

--- log:subscribe(backlog, level) -> subscription: sub:next() waits for
--- the next record (nil once closed); sub:close().
function Log:subscribe(backlog, level)
  local sub = setmetatable({ q = queue.new(SUB_QUEUE), dropped = 0,
    rank = RANK[level or "info"] or 1, owner = self }, Sub)
  for _, rec in ipairs(self:backlog(backlog or 0)) do
    if RANK[rec.level] >= sub.rank then
      sub.q:try_put(rec)
    end
  end
  self.subs[sub] = true
  return sub
end

function Sub:next()
  local rec = self.q:get()
  if rec and self.dropped > 0 then
    local n = self.dropped
    self.dropped = 0
    return { time = rec.time, level = "warn", source = "exporter",
      message = ("%d log records dropped: this client read too slowly"):format(n) },
      rec
  end
  return rec
end

function Sub:close()
  self.owner.subs[self] = nil
  self.q:close()
end
Sub.__close = Sub.close

--- log:close(): stops recording and ends every subscription.
function Log:close()
  log.remove_sink(self.sink)
  for sub in pairs(self.subs) do
    sub:close()
  end
end

return M
