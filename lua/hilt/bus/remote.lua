-- The link from a bus client to `hilt hub` over hilt's wire, with ESHET's
-- client timeouts and reconnection (reference: seed-semantics §1.2):
--
-- - it says hello with its client id (the hub evicts an older connection
--   holding it) and the server timeout, after which a silent client is
--   dropped;
-- - while it waits on the hub (docs/bus.md: registrations or
--   observations) it pings when it has sent nothing for idle_ping
--   seconds, drops a connection whose ping is not answered in
--   ping_timeout, and reconnects every reconnect_delay seconds until the
--   hub is back, then replays what it held (Bus:replay);
-- - a client that only calls, gets and sets connects when it next asks.
--
-- Requests while disconnected fail `unavailable`, naming the hub.
local hilt = require("hilt")
local hcore = require("hilt.core")
local rpc = require("hilt.rpc")
local log = require("hilt.log")

local M = {}

local Link = {}
Link.__index = Link

local DEFAULTS = { idle_ping = 15, server_timeout = 30, ping_timeout = 5,
  reconnect_delay = 1 }

-- The client's side of the wire: what the hub calls back (docs/bus.md).
local function router_of(bus, link)
  local peer = bus.peer
  return { bus = {
    evicted = function(why) link.evicted = why end,
    call = function(path, ...) return peer.call(path, table.pack(...)) end,
    prop_get = peer.prop_get,
    prop_set = peer.prop_set,
    state_set = peer.state_set,
    -- Notifications run in order in hilt.rpc's notification task, and the
    -- callbacks in it.
    event = function(path, v) peer.event(path, v, true) end,
    state = function(path, known, v) peer.state(path, known, v, true) end,
  } }
end

--- open(bus, addr, opts) -> link
function M.open(bus, addr, opts)
  local self = setmetatable({ bus = bus, addr = addr, connected = false,
    client_id = opts.client_id, token = opts.token, waiters = {},
    last_sent = hilt.now() }, Link)
  for k, v in pairs(DEFAULTS) do
    self[k] = opts[k] or v
  end
  self.router = router_of(bus, self)
  -- The first connection is made now, so that a script's first request
  -- finds it; if the hub is not there, requests fail naming it, and
  -- registrations wait for it.
  local ok, err = pcall(self.dial, self)
  if not ok then
    self.first_error = hcore.is_error(err) and err.message or tostring(err)
  end
  return self
end

function Link:unavailable(why)
  return hcore.error("unavailable", ("bus hub at %s: %s"):format(self.addr, why))
end

-- One attempt: connect, hello, replay. Raises on failure.
function Link:dial()
  local conn = rpc.connect(self.addr, { router = self.router,
    token = self.token, name = "hilt bus" })
  local ok, err = pcall(function()
    self.client_id = conn:call("bus/hello", self.client_id, self.server_timeout)
    self.bus.id = self.client_id
    self.conn = conn
    self.last_sent = hilt.now()
    self.bus:replay()
  end)
  if not ok then
    self.conn = nil
    conn:close()
    error(err, 0)
  end
  conn:keep_alive(self.keeping or false)
  conn:on_reset(function(why) self:down(conn, why) end)
  self.connected = true
  self.failures = 0
  for _, w in ipairs(self.waiters) do
    w:try_put(true)
  end
  self.waiters = {}
  if self.keeping then
    self:start_pinging()
  end
end

-- The connection ended: observers see Unknown, and a client that waits
-- on the hub starts reconnecting.
function Link:down(conn, why)
  if self.conn ~= conn then
    return
  end
  self.conn, self.connected = nil, false
  if self.pinger then
    self.pinger:stop()
    self.pinger = nil
  end
  if self.evicted and not self.closed then
    log.at("error", "bus", "the hub at %s dropped this client: %s (another "
      .. "client uses the id %s); not reconnecting", self.addr, self.evicted,
      tostring(self.client_id))
    self.bus:lost()
    self:close()
  elseif not self.closed then
    log.at("warn", "bus", "lost the hub at %s: %s", self.addr, tostring(why))
    self.bus:lost()
    if self.keeping then
      self:reconnect()
    end
  end
end

