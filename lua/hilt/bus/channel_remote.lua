-- The hub's channels over hilt's wire: the methods under "bus/channel/"
-- that `hilt hub` serves, and the proxies a remote hilt.bus client gets
-- from bus:channels(), which behave as the channels and container of
-- hilt.bus.channel (docs/bus.md, "Channels").
--
--   local cc = bus:channels()
--   local ch = cc:create()
--   local inbox = ch:add_listener()
--   ch:dispatch(inbox, "job", { n = 1 })
--   for msg in ch:listen(inbox) do ... end
local rpc = require("hilt.rpc")

local M = {}

-- A channel's message as it crosses the wire (a plain table).
local function plain(msg)
  return { type = msg.type, payload = msg.payload, id = msg.id, sender = msg.sender }
end

--- service(hub) -> the router table served as "bus/channel".
function M.service(hub)
  local function get(id)
    return hub:channels():get(id)
  end
  return {
    create = function(opts) return hub:channels():create(opts).id end,
    remove = function(id) hub:channels():remove(id) end,
    ids = function() return hub:channels():ids() end,
    add_listener = function(cid, lid) return get(cid):add_listener(lid) end,
    remove_listener = function(cid, lid) get(cid):remove_listener(lid) end,
    listeners = function(cid) return get(cid):listeners() end,
    dispatch = function(cid, lid, t, p, sender) return get(cid):dispatch(lid, t, p, sender) end,
    broadcast = function(cid, t, p, sender) return get(cid):broadcast(t, p, sender) end,
    -- Streams a listener's messages until it is removed or the caller
    -- leaves.
    listen = rpc.streaming(function(stream, cid, lid, after)
      for msg in get(cid):listen(lid, after and { after = after } or nil) do
        stream:send(plain(msg))
      end
    end),
    -- A watcher that lives as long as the call.
    watch = rpc.streaming(function(stream, cid)
      local w <close>, id = get(cid):watch()
      stream:send({ type = "_watching", payload = id })
      for msg in w do
        stream:send(plain(msg))
      end
    end),
  }
end

-- --- the client's proxies ------------------------------------------------------------

local Channel = {}
Channel.__index = Channel

function Channel:call(op, ...)
  return self.link:request("channel/" .. op, self.id, ...)
end

function Channel:add_listener(id) return self:call("add_listener", id) end
function Channel:remove_listener(id) self:call("remove_listener", id) end
function Channel:listeners() return self:call("listeners") end
function Channel:dispatch(lid, t, p, sender) return self:call("dispatch", lid, t, p, sender) end
function Channel:broadcast(t, p, sender) return self:call("broadcast", t, p, sender) end

--- ch:listen(lid [, {after = n}]) -> iterator: leaving the loop ends the
--- stream.
function Channel:listen(lid, opts)
  return self.link:stream("channel/listen", self.id, lid, opts and opts.after)
end

--- ch:watch() -> iterator, listener id: a watcher at the hub for as long
--- as the stream is read.
function Channel:watch()
  local s = self.link:stream("channel/watch", self.id)
  local first = s:recv()
  return s, first and first.payload, nil, s
end

function Channel:close()
  self.link:request("channel/remove", self.id)
end

local Container = {}
Container.__index = Container

--- proxy(link) -> a container whose channels live at the hub.
function M.proxy(link)
  return setmetatable({ link = link }, Container)
end

function Container:channel(id)
  return setmetatable({ id = id, link = self.link }, Channel)
end

function Container:create(opts)
  return self:channel(self.link:request("channel/create", opts))
end

function Container:get(id)
  local ids = self.link:request("channel/ids")
  for _, v in ipairs(ids) do
    if v == id then
      return self:channel(id)
    end
  end
  error(("get: no channel '%s'"):format(tostring(id)), 2)
end

function Container:remove(id)
  self.link:request("channel/remove", id)
end

function Container:ids()
  return self.link:request("channel/ids")
end

return M
