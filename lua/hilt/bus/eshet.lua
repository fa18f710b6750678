-- The hub over ESHET's binary protocol v1 (reference: seed-semantics
-- §1.1-1.2), so that ESHET clients and microcontroller firmware work
-- unchanged: frames are decoded by hilt.eshet.core, values are msgpack.
--
-- Each connection is a hub connection. Requests that only touch the hub
-- are answered in order as they arrive; those that wait on another
-- client (calls, a property's get and set, a state's set) each run in a
-- task, so a slow owner holds up no one else, as in ESHET's server. What
-- the hub asks of an owner goes out with ids of this end's own, and the
-- owner's reply comes back to the waiting task.
--
-- Bad input (a wrong sync byte, an unknown type, a frame that does not
-- parse, a reply to nothing, a hello of another version) closes that
-- connection only, with a log line naming the peer and the problem.
local hilt = require("hilt")
local hcore = require("hilt.core")
local net = require("hilt.net")
local msgpack = require("hilt.msgpack")
local eshet = require("hilt.eshet.core")
local log = require("hilt.log")
local idle = require("hilt.bus.idle")

local M = {}

local VERSION = 1
-- Notifications queued for a client that does not read: past this it is
-- dropped rather than let the hub's memory grow.
local MAX_QUEUED = 4 * 1024 * 1024

local UNPACK = { binary = "string" }

local function unpack_value(bytes)
  if bytes == nil then
    return nil
  end
  return (msgpack.unpack(bytes, 1, UNPACK))
end

-- The value an error carries to an ESHET client: an ESHET owner's own
-- error value, else the hub's error name or the owner's message.
local function error_value(err)
  if hcore.is_error(err) then
    if err.value ~= nil then
      return err.value
    end
    return err.message
  end
  return tostring(err)
end

local Client = {}
Client.__index = Client

function Client:send(name, fields)
  if self.closed then
    return
  end
  local ok, err = pcall(self.stream.write, self.stream, eshet.encode(name, fields))
  if not ok then
    self:close(hcore.is_error(err) and err.message or tostring(err))
  end
end

function Client:reply(id, ok, value)
  local okp, bytes = pcall(msgpack.pack, value)
  if not okp then
    ok, bytes = false, msgpack.pack("bad_value: " .. tostring(bytes))
  end
  self:send("reply", { id = id, ok = ok, value = bytes })
end

-- A notification: dropped with the client when it has stopped reading.
function Client:notify(name, fields)
  if self.closed then
    return
  end
  if self.stream:queued() > MAX_QUEUED then
    return self:close("not reading: over 4 MiB of notifications queued")
  end
  self:send(name, fields)
end

function Client:close(why)
  if self.closed then
    return
  end
  self.closed = true
  if why then
    log.at("info", "eshet", "%s: closed: %s", self.name, why)
  end
  self.hc:disconnect()
  for _, q in pairs(self.waiting) do
    q:try_put(false)
  end
  self.stream:close()
end

-- Sends a request to this client (an owner) and waits for its reply.
function Client:ask(name, path, value)
  if self.closed then
    error(hcore.error("failed", "client_exited"), 0)
  end
  local id = self.next_id
  while self.waiting[id] do
    id = (id + 1) & 0xffff
  end
  self.next_id = (id + 1) & 0xffff
  local q = hilt.queue(1)
  self.waiting[id] = q
  local fields = { id = id, path = path }
  if value ~= nil then
    fields.value = msgpack.pack(value)
  end
  self:send(name, fields)
  local ok, reply = pcall(q.get, q)
  self.waiting[id] = nil
  if not ok then
    error(reply, 0)
  end
  if not reply then
    error(hcore.error("failed", "client_exited"), 0)
  end
  local v = unpack_value(reply.value)
  if reply.ok then
    return v
  end
  local err = hcore.error("failed", type(v) == "string" and v or "error")
  err.value = v
  error(err, 0)
end

