-- hilt.bus.channel: eric-sse's channels (../shared/reference/seed-semantics.md
-- §4) on hilt's tasks. A channel holds listeners; each listener has a
-- bounded queue of messages. dispatch puts a message on one listener's
-- queue, broadcast on every listener's. A task reads a listener with
-- listen(), which blocks until a message arrives (no polling) and ends
-- when the listener is removed or the channel closed.
--
--   local channel = require("hilt.bus.channel")
--   local ch = channel.new()
--   local id = ch:add_listener()
--   hilt.spawn(function()
--     for msg in ch:listen(id) do print(msg.type, msg.payload) end
--   end)
--   ch:dispatch(id, "hello", { to = "you" })
--
-- A message is { type = string, payload = JSON-able value, id = integer,
-- sender = listener id | nil }. ids count up per channel; one broadcast is
-- one message (one id, one table shared by every listener: do not change
-- it). Messages the channel makes itself ("_dropped", "_gap") have no id.
-- The registry, the prefabs and the control socket's verbs are in
-- channel_container.lua, channel_prefab.lua and channel_command.lua;
-- docs/bus.md has the whole API.
local Queue = require("hilt.queue")

local M = {}

local Channel = {}
Channel.__index = Channel
M.Channel = Channel

local Watcher = {}
Watcher.__index = Watcher

local id_count = 0

--- new_id() -> 16 hex digits: a counter, unique in this process, and
--- random bits, so that ids differ between runs.
function M.new_id()
  id_count = id_count + 1
  return ("%08x%08x"):format(id_count & 0xffffffff,
    math.random(0, 0xffffffff))
end

-- --- arguments ------------------------------------------------------------------

local function arg_error(n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3)
end

local function check_id(v, n, fname)
  if type(v) ~= "string" or v == "" then
    arg_error(n, fname, "id must be a non-empty string, got " .. type(v))
  end
  return v
end

local function check_type(v, n, fname)
  if type(v) ~= "string" or v == "" then
    arg_error(n, fname, "message type must be a non-empty string, got "
      .. type(v))
  end
end

local JSONABLE = { ["nil"] = true, boolean = true, number = true,
                   string = true, table = true }

local function check_payload(v, n, fname)
  if not JSONABLE[type(v)] then
    arg_error(n, fname, "payload must be a JSON-able value, got " .. type(v))
  end
end

local function check_sender(v, n, fname)
  if v ~= nil and type(v) ~= "string" then
    arg_error(n, fname, "sender must be a listener id or nil, got " .. type(v))
  end
end

local function check_count(v, name, min, default)
  if v == nil then
    return default
  end
  if math.type(v) ~= "integer" or v < min then
    error(("bad option '%s' to 'channel.new' (integer >= %d expected, got %s)")
      :format(name, min, tostring(v)), 3)
  end
  return v
end

-- --- an ordered set of ids ----------------------------------------------------------

