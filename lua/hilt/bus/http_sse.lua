-- hilt.bus.http_sse: the Server-Sent Events streams of hilt.bus.http
-- (docs/bus.md, "HTTP and Server-Sent Events"): the journal that numbers
-- the notifications of states and events and replays them to clients
-- coming back with Last-Event-ID, its clients, and channel streams.
-- hilt.bus.http parses the request and hands the connection over here;
-- each function below serves it until the client goes or the stream ends.
local hilt = require("hilt")
local hcore = require("hilt.core")
local json = require("hilt.json")
local log = require("hilt.log")

local M = {}

-- The response head of every SSE stream: no length, it ends at close.
local SSE_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
  .. "Cache-Control: no-cache\r\nConnection: close\r\n\r\n"

-- --- the journal ----------------------------------------------------------------

-- One per listener: the notifications of every path some SSE stream asked
-- for, numbered (the SSE ids), the last `size` kept (at most `max_bytes`
-- of text) so that a client coming back with Last-Event-ID gets what it
-- missed. A subscription (`subs`, by "state /a/b" or "event /c") is a hub
-- connection observing or listening to one path, its `clients` the
-- streams that want it, `from` the journal id when it started (nothing
-- before that is in the journal for its path) and, for a state, `data`,
-- its current value as SSE data.
local Journal = {}
Journal.__index = Journal

