-- hilt.bus.channel_prefab: eric-sse's two prefabs on hilt's channels
-- (../shared/reference/seed-semantics.md §4.2), reached as
-- channel.processing and channel.app_listener.
--
-- A processing channel runs a handler over what a listener holds, in a
-- bounded number of tasks, and hands back the results as they complete:
--
--   local pch = channel.processing()
--   for r in pch:process(id, function(msg) return resize(msg.payload) end, 4) do
--     print(r.type, r.payload or r.error)
--   end
--
-- An application listener answers requests from other listeners on the
-- same channel: each action's replies go back to the request's sender.
--
--   local bob = channel.app_listener(ch)
--   bob:on("hello", function(msg) return { { "hello_ack", "hi " .. msg.payload } } end)
--   bob:start()
local hilt = require("hilt")
local channel = require("hilt.bus.channel")

local M = {}

-- --- processing channels ------------------------------------------------------

local Processing = setmetatable({}, { __index = channel.Channel })
Processing.__index = Processing
Processing.__tostring = channel.Channel.__tostring

local Run = {}
Run.__index = Run

--- processing([opts]) -> a channel (channel.new(opts)) that also has
--- process().
function M.processing(opts)
  return setmetatable(channel.new(opts), Processing)
end

-- The result of one message: its type and id, with the handler's value
-- as payload, or the handler's error as error. Cancellation is not a
-- result: it ends the worker.
local function outcome(handler, msg)
  local ok, res = pcall(handler, msg)
  if ok then
    return { type = msg.type, id = msg.id, payload = res }
  end
  if hilt.is_error(res, "cancelled") then
    error(res, 0)
  end
  return { type = msg.type, id = msg.id, error = tostring(res) }
end

--- pch:process(listener_id, handler, max_workers) -> run, nil, nil, run:
--- takes every message queued for the listener now and runs handler(msg)
--- on each, in at most max_workers tasks at once. The run is an iterator
--- (for a task) over { type, id, payload = handler's result } or
--- { type, id, error = message }, in completion order; a "_dropped" count
--- comes through first, unhandled. run:close() (also `<close>`, and the
--- end of a generic `for`) cancels handlers still running.
function Processing:process(listener_id, handler, max_workers)
  if type(handler) ~= "function" then
    error("bad argument #2 to 'process' (function expected, got "
      .. type(handler) .. ")", 2)
  end
  if math.type(max_workers) ~= "integer" or max_workers < 1 then
    error("bad argument #3 to 'process' (max_workers must be an integer >= 1)", 2)
  end
  local msgs = self:drain(listener_id)
  local run = setmetatable({ results = hilt.queue(), left = #msgs,
                             workers = {} }, Run)
  local next_i = 1
  if msgs[1] and msgs[1].id == nil then
    run.results:put(msgs[1])
    next_i = 2
  end
  -- Each worker takes the next message until none is left, so at most
  -- max_workers handlers run at once and none waits for a slot.
  local function work()
    while next_i <= #msgs do
      local msg = msgs[next_i]
      next_i = next_i + 1
      run.results:put(outcome(handler, msg))
    end
  end
  for i = 1, math.min(max_workers, #msgs - next_i + 1) do
    run.workers[i] = hilt.spawn(work)
  end
  return run, nil, nil, run
end

function Run:__call()
  if self.left == 0 then
    -- Every result is in; the workers end right after their last put.
    for _, t in ipairs(self.workers) do
      t:join()
    end
    self.workers = {}
    return nil
  end
  self.left = self.left - 1
  return self.results:get()
end

--- run:close(): cancels the handlers still running; idempotent.
function Run:close()
  for _, t in ipairs(self.workers) do
    if not t:done() then
      t:cancel()
    end
  end
  self.workers = {}
  self.left = 0
end

Run.__close = Run.close

-- --- application listeners -----------------------------------------------------

local App = {}
App.__index = App

local RESERVED = { start = true, stop = true }

--- app_listener(ch [, id]) -> listener: adds a listener to ch (with id,
--- or a new one) that runs an action per message type.
function M.app_listener(ch, id)
  local lid = ch:add_listener(id)
  return setmetatable({ id = lid, channel = ch, actions = {},
                        stopping = false }, App)
end

--- l:on(type, fn) -> l: fn(msg) runs for each message of that type and
--- returns a list of replies, each { type, payload } or
--- { type = t, payload = p }, or nil for none. "start" and "stop" are
--- reserved.
function App:on(mtype, fn)
  if type(mtype) ~= "string" or mtype == "" then
    error("bad argument #1 to 'on' (message type must be a non-empty string)", 2)
  end
  if RESERVED[mtype] then
    error(("bad argument #1 to 'on' ('%s' is reserved)"):format(mtype), 2)
  end
  if type(fn) ~= "function" then
    error("bad argument #2 to 'on' (function expected, got " .. type(fn) .. ")", 2)
  end
  self.actions[mtype] = fn
  return self
end

--- l:dispatch_to(receiver_id, type, payload) -> message id: sends to
--- another listener of the channel, signed with this listener's id.
function App:dispatch_to(receiver, mtype, payload)
  return self.channel:dispatch(receiver, mtype, payload, self.id)
end

local function log_debug(self, fmt, ...)
  hilt.log.at("debug", "channel " .. self.channel.id, "listener %s: " .. fmt,
    self.id, ...)
end

local function reply(self, msg, replies)
  if replies == nil then
    return
  end
  for _, r in ipairs(replies) do
    local mtype, payload = r[1], r[2]
    if r.type ~= nil then
      mtype, payload = r.type, r.payload
    end
    if msg.sender == nil or not self.channel:has_listener(msg.sender) then
      log_debug(self, "no sender to send '%s' to", tostring(mtype))
    else
      self:dispatch_to(msg.sender, mtype, payload)
    end
  end
end

--- l:handle(msg): what run() does with each message: "stop" ends run(),
--- "start" does nothing (the listener runs if it reads it), an action's
--- replies go to msg.sender; an unknown type is logged at debug. An
--- action's error is logged at warn and sent to the sender as "_error"
--- with payload { type = msg.type, error = message }.
function App:handle(msg)
  if msg.type == "stop" then
    self.stopping = true
    return
  end
  if msg.type == "start" then
    return
  end
  local fn = self.actions[msg.type]
  if fn == nil then
    log_debug(self, "no action for '%s', skipped", msg.type)
    return
  end
  local ok, err = pcall(function() reply(self, msg, fn(msg)) end)
  if ok then
    return
  end
  if hilt.is_error(err, "cancelled") then
    error(err, 0)
  end
  hilt.log.at("warn", "channel " .. self.channel.id,
    "listener %s: action '%s' failed: %s", self.id, msg.type, tostring(err))
  if msg.sender and self.channel:has_listener(msg.sender) then
    self:dispatch_to(msg.sender, "_error", { type = msg.type, error = tostring(err) })
  end
end

--- l:run(): in a task, handles the listener's messages until a "stop"
--- message, the listener's removal or the channel's closing.
function App:run()
  self.stopping = false
  for msg in self.channel:listen(self.id) do
    self:handle(msg)
    if self.stopping then
      break
    end
  end
end

--- l:start() -> task running l:run().
function App:start()
  return hilt.spawn(self.run, self)
end

--- l:stop(): sends this listener "stop", so run() ends once it has
--- handled what came before. Does nothing once the listener is gone.
function App:stop()
  if self.channel:has_listener(self.id) then
    self.channel:dispatch(self.id, "stop", nil, self.id)
  end
end

return M
