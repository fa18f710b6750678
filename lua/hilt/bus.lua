-- hilt.bus: named actions, properties, events and states shared between
-- scripts (DESIGN.md §5, docs/bus.md). With no address a script gets the
-- hub embedded in its own process, so nothing needs starting; with one it
-- reaches `hilt hub` over hilt's wire, and comes back by itself when the
-- hub restarts.
--
--   local bus = require("hilt.bus").connect()
--   bus:action_register("/lamp/on", function() return true end)
--   local oven = bus:state_register("/oven/temp")
--   oven:changed(180)
--   bus:observe("/oven/temp", function(v) print("oven at", v) end)
--
-- The client keeps what it asked of the hub (registrations, its states'
-- last values, what it observes) so that a new connection can ask it
-- again; the link (embedded or remote) carries the requests.
local hilt = require("hilt")
local hcore = require("hilt.core")
local hub_mod = require("hilt.bus.hub")
local log = require("hilt.log")

local M = {}

--- Unknown: a state's value while its owner does not know it (distinct
--- from nil and false).
M.Unknown = setmetatable({}, {
  __tostring = function() return "Unknown" end,
  __name = "hilt.bus.Unknown",
})
local Unknown = M.Unknown

local embedded

--- defaults.addr: the hub connect() reaches when given no address (set by
--- `hilt run --bus`; else $HILT_BUS; else the embedded hub).
M.defaults = {}

--- embedded_hub() -> the hub of this process.
function M.embedded_hub()
  embedded = embedded or hub_mod.new()
  return embedded
end

local Bus = {}
Bus.__index = Bus
M.Bus = Bus

local function join(base, path)
  if type(path) ~= "string" or path:sub(1, 1) == "/" then
    return path
  end
  return (base:gsub("/$", "")) .. "/" .. path
end

local function not_implemented()
  error(hcore.error("failed", "not_implemented"), 0)
end