--- journal(hub, opts) -> journal. opts: journal (entries kept),
--- journal_bytes (text kept), linger (seconds a subscription outlives its
--- last client), retry, ping, max_queued (as hilt.bus.http's serve).
function M.journal(hub, opts)
  return setmetatable({ hub = hub, seq = 0, ring = {}, first = 1, last = 0,
    bytes = 0, evicted = 0, size = opts.journal, max_bytes = opts.journal_bytes,
    linger = opts.linger, opts = opts, subs = {} }, Journal)
end

local function value_data(path, value)
  if value == nil then
    value = json.null
  end
  local ok, text = pcall(json.encode, { path = path, value = value })
  if ok then
    return text
  end
  return json.encode({ path = path, error = text })
end

local function state_data(path, known, value)
  if not known then
    return json.encode({ path = path, unknown = true })
  end
  return value_data(path, value)
end

function Journal:append(sub, data)
  self.seq = self.seq + 1
  local text = ("id: %d\nevent: %s\ndata: %s\n\n"):format(self.seq, sub.kind, data)
  self.last = self.last + 1
  self.ring[self.last] = { id = self.seq, key = sub.key, text = text }
  self.bytes = self.bytes + #text
  while self.last - self.first + 1 > self.size
      or (self.bytes > self.max_bytes and self.first < self.last) do
    local e = self.ring[self.first]
    self.ring[self.first] = nil
    self.first = self.first + 1
    self.bytes = self.bytes - #e.text
    self.evicted = e.id
  end
  for c in pairs(sub.clients) do
    c:push(text)
  end
end

-- The subscription to `path` as `kind` ("state" or "event"), made if
-- there is none; raises the hub's error (invalid_path, path_is_wrong_type).
function Journal:acquire(kind, path)
  local key = kind .. " " .. path
  local sub = self.subs[key]
  if sub == nil then
    -- A new subscription takes an id of its own, so that a client whose
    -- last id is older learns it was not followed since (a gap).
    self.seq = self.seq + 1
    sub = { key = key, kind = kind, path = path, clients = {}, from = self.seq }
    sub.conn = self.hub:connect({
      state = function(p, known, v)
        sub.data = state_data(p, known, v)
        self:append(sub, sub.data)
      end,
      event = function(p, v) self:append(sub, value_data(p, v)) end,
    })
    local ok, err = pcall(function()
      if kind == "state" then
        sub.data = state_data(path, sub.conn:state_observe(path))
      else
        sub.conn:event_listen(path)
      end
    end)
    if not ok then
      sub.conn:disconnect()
      error(err, 0)
    end
    self.subs[key] = sub
  end
  if sub.timer then
    sub.timer:stop()
    sub.timer = nil
  end
  return sub
end

local function drop(self, sub)
  if self.subs[sub.key] == sub and next(sub.clients) == nil then
    self.subs[sub.key] = nil
    sub.conn:disconnect()
  end
end

-- A subscription no stream wants goes after `linger` seconds (so that a
-- client reconnecting within them misses nothing).
function Journal:release(sub)
  if next(sub.clients) ~= nil or sub.timer or self.closed then
    return
  end
  if self.linger <= 0 then
    return drop(self, sub)
  end
  sub.timer = hilt.after(self.linger, function()
    sub.timer = nil
    drop(self, sub)
  end)
end

-- What a client resuming after id `after` is owed: the kept entries for
-- its subscriptions, or nil when the journal cannot tell (entries gone,
-- a path not followed all along, an id from before a restart) or when it
-- is more than the client may have waiting.
function Journal:replay(subs, after, max)
  if after > self.seq or after < self.evicted then
    return nil
  end
  local want = {}
  for _, sub in ipairs(subs) do
    if sub.from > after then
      return nil
    end
    want[sub.key] = true
  end
  local out, n = {}, 0
  for i = self.first, self.last do
    local e = self.ring[i]
    if e.id > after and want[e.key] then
      out[#out + 1] = e.text
      n = n + #e.text
    end
  end
  if n > max then
    return nil
  end
  return table.concat(out)
end

-- The current value of each state; the last carries the journal's id, so
-- that a client has it only once it has them all.
function Journal:snapshot(subs, after)
  local out = {}
  if after then
    out[1] = ("event: gap\ndata: %s\n\n"):format(json.encode({ last_event_id = after }))
  end
  local states = {}
  for _, sub in ipairs(subs) do
    if sub.kind == "state" then states[#states + 1] = sub end
  end
  for i, sub in ipairs(states) do
    local id = i == #states and ("id: %d\n"):format(self.seq) or ""
    out[#out + 1] = ("%sevent: state\ndata: %s\n\n"):format(id, sub.data)
  end
  if #states == 0 then
    out[#out + 1] = ("id: %d\n\n"):format(self.seq)
  end
  return table.concat(out)
end

function Journal:close()
  self.closed = true
  for _, sub in pairs(self.subs) do
    if sub.timer then sub.timer:stop() end
    sub.conn:disconnect()
  end
  self.subs = {}
end

--- journal:follow(wants) -> subscriptions | nil, err, path: the
--- subscriptions for wants, a list of {"state"|"event", path} (repeats
--- once); on the hub's refusal of one, none is kept.
function Journal:follow(wants)
  local subs, seen = {}, {}
  for _, w in ipairs(wants) do
    local key = w[1] .. " " .. w[2]
    if not seen[key] then
      seen[key] = true
      local ok, sub = pcall(self.acquire, self, w[1], w[2])
      if not ok then
        for _, held in ipairs(subs) do self:release(held) end
        return nil, sub, w[2]
      end
      subs[#subs + 1] = sub
    end
  end
  return subs
end

-- --- SSE streams ------------------------------------------------------------------

-- An /events client: what waits to be written (`pending`, `bytes`), and a
-- bell its writer waits on.
local Client = {}
Client.__index = Client

-- Queues text for the client; one that lets more than `max` bytes wait
-- (here and in its stream) is dropped. Never blocks: it runs in whatever
-- task made the notification.
function Client:push(text)
  if self.dead then
    return
  end
  local waiting = self.bytes + self.stream:queued()
  if waiting + #text > self.max then
    self.dead = true
    log.at("warn", "http", "%s: SSE client too slow (%d bytes waiting), dropped",
      tostring(self.stream), waiting)
    self.stream:close()
    self.bell:close()
    return
  end
  self.pending[#self.pending + 1] = text
  self.bytes = self.bytes + #text
  self.bell:try_put(true)
end

-- The client's writer: what is pending, as it comes, and ": ping" after
-- `ping` seconds of silence. Ends when the client is dropped; raises when
-- its stream fails.
function Client:pump(ping)
  while true do
    local ok, rung = pcall(hilt.timeout, ping, self.bell.get, self.bell)
    if not ok then
      if not hcore.is_error(rung, "timeout") then
        error(rung, 0)
      end
      self.pending[#self.pending + 1] = ": ping\n\n"
    elseif rung == nil then
      return
    end
    local text = table.concat(self.pending)
    self.pending, self.bytes = {}, 0
    self.stream:write(text)
  end
end

-- Runs pump() in a task of its own while this task reads the stream, so
-- that a client going away (EOF) ends the stream at once; a pump that
-- ends closes the stream.
local function run_stream(s, pump)
  local writer = hilt.spawn(function()
    local ok, err = pcall(pump)
    if not ok and not hcore.is_error(err, "cancelled") then
      log.at("debug", "http", "%s: %s", tostring(s), tostring(err))
    end
    s:close()
  end)
  while true do
    local ok, bytes = pcall(s.read, s)
    if not ok or bytes == nil then break end
  end
  writer:cancel()
  pcall(writer.join, writer)
end

--- journal:serve(s, subs, after): streams subs (from follow) on s until
--- the client goes: the values and changes it missed since id `after`,
--- or (fresh, or when that cannot be told) the current values, then
--- every notification. Releases subs at the end.
function Journal:serve(s, subs, after)
  local o = self.opts
  -- From here to the writer's start nothing yields: what the client is
  -- owed now goes before any notification from now on.
  local owed = after and self:replay(subs, after, o.max_queued)
    or self:snapshot(subs, after)
  local first = SSE_HEAD .. ("retry: %d\n\n"):format(o.retry) .. owed
  local c = setmetatable({ stream = s, max = o.max_queued, bytes = #first,
    bell = hilt.queue(1), pending = { first } }, Client)
  for _, sub in ipairs(subs) do sub.clients[c] = true end
  c.bell:try_put(true)
  run_stream(s, function() c:pump(o.ping) end)
  c.dead = true
  for _, sub in ipairs(subs) do
    sub.clients[c] = nil
    self:release(sub)
  end
end

-- One channel message as an SSE event; its type is kept to one line.
local function channel_event(msg)
  local ok, data = pcall(json.encode, msg.payload == nil and json.null or msg.payload)
  local mtype = msg.type
  if not ok then
    mtype, data = "_error", json.encode({ type = msg.type, error = data })
  end
  local id = msg.id and ("id: %d\n"):format(msg.id) or ""
  return ("%sevent: %s\ndata: %s\n\n"):format(id, (mtype:gsub("[\r\n]", " ")), data)
end

-- Writes a channel's messages until its iterator ends, with pings.
local function channel_pump(s, ch, next_msg, ping)
  local function take() return next_msg() end
  s:write(SSE_HEAD .. ("retry: %d\n\n"):format(ch.retry))
  while true do
    local ok, msg = pcall(hilt.timeout, ping, take)
    if not ok then
      if not hcore.is_error(msg, "timeout") then
        error(msg, 0)
      end
      s:write(": ping\n\n")
    elseif msg == nil then
      return
    else
      s:write(channel_event(msg))
    end
  end
end

--- listen(s, ch, next_msg, ping): streams a channel listener's messages
--- (next_msg, from ch:listen) on s until the listener goes or the client
--- does.
function M.listen(s, ch, next_msg, ping)
  run_stream(s, function() channel_pump(s, ch, next_msg, ping) end)
end

--- watch(s, ch, ping): streams what is broadcast on ch from now on, with
--- a watcher that goes with the client.
function M.watch(s, ch, ping)
  run_stream(s, function()
    local watcher <close> = ch:watch()
    channel_pump(s, ch, watcher, ping)
  end)
end

return M