function Link:reconnect()
  if self.dialing or self.closed then
    return
  end
  self.dialing = hilt.spawn(function()
    while not self.closed and not self.connected do
      local ok, err = pcall(self.dial, self)
      if not ok and hcore.is_error(err, "cancelled") then
        error(err, 0)
      end
      if ok then
        log.at("info", "bus", "connected to the hub at %s as %s", self.addr,
          tostring(self.client_id))
        break
      end
      self.failures = (self.failures or 0) + 1
      if self.failures == 1 then
        log.at("warn", "bus", "cannot reach the hub at %s: %s (retrying every %gs)",
          self.addr, hcore.is_error(err) and err.message or tostring(err),
          self.reconnect_delay)
      end
      hilt.sleep(self.reconnect_delay)
    end
    self.dialing = nil
  end)
end

-- Pings when nothing was sent for idle_ping seconds; an unanswered ping
-- drops the connection, which reconnects.
function Link:start_pinging()
  if self.pinger then
    return
  end
  local step = math.min(1, self.idle_ping)
  self.pinger = hilt.every(step, function()
    local conn = self.conn
    if not conn or hilt.now() - self.last_sent < self.idle_ping then
      return
    end
    self.last_sent = hilt.now()
    local ok, err = pcall(conn.call_with, conn, { timeout = self.ping_timeout },
      "bus/ping")
    if not ok and self.conn == conn then
      log.at("warn", "bus", "the hub at %s did not answer a ping: %s",
        self.addr, hcore.is_error(err) and err.message or tostring(err))
      conn:close()
    end
  end)
end

--- link:interest(): the client now waits on the hub (it registered or
--- observed something): keep the process running, ping, reconnect.
function Link:interest()
  if self.keeping or self.closed then
    return
  end
  self.keeping = true
  if self.conn then
    self.conn:keep_alive(true)
    self:start_pinging()
  else
    self:reconnect()
  end
end

function Link:request(op, ...)
  if self.closed then
    error(self:unavailable(self.evicted and ("evicted: " .. self.evicted)
      or "the bus is closed"), 0)
  end
  local conn = self.conn
  if not conn then
    if self.keeping then
      error(self:unavailable("not connected (reconnecting)"), 0)
    end
    local ok, err = pcall(self.dial, self)
    if not ok then
      error(self:unavailable(hcore.is_error(err) and err.message or tostring(err)), 0)
    end
    conn = self.conn
  end
  self.last_sent = hilt.now()
  if op == "action_call" then
    local path, args = ...
    return conn:call("bus/action_call", path, table.unpack(args, 1, args.n))
  elseif op == "state_observe" then
    local r = conn:call("bus/state_observe", ...)
    return r.known, r.value, r.age
  end
  return conn:call("bus/" .. op, ...)
end

--- link:stream(op, ...) -> stream: a streaming request (channels).
function Link:stream(op, ...)
  if not self.conn then
    self:request("ping")
  end
  self.last_sent = hilt.now()
  return self.conn:stream("bus/" .. op, ...)
end

--- link:wait([timeout]) -> true | nil, why
function Link:wait(timeout)
  if self.connected then
    return true
  end
  if self.closed then
    return nil, "the bus is closed"
  end
  if not self.keeping and not self.dialing then
    self:reconnect()
  end
  local q = hilt.queue(1)
  self.waiters[#self.waiters + 1] = q
  local ok, err = pcall(hilt.timeout, timeout or math.huge, q.get, q)
  if ok then
    return true
  end
  for i, w in ipairs(self.waiters) do
    if w == q then
      table.remove(self.waiters, i)
      break
    end
  end
  if not self.keeping and self.dialing then
    self.dialing:cancel()
    self.dialing = nil
  end
  if hcore.is_error(err, "timeout") then
    return nil, ("no hub at %s after %gs"):format(self.addr, timeout)
  end
  error(err, 0)
end

function Link:close()
  if self.closed then
    return
  end
  self.closed = true
  if self.pinger then
    self.pinger:stop()
    self.pinger = nil
  end
  if self.dialing then
    self.dialing:cancel()
    self.dialing = nil
  end
  local conn = self.conn
  self.conn, self.connected = nil, false
  if conn then
    conn:close()
  end
  for _, w in ipairs(self.waiters) do
    w:close()
  end
  self.waiters = {}
end

return M
