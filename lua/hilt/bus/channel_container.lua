-- hilt.bus.channel_container: channels by id, as eric-sse's
-- ChannelContainer; reached as channel.container(). The bus hub owns one
-- and serves it through channel_command's verbs.
local channel = require("hilt.bus.channel")

local M = {}

local Container = {}
Container.__index = Container

--- new() -> an empty registry.
function M.new()
  return setmetatable({ list = {}, map = {} }, Container)
end

--- cc:register(ch) -> ch: adds an existing channel (a prefab's); raises
--- if one with its id is there.
function Container:register(ch)
  if type(ch) ~= "table" or type(ch.broadcast) ~= "function" then
    error("bad argument #1 to 'register' (channel expected)", 2)
  end
  if self.map[ch.id] then
    error(("register: channel '%s' already exists"):format(ch.id), 2)
  end
  self.list[#self.list + 1] = ch.id
  self.map[ch.id] = ch
  return ch
end

--- cc:create([opts]) -> a new channel (channel.new(opts)), registered.
function Container:create(opts)
  if opts and opts.id ~= nil and self.map[opts.id] then
    error(("create: channel '%s' already exists"):format(opts.id), 2)
  end
  return self:register(channel.new(opts))
end

--- cc:has(id) -> boolean.
function Container:has(id)
  return self.map[id] ~= nil
end

--- cc:get(id) -> channel; raises "get: no channel 'id'".
function Container:get(id)
  local ch = self.map[id]
  if ch == nil then
    error(("get: no channel '%s'"):format(tostring(id)), 2)
  end
  return ch
end

--- cc:remove(id): closes the channel (ending its readers) and forgets it;
--- raises "remove: no channel 'id'".
function Container:remove(id)
  local ch = self.map[id]
  if ch == nil then
    error(("remove: no channel '%s'"):format(tostring(id)), 2)
  end
  self.map[id] = nil
  for i, v in ipairs(self.list) do
    if v == id then
      table.remove(self.list, i)
      break
    end
  end
  ch:close()
end

--- cc:ids() -> channel ids, oldest first.
function Container:ids()
  return table.move(self.list, 1, #self.list, 1, {})
end

return M
