-- The hub over hilt's wire: each connection is a hub connection; its
-- requests are the methods under "bus/" (docs/bus.md), and the hub reaches
-- it back over the same connection: calls for what it owns
-- ("bus/call", "bus/prop_get", "bus/prop_set", "bus/state_set") and
-- notifications for what it listens to ("bus/event", "bus/state").
--
-- A client names its idle timeout in its hello; one that sends nothing
-- for longer is dropped, as ESHET's server does. The hub's channels are
-- under "bus/channel/" (hilt.bus.channel_remote).
local hilt = require("hilt")
local hcore = require("hilt.core")
local rpc = require("hilt.rpc")
local rpc_core = require("hilt.rpc.core")
local log = require("hilt.log")
local idle = require("hilt.bus.idle")

local M = {}

local function failed(name)
  return hcore.error("failed", name)
end

-- A change many wire clients observe is packed once for all of them
-- (the hub groups observers whose peers share this fanout).
-- (the hub groups observers whose peers share this fanout). A value that
-- cannot be sent (from an embedded client) is dropped, as by one peer.
local function fanout(targets, kind, ...)
  local method = kind == "state" and "bus/state" or "bus/event"
  local ok, err = pcall(rpc_core.notify_all, targets, method, ...)
  if not ok then
    log.at("warn", "hub", "%s", tostring(err))
  end
end

-- What the hub asks of a client goes back over its connection. A client
-- gone in the middle of a call fails it `client_exited`, as ESHET's hub.
local function peer_of(conn)
  local function ask(method, ...)
    local ok, res = pcall(conn.call, conn, method, ...)
    if ok then
      return res
    end
    if hcore.is_error(res, "unavailable") then
      error(failed("client_exited"), 0)
    end
    error(res, 0)
  end
  return {
    call = function(path, args)
      return ask("bus/call", path, table.unpack(args, 1, args.n or #args))
    end,
    prop_get = function(path) return ask("bus/prop_get", path) end,
    prop_set = function(path, v) return ask("bus/prop_set", path, v) end,
    state_set = function(path, v) return ask("bus/state_set", path, v) end,
    -- A notification to a connection that has just closed (its reset
    -- not yet handled) is dropped.
    event = function(path, v) pcall(conn.notify, conn, "bus/event", path, v) end,
    state = function(path, known, v)
      pcall(conn.notify, conn, "bus/state", path, known, v)
    end,
    fanout = fanout,
    target = conn.raw,
    -- Evicted by a newer connection with its id: told why, so that a
    -- live client sharing its id by mistake stops rather than fights.
    close = function(why)
      log.at("info", "hub", "%s: %s", tostring(conn), why)
      pcall(conn.notify, conn, "bus/evicted", why)
      conn:close()
    end,
  }
end

--- serve(hub, addr [, opts]) -> listener: hilt's wire on addr. opts.token
--- as rpc.serve's.
function M.serve(hub, addr, opts)
  opts = opts or {}
  local clients = setmetatable({}, { __mode = "k" })

  -- The calling connection's hub connection, its silence reset.
  local function client()
    local c = clients[rpc.caller()]
    c.last = hilt.now()
    return c
  end
  local function said_hello()
    local c = client()
    if not c.hc.id then
      error(failed("unregistered"), 0)
    end
    return c.hc
  end

  local bus = {
    hello = function(id, timeout)
      local c = client()
      if timeout ~= nil and (math.type(timeout) ~= "integer" or timeout < 0) then
        error(failed("bad_args"), 0)
      end
      c.timeout = timeout or 0
      return c.hc:hello(id)
    end,
    ping = function() client() return nil end,
    action_register = function(path) said_hello():action_register(path) end,
    prop_register = function(path) client().hc:prop_register(path) end,
    event_register = function(path) said_hello():event_register(path) end,
    state_register = function(path) said_hello():state_register(path) end,
    event_listen = function(path) client().hc:event_listen(path) end,
    action_call = function(path, ...)
      return client().hc:action_call(path, table.pack(...))
    end,
    get = function(path) return client().hc:get(path) end,
    set = function(path, v) return client().hc:set(path, v) end,
    event_emit = function(path, v) client().hc:event_emit(path, v) end,
    state_changed = function(path, v) client().hc:state_changed(path, v) end,
    state_unknown = function(path) client().hc:state_unknown(path) end,
    -- One result per call: {known = bool, value = v, age = seconds}.
    state_observe = function(path)
      local known, value, age = client().hc:state_observe(path)
      return { known = known, value = value, age = age }
    end,
  }

  bus.channel = require("hilt.bus.channel_remote").service(hub)

  local listener = rpc.serve(addr, { bus = bus }, {
    token = opts.token,
    on_connect = function(conn)
      local hc = hub:connect(peer_of(conn))
      clients[conn] = { hc = hc, last = hilt.now(), timeout = 0 }
      conn:on_reset(function() hc:disconnect() end)
    end,
  })

  return idle.listener(listener, clients, function(conn, _, why)
    if why then
      log.at("info", "hub", "%s: %s, dropped", tostring(conn), why)
    end
    clients[conn] = nil
    conn:close()
  end)
end

return M
