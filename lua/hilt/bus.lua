-- hilt.bus: named actions, properties, events and states shared between
-- scripts (DESIGN.md §5). With no address a script gets the hub embedded
-- in its own process, so nothing needs starting.
--
--   local bus = require("hilt.bus").connect()
--   bus:action_register("/lamp/on", function() return true end)
--   local oven = bus:state_register("/oven/temp")
--   oven:changed(180)
--   bus:observe("/oven/temp", function(v) print("oven at", v) end)
local hilt = require("hilt")
local hcore = require("hilt.core")
local hub_mod = require("hilt.bus.hub")

local M = {}

--- Unknown: a state's value while its owner does not know it (distinct
--- from nil and false).
M.Unknown = setmetatable({}, {
  __tostring = function() return "Unknown" end,
  __name = "hilt.bus.Unknown",
})
local Unknown = M.Unknown

local embedded

--- embedded_hub() -> the hub of this process.
function M.embedded_hub()
  embedded = embedded or hub_mod.new()
  return embedded
end

local Bus = {}
Bus.__index = Bus

local function join(base, path)
  if type(path) ~= "string" then
    return path
  end
  if path:sub(1, 1) == "/" then
    return path
  end
  return (base:gsub("/$", "")) .. "/" .. path
end

-- Runs fn(...) as a task, as every bus callback does: a callback may
-- yield, and its error is logged, never passed to whoever triggered it.
local function in_task(fn, ...)
  hilt.spawn(fn, ...)
end

--- connect([addr] [, opts]) -> bus. Without addr: the embedded hub.
--- opts.base: the directory relative paths are under (default "/").
function M.connect(addr, opts)
  if type(addr) == "table" then
    addr, opts = nil, addr
  end
  opts = opts or {}
  if addr ~= nil then
    error(hcore.error("invalid_argument", "hilt.bus: remote hubs are not "
      .. "built yet; connect() without an address uses the embedded hub"), 2)
  end
  local self = setmetatable({ base = opts.base or "/", actions = {}, props = {},
    states = {}, listeners = {}, observers = {} }, Bus)
  self.conn = M.embedded_hub():connect({
    call = function(path, args)
      local fn = self.actions[path]
      if not fn then
        error(hcore.error("failed", "not_implemented"), 0)
      end
      return fn(table.unpack(args, 1, args.n or #args))
    end,
    prop_get = function(path) return self.props[path].get() end,
    prop_set = function(path, v)
      local p = self.props[path]
      if not p.set then
        error(hcore.error("failed", "not_implemented"), 0)
      end
      return p.set(v)
    end,
    state_set = function(path, v)
      local st = self.states[path]
      if not (st and st.on_set) then
        error(hcore.error("failed", "not_implemented"), 0)
      end
      return st.on_set(v)
    end,
    event = function(path, v)
      for _, cb in ipairs(self.listeners[path] or {}) do
        in_task(cb, v)
      end
    end,
    state = function(path, known, v)
      local value = v
      if not known then value = Unknown end
      for _, cb in ipairs(self.observers[path] or {}) do
        in_task(cb, value)
      end
    end,
  })
  self.id = self.conn:hello(opts.client_id)
  self.connected = true
  return self
end

function Bus:path(p)
  return join(self.base, p)
end

-- --- actions and properties -------------------------------------------------------

--- bus:action_register(path, fn): fn(...) answers calls; what it returns
--- is the result, what it raises the caller's error.
function Bus:action_register(path, fn)
  path = self:path(path)
  self.conn:action_register(path)
  self.actions[path] = fn
end

--- bus:call(path, ...) -> the action's result.
function Bus:call(path, ...)
  return self.conn:action_call(self:path(path), table.pack(...))
end

--- bus:prop_register(path, {get = fn, set = fn}).
function Bus:prop_register(path, handlers)
  path = self:path(path)
  self.conn:prop_register(path)
  self.props[path] = handlers
end

--- bus:get(path) -> a property's or a state's value (a state that is
--- unknown raises state_unknown).
function Bus:get(path)
  return self.conn:get(self:path(path))
end

--- bus:set(path, value) -> the owner's answer.
function Bus:set(path, value)
  return self.conn:set(self:path(path), value)
end

-- --- events ------------------------------------------------------------------------

local Event = {}
Event.__index = Event

function Event:emit(value)
  self.bus.conn:event_emit(self.path, value)
end

--- bus:event_register(path) -> event with :emit(value).
function Bus:event_register(path)
  path = self:path(path)
  self.conn:event_register(path)
  return setmetatable({ bus = self, path = path }, Event)
end

--- bus:emit(path, value): to every listener of the event.
function Bus:emit(path, value)
  self.conn:event_emit(self:path(path), value)
end

--- bus:listen(path [, fn]): fn(value) runs (in a task) for each emit;
--- without fn, returns an iterator over the values from now on.
function Bus:listen(path, fn)
  path = self:path(path)
  local q
  if fn == nil then
    q = hilt.queue(1024)
    fn = function(v) q:try_put(v) end
  end
  self.conn:event_listen(path)
  local list = self.listeners[path] or {}
  self.listeners[path] = list
  list[#list + 1] = fn
  if q then
    return function() return q:get() end
  end
end

-- --- states --------------------------------------------------------------------------

local State = {}
State.__index = State

--- state:changed(value): the new value (Unknown: the owner does not know).
function State:changed(value)
  if value == Unknown then
    return self:unknown()
  end
  self.value = value
  self.bus.conn:state_changed(self.path, value)
end

function State:unknown()
  self.value = Unknown
  self.bus.conn:state_unknown(self.path)
end

--- bus:state_register(path [, {set = fn}]) -> state with :changed(v) and
--- :unknown(); it starts Unknown. set(v) answers others' bus:set.
function Bus:state_register(path, opts)
  path = self:path(path)
  self.conn:state_register(path)
  local st = setmetatable({ bus = self, path = path, value = Unknown,
    on_set = opts and opts.set }, State)
  self.states[path] = st
  return st
end

--- bus:observe(path [, fn]) -> current value (Unknown while unknown); fn
--- (in a task) gets every change after. Without fn, returns an iterator:
--- the current value, then each change.
function Bus:observe(path, fn)
  path = self:path(path)
  local q
  if fn == nil then
    q = hilt.queue(1024)
    fn = function(v) q:try_put(v) end
  end
  local list = self.observers[path] or {}
  self.observers[path] = list
  list[#list + 1] = fn
  local known, value = self.conn:state_observe(path)
  local current = value
  if not known then current = Unknown end
  if q then
    q:try_put(current)
    return function() return q:get() end
  end
  return current
end

--- bus:close(): leaves the hub (its actions and properties go, its
--- states turn Unknown for their observers).
function Bus:close()
  self.conn:disconnect()
  self.connected = false
end

return M