local function ordered_add(set, id, v)
  set.list[#set.list + 1] = id
  set.map[id] = v
end

local function ordered_del(set, id)
  set.map[id] = nil
  for i, v in ipairs(set.list) do
    if v == id then
      table.remove(set.list, i)
      return
    end
  end
end

local function ordered_ids(set)
  return table.move(set.list, 1, #set.list, 1, {})
end

-- --- listeners ----------------------------------------------------------------------

-- A listener: its queue of undelivered messages, how many were dropped
-- since its reader last heard, and a ring of the last delivered messages
-- (first..last) for readers that resume; `evicted` is the id of the
-- newest message that left the ring.
local function new_listener(ch, id)
  return {
    id = id, queue = Queue.new(), dropped = 0, removed = false,
    ring = {}, first = 1, last = 0, evicted = nil, history = ch.history,
  }
end

local function push(ch, l, msg)
  if l.queue:len() >= ch.max_queue then
    l.queue:try_get()
    l.dropped = l.dropped + 1
  end
  l.queue:try_put(msg)
end

local function remember(l, msg)
  if l.history == 0 then
    l.evicted = msg.id
    return
  end
  l.last = l.last + 1
  l.ring[l.last] = msg
  if l.last - l.first + 1 > l.history then
    l.evicted = l.ring[l.first].id
    l.ring[l.first] = nil
    l.first = l.first + 1
  end
end

local function detach(l)
  l.removed = true
  l.queue:close()
end

-- --- channels -------------------------------------------------------------------------

--- new([opts]) -> channel. opts.id (default: new_id()), opts.retry (SSE
--- retry in ms, default 3000), opts.max_queue (messages a listener holds
--- before the oldest is dropped, default 1024), opts.history (delivered
--- messages a listener keeps for resuming readers, default 256).
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error("bad argument #1 to 'channel.new' (table of options expected)", 2)
  end
  local id = opts.id
  if id == nil then
    id = M.new_id()
  end
  check_id(id, 1, "channel.new")
  return setmetatable({
    id = id,
    retry = check_count(opts.retry, "retry", 0, 3000),
    max_queue = check_count(opts.max_queue, "max_queue", 1, 1024),
    history = check_count(opts.history, "history", 0, 256),
    listeners_ = { list = {}, map = {} },
    seq = 0,
    closed = false,
  }, Channel)
end

local function check_open(ch, fname)
  if ch.closed then
    error(("%s: channel '%s' is closed"):format(fname, ch.id), 3)
  end
end

local function get_listener(ch, id, fname)
  local l = ch.listeners_.map[id]
  if l == nil then
    error(("%s: no listener '%s' on channel '%s'"):format(fname,
      tostring(id), ch.id), 3)
  end
  return l
end

--- add_listener([id]) -> listener id. The listener queues what is sent
--- to it from now on, whether or not anyone reads it yet.
function Channel:add_listener(id)
  check_open(self, "add_listener")
  if id == nil then
    id = M.new_id()
  end
  check_id(id, 1, "add_listener")
  if self.listeners_.map[id] then
    error(("add_listener: listener '%s' is already on channel '%s'")
      :format(id, self.id), 2)
  end
  ordered_add(self.listeners_, id, new_listener(self, id))
  return id
end

--- remove_listener(id): drops the listener and what it holds; its
--- readers' iterators end.
function Channel:remove_listener(id)
  local l = get_listener(self, id, "remove_listener")
  ordered_del(self.listeners_, id)
  detach(l)
end

--- has_listener(id) -> boolean.
function Channel:has_listener(id)
  return self.listeners_.map[id] ~= nil
end

--- listener(id) -> { id, queued, dropped, history }: a snapshot of the
--- listener: messages waiting, dropped and not yet reported, kept for resume.
function Channel:listener(id)
  local l = get_listener(self, id, "listener")
  return { id = id, queued = l.queue:len(), dropped = l.dropped,
           history = l.last - l.first + 1 }
end

--- listeners() -> listener ids, oldest first.
function Channel:listeners()
  return ordered_ids(self.listeners_)
end

local function new_message(ch, mtype, payload, sender)
  ch.seq = ch.seq + 1
  return { type = mtype, payload = payload, id = ch.seq, sender = sender }
end

--- dispatch(listener_id, type, payload [, sender]) -> message id: queues
--- the message for that one listener.
function Channel:dispatch(listener_id, mtype, payload, sender)
  check_open(self, "dispatch")
  local l = get_listener(self, listener_id, "dispatch")
  check_type(mtype, 2, "dispatch")
  check_payload(payload, 3, "dispatch")
  check_sender(sender, 4, "dispatch")
  local msg = new_message(self, mtype, payload, sender)
  push(self, l, msg)
  return msg.id
end

--- broadcast(type, payload [, sender]) -> message id: queues the message
--- for every listener, the sender's own included.
function Channel:broadcast(mtype, payload, sender)
  check_open(self, "broadcast")
  check_type(mtype, 1, "broadcast")
  check_payload(payload, 2, "broadcast")
  check_sender(sender, 3, "broadcast")
  local msg = new_message(self, mtype, payload, sender)
  for _, id in ipairs(self.listeners_.list) do
    push(self, self.listeners_.map[id], msg)
  end
  return msg.id
end

-- What a reader resuming after message `after` gets before the queue:
-- the delivered messages still in the ring with a greater id, preceded by
-- a "_gap" message when some newer than `after` have left the ring.
local function replay(l, after)
  local out = {}
  if l.evicted and l.evicted > after then
    out[1] = { type = "_gap",
               payload = { from = after, oldest = l.ring[l.first] and l.ring[l.first].id } }
  end
  for i = l.first, l.last do
    if l.ring[i].id > after then
      out[#out + 1] = l.ring[i]
    end
  end
  return out
end

-- The next message for one reader of l, waiting for it; nil once l is
-- removed. A "_dropped" count goes before the first message that came
-- after the dropped ones.
local function next_message(l, state)
  if l.removed then
    return nil
  end
  local msg = state.replay[state.i]
  if msg then
    state.i = state.i + 1
    return msg
  end
  msg, state.held = state.held, nil
  if msg == nil then
    if l.dropped == 0 then
      msg = l.queue:get()
      if l.removed or msg == nil then
        return nil
      end
    else
      msg = l.queue:try_get()
    end
    -- Whatever was dropped is older than what is left, so the count goes
    -- first, even when the drops happened while this reader waited.
    if l.dropped > 0 then
      local n = l.dropped
      l.dropped = 0
      state.held = msg
      return { type = "_dropped", payload = n }
    end
  end
  remember(l, msg)
  return msg
end

--- listen(listener_id [, opts]) -> iterator over the listener's messages,
--- for a task: each call waits for the next message and returns it, or
--- nil once the listener is removed or the channel closed. opts.after = a
--- message id: first replay the delivered messages newer than it (SSE's
--- Last-Event-ID), with a "_gap" message if some are no longer kept.
function Channel:listen(listener_id, opts)
  check_open(self, "listen")
  local l = get_listener(self, listener_id, "listen")
  local after = opts and opts.after
  if after ~= nil and math.type(after) ~= "integer" then
    arg_error(2, "listen", "opts.after must be an integer message id")
  end
  local state = { replay = after and replay(l, after) or {}, i = 1 }
  return function()
    return next_message(l, state)
  end
end

--- drain(listener_id) -> list of the messages queued for the listener now,
--- oldest first, taken as a reader takes them (a "_dropped" count first if
--- some were dropped). Never waits.
function Channel:drain(listener_id)
  local l = get_listener(self, listener_id, "drain")
  local out = {}
  if l.dropped > 0 then
    out[1] = { type = "_dropped", payload = l.dropped }
    l.dropped = 0
  end
  for msg in l.queue.try_get, l.queue do
    remember(l, msg)
    out[#out + 1] = msg
  end
  return out
end

--- watch() -> watcher, listener id, nil, watcher: a new listener and an
--- iterator over it, which sees what is broadcast from now on. The watcher
--- is callable as the iterator; watcher:close() (also `<close>`, and a
--- generic `for` closes it when the loop ends by break, return or error)
--- removes the listener.
---   for msg in ch:watch() do ... end
function Channel:watch()
  check_open(self, "watch")
  local id = self:add_listener()
  local w = setmetatable({ id = id, channel = self, closed = false,
                           next = self:listen(id) }, Watcher)
  return w, id, nil, w
end

function Watcher:__call()
  return self.next()
end

--- watcher:close(): removes the watcher's listener; idempotent.
function Watcher:close()
  if self.closed then
    return
  end
  self.closed = true
  if self.channel:has_listener(self.id) then
    self.channel:remove_listener(self.id)
  end
end

Watcher.__close = Watcher.close
Watcher.__gc = Watcher.close

--- close(): removes every listener, ending every reader; the channel
--- takes no more listeners or messages. Idempotent.
function Channel:close()
  if self.closed then
    return
  end
  self.closed = true
  local set = self.listeners_
  self.listeners_ = { list = {}, map = {} }
  for _, id in ipairs(set.list) do
    detach(set.map[id])
  end
end

function Channel:__tostring()
  return ("channel %s (%d listeners%s)"):format(self.id,
    #self.listeners_.list, self.closed and ", closed" or "")
end

--- container() -> a registry of channels by id
--- (hilt.bus.channel_container).
function M.container()
  return require("hilt.bus.channel_container").new()
end

-- --- prefabs and the control socket's verbs (in their own files) ------------------

--- processing([opts]) -> processing channel (hilt.bus.channel_prefab).
function M.processing(opts)
  return require("hilt.bus.channel_prefab").processing(opts)
end

--- app_listener(ch [, id]) -> application listener (hilt.bus.channel_prefab).
function M.app_listener(ch, id)
  return require("hilt.bus.channel_prefab").app_listener(ch, id)
end

--- command(cc, request, write_line) -> response
--- (hilt.bus.channel_command).
function M.command(cc, request, write_line)
  return require("hilt.bus.channel_command").command(cc, request, write_line)
end

return M