-- What the hub asks of this client.
local function peer_of(self)
  return {
    call = function(path, args)
      return self:ask("action_call", path,
        msgpack.array(args, args.n or #args))
    end,
    prop_get = function(path) return self:ask("prop_get", path) end,
    prop_set = function(path, v) return self:ask("prop_set", path, v) end,
    state_set = function(path, v) return self:ask("state_set", path, v) end,
    event = function(path, v)
      local ok, bytes = pcall(msgpack.pack, v)
      if ok then
        self:notify("event_notify", { path = path, value = bytes })
      end
    end,
    state = function(path, known, v)
      if known then
        local ok, bytes = pcall(msgpack.pack, v)
        if ok then
          self:notify("state_notify", { path = path, known = true, value = bytes })
        end
      else
        self:notify("state_notify", { path = path, known = false })
      end
    end,
    close = function(why) self:close(why) end,
  }
end

-- A client id as the hub keys it: strings and integers as themselves,
-- anything else by its msgpack bytes.
local function client_key(bytes)
  local ok, v = pcall(unpack_value, bytes)
  if ok and (type(v) == "string" or math.type(v) == "integer") then
    return v
  end
  return "eshet:" .. bytes
end

-- Requests answered by the hub alone, at once and in order.
local DIRECT = {
  ping = function() return nil end,
  action_register = function(c, m) c:registered(); c.hc:action_register(m.path) end,
  prop_register = function(c, m) c.hc:prop_register(m.path) end,
  event_register = function(c, m) c:registered(); c.hc:event_register(m.path) end,
  state_register = function(c, m) c:registered(); c.hc:state_register(m.path) end,
  event_listen = function(c, m) c.hc:event_listen(m.path) end,
  event_emit = function(c, m) c.hc:event_emit(m.path, unpack_value(m.value)) end,
  state_changed = function(c, m) c.hc:state_changed(m.path, unpack_value(m.value)) end,
  state_unknown = function(c, m) c.hc:state_unknown(m.path) end,
}

-- Requests that may wait on another client: each in a task.
local FORWARDED = {
  action_call = function(c, m)
    local args = unpack_value(m.value)
    if type(args) ~= "table" then
      args = { args, n = 1 }
    end
    return c.hc:action_call(m.path, args)
  end,
  get = function(c, m) return c.hc:get(m.path) end,
  set = function(c, m) return c.hc:set(m.path, unpack_value(m.value)) end,
}

-- ESHET's hub refuses registrations from a client that has not said hello.
function Client:registered()
  if not self.hello then
    error(hcore.error("failed", "unregistered"), 0)
  end
end

function Client:observe(m, timed)
  local known, value, age = self.hc:state_observe(m.path)
  local fields = { id = m.id, known = known }
  if known then
    fields.value = msgpack.pack(value)
  end
  if timed then
    fields.ms = math.min(math.floor(age * 1000), 0xffffffff)
    self:send("reply_state_t", fields)
  else
    self:send("reply_state", fields)
  end
end

function Client:hello_from(m)
  if m.version ~= VERSION then
    return self:close(("hello with protocol version %d (this hub speaks %d)")
      :format(m.version, VERSION))
  end
  self.timeout = m.timeout
  if m.type == "hello_id" then
    self.hc:hello(client_key(m.value))
    self.hello = true
    self:send("hello_server", {})
  else
    local id = self.hc:hello()
    self.hello = true
    self:send("hello_id_server", { value = msgpack.pack(id) })
  end
end

-- One message from the client.
function Client:handle(m)
  local t = m.type
  if t == "hello" or t == "hello_id" then
    return self:hello_from(m)
  elseif t == "reply" then
    local q = self.waiting[m.id]
    if not q then
      return self:close(("a reply to id %d, which was never asked"):format(m.id))
    end
    self.waiting[m.id] = nil
    q:try_put(m)
    return
  elseif t == "state_observe" or t == "state_observe_t" then
    local ok, err = pcall(self.observe, self, m, t == "state_observe_t")
    if not ok then
      self:reply(m.id, false, error_value(err))
    end
    return
  end
  local direct = DIRECT[t]
  if direct then
    local ok, res = pcall(direct, self, m)
    if not ok then
      res = error_value(res)
    end
    return self:reply(m.id, ok, res)
  end
  local forwarded = FORWARDED[t]
  if forwarded then
    hilt.spawn(function()
      local ok, res = pcall(forwarded, self, m)
      if not ok then
        res = error_value(res)
      end
      self:reply(m.id, ok, res)
    end)
    return
  end
  self:close(("'%s' (0x%02x) is not a message a client sends"):format(t, m.code))
end

function Client:run()
  local d <close> = eshet.decoder()
  while not self.closed do
    local ok, bytes = pcall(self.stream.read, self.stream)
    if not ok or bytes == nil then
      return self:close(ok and "closed by the client" or
        (hcore.is_error(bytes) and bytes.message or tostring(bytes)))
    end
    self.last = hilt.now()
    local msgs, err = d:feed(bytes)
    for _, m in ipairs(msgs) do
      if self.closed then
        return
      end
      local hok, herr = pcall(self.handle, self, m)
      if not hok then
        return self:close("bad message: " .. tostring(hcore.is_error(herr)
          and herr.message or herr))
      end
    end
    if err then
      return self:close(err)
    end
  end
end

--- serve(hub, addr) -> listener: ESHET's protocol on addr ("tcp://host:port";
--- ESHET's port is 11236).
function M.serve(hub, addr)
  local clients = {}
  local listener = net.listen(addr, function(stream)
    local c = setmetatable({ stream = stream, name = tostring(stream),
      waiting = {}, next_id = 0, timeout = 0, last = hilt.now() }, Client)
    c.hc = hub:connect(peer_of(c))
    clients[c] = c
    c:run()
    clients[c] = nil
  end)
  return idle.listener(listener, clients, function(c, _, why) c:close(why) end)
end

return M