-- What the hub asks of this client: calls to its actions, properties and
-- states, and the events and state changes it listens to. A callback runs
-- in a task of its own: it may block, and its error is logged, never
-- passed to whoever triggered it.
local function peer_of(self)
  return {
    call = function(path, args)
      local fn = self.actions[path]
      if not fn then not_implemented() end
      return fn(table.unpack(args, 1, args.n or #args))
    end,
    prop_get = function(path)
      local p = self.props[path]
      if not p then not_implemented() end
      return p.get()
    end,
    prop_set = function(path, v)
      local p = self.props[path]
      if not (p and p.set) then not_implemented() end
      return p.set(v)
    end,
    state_set = function(path, v)
      local st = self.states[path]
      if not (st and st.on_set) then not_implemented() end
      return st.on_set(v)
    end,
    event = function(path, v, inline)
      M.run_callbacks(self.listeners[path], v, inline)
    end,
    state = function(path, known, v, inline)
      if not known then
        v = Unknown
      end
      self:deliver(path, v, inline)
    end,
  }
end

-- The embedded link: requests are the hub connection's own methods.
local function embedded_link(self, opts)
  local conn = M.embedded_hub():connect(self.peer)
  self.id = conn:hello(opts.client_id)
  return {
    connected = true,
    request = function(_, op, ...) return conn[op](conn, ...) end,
    interest = function() end,
    wait = function() return true end,
    close = function() conn:disconnect() end,
  }
end

--- connect([addr] [, opts]) -> bus. Without addr: defaults.addr, $HILT_BUS
--- or else the embedded hub ("embedded" asks for it by name); with one
--- ("tcp://host:port", "unix:///path"), `hilt hub` there.
--- opts: base (relative paths are under it, default "/"), client_id (the
--- hub evicts an older connection with the same id), token, and for a
--- remote hub idle_ping (15 s), server_timeout (30 s), ping_timeout (5 s)
--- and reconnect_delay (1 s).
function M.connect(addr, opts)
  if type(addr) == "table" then
    addr, opts = nil, addr
  end
  opts = opts or {}
  addr = addr or M.defaults.addr or os.getenv("HILT_BUS")
  if addr == "embedded" or addr == "" then
    addr = nil
  end
  local self = setmetatable({ base = opts.base or "/", addr = addr,
    actions = {}, props = {}, states = {}, listeners = {}, observers = {},
    observed = {}, regs = {} }, Bus)
  self.peer = peer_of(self)
  if addr == nil then
    self.link = embedded_link(self, opts)
  else
    self.link = require("hilt.bus.remote").open(self, addr, opts)
  end
  return self
end

function Bus:path(p)
  return join(self.base, p)
end

--- bus.connected: true while the hub is reachable.
function Bus:__index(k)
  if k == "connected" then
    return self.link.connected
  end
  return Bus[k]
end

--- bus:wait_connected([timeout]) -> true | nil, why
function Bus:wait_connected(timeout)
  return self.link:wait(timeout)
end

--- bus:client_id() -> the id the hub knows this client by.
function Bus:client_id()
  return self.id
end

function Bus:request(op, ...)
  return self.link:request(op, ...)
end

-- A registration is kept so that a new connection makes it again; one
-- the hub refuses is forgotten. While disconnected from a remote hub it
-- is only kept, and made on connection.
function Bus:register(op, path)
  local reg = { op, path }
  self.regs[#self.regs + 1] = reg
  self.link:interest()
  if not self.link.connected and self.addr then
    return
  end
  local ok, err = pcall(self.request, self, op, path)
  if not ok then
    for i = #self.regs, 1, -1 do
      if self.regs[i] == reg then
        table.remove(self.regs, i)
        break
      end
    end
    error(err, 0)
  end
end

-- --- actions and properties -------------------------------------------------------

--- bus:action_register(path, fn): fn(...) answers calls; what it returns
--- is the result, what it raises the caller's error.
function Bus:action_register(path, fn)
  path = self:path(path)
  self.actions[path] = fn
  local ok, err = pcall(self.register, self, "action_register", path)
  if not ok then
    self.actions[path] = nil
    error(err, 2)
  end
end

--- bus:call(path, ...) -> the action's result.
function Bus:call(path, ...)
  return self:request("action_call", self:path(path), table.pack(...))
end

--- bus:prop_register(path, {get = fn, set = fn}).
function Bus:prop_register(path, handlers)
  path = self:path(path)
  self.props[path] = handlers
  local ok, err = pcall(self.register, self, "prop_register", path)
  if not ok then
    self.props[path] = nil
    error(err, 2)
  end
end

--- bus:get(path) -> a property's or a state's value (a state that is
--- unknown raises state_unknown).
function Bus:get(path)
  return self:request("get", self:path(path))
end

--- bus:set(path, value) -> the owner's answer.
function Bus:set(path, value)
  return self:request("set", self:path(path), value)
end

-- --- events ------------------------------------------------------------------------

local Event = {}
Event.__index = Event

function Event:emit(value)
  self.bus:request("event_emit", self.path, value)
end

--- bus:event_register(path) -> event with :emit(value).
function Bus:event_register(path)
  path = self:path(path)
  self:register("event_register", path)
  return setmetatable({ bus = self, path = path }, Event)
end

--- bus:emit(path, value): to every listener of the event.
function Bus:emit(path, value)
  self:request("event_emit", self:path(path), value)
end

-- An iterator over a queue a callback fills: values from now on. A reader
-- that falls 1024 values behind loses the oldest: for a state the latest
-- value matters most.
local function queued()
  local q = hilt.queue(1024)
  local function put(v)
    if not q:try_put(v) then
      q:try_get()
      q:try_put(v)
    end
  end
  return put, function() return q:get() end, q
end

--- bus:listen(path [, fn]): fn(value) runs (in a task) for each emit;
--- without fn, returns an iterator over the values from now on.
function Bus:listen(path, fn)
  path = self:path(path)
  local iter
  if fn == nil then
    fn, iter = queued()
  end
  local list = self.listeners[path]
  if not list then
    list = {}
    self.listeners[path] = list
    self:register("event_listen", path)
  end
  list[#list + 1] = fn
  return iter
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
  if self.bus.link.connected then
    self.bus:request("state_changed", self.path, value)
  end
end

function State:unknown()
  self.value = Unknown
  if self.bus.link.connected then
    self.bus:request("state_unknown", self.path)
  end
end

--- bus:state_register(path [, {set = fn}]) -> state with :changed(v) and
--- :unknown(); it starts Unknown. set(v) answers others' bus:set.
function Bus:state_register(path, opts)
  path = self:path(path)
  local st = setmetatable({ bus = self, path = path, value = Unknown,
    on_set = opts and opts.set }, State)
  self.states[path] = st
  local ok, err = pcall(self.register, self, "state_register", path)
  if not ok then
    self.states[path] = nil
    error(err, 2)
  end
  return st
end

-- A state's value reaches this client's observers of it, each in a task;
-- or, with `inline`, one after another in the calling task (a remote
-- hub's notifications already run in a task, in the order they came; a
-- callback that waits lets the next ones go on in another, as hilt.rpc
-- hands them over, so a task per callback would only add a spawn).
function Bus:deliver(path, value, inline)
  local o = self.observed[path]
  if o then
    o.value, o.changes = value, o.changes + 1
  end
  M.run_callbacks(self.observers[path], value, inline)
end

--- run_callbacks(list, value, inline): each fn(value) in a task, or in
--- this task one after another; an error is logged, never raised.
function M.run_callbacks(list, value, inline)
  if not list then
    return
  end
  for _, cb in ipairs(list) do
    if inline then
      local ok, err = xpcall(cb, debug.traceback, value)
      if not ok then
        log.at("error", "bus", "callback failed: %s", tostring(err))
      end
    else
      hilt.spawn(cb, value)
    end
  end
end

-- Observes path at the hub and returns its value there (Unknown while
-- unknown), and whether that answer is still the news: the hub sends a
-- change only after its answer, but the change's notification may run
-- before this task resumes, and then it is the newer value.
function Bus:observe_at_hub(path, o)
  local before = o.changes
  local known, value = self:request("state_observe", path)
  if not known then
    value = Unknown
  end
  return value, o.changes == before
end

--- bus:observe(path [, fn]) -> current value (Unknown while unknown); fn
--- (in a task) gets every change after. Without fn, returns an iterator:
--- the current value, then each change.
function Bus:observe(path, fn)
  path = self:path(path)
  local iter, put
  if fn == nil then
    put, iter = queued()
    fn = put
  end
  local list = self.observers[path] or {}
  self.observers[path] = list
  list[#list + 1] = fn
  self.link:interest()
  local o = self.observed[path]
  if not o then
    o = { value = Unknown, changes = 0 }
    self.observed[path] = o
    if self.link.connected or not self.addr then
      local ok, v, current = pcall(self.observe_at_hub, self, path, o)
      if not ok then
        self.observed[path] = nil
        list[#list] = nil
        error(v, 2)
      end
      if current then
        o.value = v
      end
    end
  end
  if put then
    put(o.value)
    return iter
  end
  return o.value
end

-- --- connection ---------------------------------------------------------------------

-- The keys of t, as they are now: the requests below wait, and other
-- tasks may add to t meanwhile.
local function keys(t)
  local list = {}
  for k in pairs(t) do
    list[#list + 1] = k
  end
  return list
end

-- Asks a new connection for everything this client held, in the order it
-- was asked: registrations, then its states' last values, then what it
-- observes, whose answers reach the observers. While it waits on the hub,
-- notifications run and callbacks may register, observe or change a
-- state: the client is not connected yet, so those are only kept, and
-- the replay goes round again until it has made all of them.
function Bus:replay()
  local made, registered, sent, asked = {}, {}, {}, {}
  local busy = true
  while busy do
    busy = false
    for _, reg in ipairs(self.regs) do
      if not made[reg] then
        made[reg], busy = true, true
        self:request(reg[1], reg[2])
        if reg[1] == "state_register" then
          registered[reg[2]] = true
        end
      end
    end
    -- A state the hub has registered again is unknown there until told.
    for _, path in ipairs(keys(self.states)) do
      local st = self.states[path]
      local v = st and registered[path] and st.value
      if v ~= nil and v ~= (sent[path] or Unknown) then
        sent[path], busy = v, true
        if v == Unknown then
          self:request("state_unknown", path)
        else
          self:request("state_changed", path, v)
        end
      end
    end
    -- An answer reaches the observers unless it is Unknown again (the
    -- observers saw Unknown when the connection was lost) or a newer
    -- change reached them first.
    for _, path in ipairs(keys(self.observed)) do
      local o = self.observed[path]
      if o and not asked[path] then
        asked[path], busy = true, true
        local v, current = self:observe_at_hub(path, o)
        if current and (v ~= Unknown or o.value ~= Unknown) then
          self:deliver(path, v)
        end
      end
    end
  end
end

-- The hub is gone: every observed state is Unknown here until it is back.
function Bus:lost()
  for path, o in pairs(self.observed) do
    if o.value ~= Unknown then
      self:deliver(path, Unknown)
    end
  end
end

-- Whether anything here waits on the hub: then a remote link keeps the
-- process running, pings and reconnects.
function Bus:waiting()
  return next(self.regs) ~= nil or next(self.observed) ~= nil
end

--- bus:channels() -> the hub's channel container (docs/bus.md,
--- "Channels"): the channels themselves for the embedded hub, proxies
--- with the same methods for a remote one.
function Bus:channels()
  if not self.addr then
    return M.embedded_hub():channels()
  end
  return require("hilt.bus.channel_remote").proxy(self.link)
end

--- bus:close(): leaves the hub (its actions and properties go, its
--- states turn Unknown for their observers).
function Bus:close()
  self.link:close()
end

return M
