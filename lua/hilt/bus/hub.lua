-- hilt.bus.hub: the bus's hub, as ESHET's server behaves (reference:
-- ../shared/reference/seed-semantics.md §1.3-1.4), independent of any
-- transport. A transport (in-process, hilt's wire, ESHET's binary protocol,
-- HTTP) makes one hub connection per client and relays its requests here;
-- what the hub must tell a client (forwarded calls, notifications) goes to
-- the `peer` table the transport gave.
--
-- Paths are "/a/b" ("^(/\w+)+$"); every proper prefix of a leaf is a
-- directory, and leaves cannot nest. Leaves are actions, properties,
-- events and states. Errors are ESHET's names ("path_not_found", ...),
-- raised as hilt.Error with code "failed" and the name as message.
--
--   local hub = require("hilt.bus.hub").new()
--   local c = hub:connect({ call = function(path, args) ... end, ... })
--   c:action_register("/lamp/on")
local hcore = require("hilt.core")

local M = {}

local Hub = {}
Hub.__index = Hub

local Conn = {}
Conn.__index = Conn

local function fail(name)
  error(hcore.error("failed", name), 0)
end

local function check_path(path)
  if type(path) ~= "string" then
    fail("path_should_be_binary")
  end
  if not path:match("^/[%w_]") or path:find("[^%w_/]") or path:find("//", 1, true)
      or path:sub(-1) == "/" then
    fail("invalid_path")
  end
  return path
end

--- new() -> hub.
function M.new()
  -- Ids the hub makes carry a random part: a client keeps its id across
  -- a hub restart, and must not meet it again as another client's.
  local self = setmetatable({ nodes = {}, dirs = {}, ids = {}, seq = 0,
    tag = ("%06x"):format(math.random(0, 0xffffff)) }, Hub)
  return self
end

--- hub:channels() -> the hub's channel container (hilt.bus.channel), which
--- the control socket and the HTTP listener's channel streams share.
function Hub:channels()
  if not self.cc then
    self.cc = require("hilt.bus.channel").container()
  end
  return self.cc
end

-- --- the tree ------------------------------------------------------------------

local function prefixes(path)
  local out = {}
  local pos = 1
  while true do
    local s = path:find("/", pos + 1, true)
    if not s then
      return out
    end
    out[#out + 1] = path:sub(1, s - 1)
    pos = s
  end
end

-- Creates the leaf `path` of `kind`, or checks an existing one.
function Hub:leaf(path, kind, create)
  local node = self.nodes[path]
  if node then
    if node.kind ~= kind then
      fail("path_is_wrong_type")
    end
    return node
  end
  if not create then
    fail("path_not_found")
  end
  if self.dirs[path] then
    fail("path_is_directory")
  end
  local pre = prefixes(path)
  for _, p in ipairs(pre) do
    if self.nodes[p] then
      fail("not_a_directory")
    end
  end
  for _, p in ipairs(pre) do
    self.dirs[p] = (self.dirs[p] or 0) + 1
  end
  self.dirs["/"] = (self.dirs["/"] or 0) + 1
  node = { kind = kind, path = path, listeners = {}, observers = {},
           known = false }
  self.nodes[path] = node
  return node
end

function Hub:remove(node)
  self.nodes[node.path] = nil
  for _, p in ipairs(prefixes(node.path)) do
    self.dirs[p] = self.dirs[p] - 1
    if self.dirs[p] == 0 then self.dirs[p] = nil end
  end
  self.dirs["/"] = self.dirs["/"] - 1
end

-- A node nobody holds any more goes.
function Hub:gc(node)
  if node.owner == nil and next(node.listeners) == nil
      and next(node.observers) == nil then
    self:remove(node)
  end
end

--- hub:ls(path) -> "dir", {{name, type}, ...} for a directory, or the
--- leaf's type; raises path_not_found.
function Hub:ls(path)
  if type(path) ~= "string" then
    fail("bad_args")
  end
  local node = self.nodes[path]
  if node then
    return node.kind
  end
  local dir = path == "/" and "" or path:gsub("/$", "")
  if dir ~= "" and not self.dirs[dir] then
    fail("path_not_found")
  end
  local seen, list = {}, {}
  local prefix = dir .. "/"
  local function add(name, kind)
    if not seen[name] then
      seen[name] = true
      list[#list + 1] = { name, kind }
    end
  end
  for p, n in pairs(self.nodes) do
    if p:sub(1, #prefix) == prefix then
      local rest = p:sub(#prefix + 1)
      local name = rest:match("^[^/]+")
      add(name, rest:find("/", 1, true) and "dir" or n.kind)
    end
  end
  table.sort(list, function(a, b) return a[1] < b[1] end)
  return "dir", list
end

-- --- connections --------------------------------------------------------------------

--- hub:connect(peer) -> conn. peer's functions are how the hub reaches the
--- client: call(path, args) -> value (an action's owner; raise to fail),
--- prop_get(path), prop_set(path, value), state_set(path, value),
--- event(path, value) and state(path, known, value) (notifications), and
--- close(why) when a newer connection with its id evicts it.
function Hub:connect(peer)
  return setmetatable({ hub = self, peer = peer or {}, owned = {},
    listening = {}, observing = {} }, Conn)
end

--- conn:hello([id]) -> id: names the connection. A connection already
--- holding the id is closed and forgets everything it held. Without an
--- id, the hub makes one.
function Conn:hello(id)
  local hub = self.hub
  if id == nil then
    hub.seq = hub.seq + 1
    id = ("hilt-%s-%d"):format(hub.tag, hub.seq)
  end
  local old = hub.ids[id]
  if old and old ~= self then
    old:disconnect()
    if old.peer.close then
      pcall(old.peer.close, "replaced by a new connection with the same id")
    end
  end
  hub.ids[id] = self
  self.id = id
  return id
end

function Conn:own(path, kind)
  local node = self.hub:leaf(check_path(path), kind, true)
  if node.owner ~= nil and node.owner ~= self then
    fail("path_already_exists")
  end
  node.owner = self
  self.owned[node] = true
  return node
end

function Conn:action_register(path)
  self:own(path, "action")
end

function Conn:prop_register(path)
  self:own(path, "prop")
end

function Conn:event_register(path)
  self:own(path, "event")
end

function Conn:state_register(path)
  local node = self.hub:leaf(check_path(path), "state", true)
  if node.owner ~= nil then
    fail("path_already_exists")
  end
  node.owner = self
  self.owned[node] = true
end

local function forward(owner, fn, ...)
  if not owner or owner.gone then
    fail("client_exited")
  end
  local f = owner.peer[fn]
  if not f then
    fail("not_implemented")
  end
  return f(...)
end

--- conn:action_call(path, args) -> the owner's result; the owner's error
--- is raised unchanged.
function Conn:action_call(path, args)
  if path == "/meta/ls" then
    local kind, list = self.hub:ls(type(args) == "table" and args[1] or nil)
    if list then
      return { kind, list }
    end
    return kind
  end
  local node = self.hub:leaf(check_path(path), "action", false)
  return forward(node.owner, "call", path, args or {})
end

--- conn:get(path) -> value: a property's owner answers; a state answers
--- from the hub (error state_unknown while unknown).
function Conn:get(path)
  local node = self.hub.nodes[check_path(path)]
  if not node then
    fail("path_not_found")
  end
  if node.kind == "prop" then
    return forward(node.owner, "prop_get", path)
  elseif node.kind == "state" then
    if not node.known then
      fail("state_unknown")
    end
    return node.value
  end
  fail("path_is_wrong_type")
end

--- conn:set(path, value) -> the owner's answer: properties and states are
--- set by their owners (a state changes only when its owner says so).
function Conn:set(path, value)
  local node = self.hub.nodes[check_path(path)]
  if not node then
    fail("path_not_found")
  end
  if node.kind == "prop" then
    return forward(node.owner, "prop_set", path, value)
  elseif node.kind == "state" then
    if not node.owner then
      fail("no_owner")
    end
    return forward(node.owner, "state_set", path, value)
  end
  fail("path_is_wrong_type")
end

-- Tells each of conns (a set) of an event or a state (kind). Peers that
-- share a `fanout` function (every connection of one transport) are told
-- in one call with their `target`s, so the transport can encode the
-- message once; the others one by one.
local function tell(conns, kind, ...)
  local fanout, targets, n
  for c in pairs(conns) do
    local peer = c.peer
    if peer.fanout and (fanout == nil or peer.fanout == fanout) then
      fanout, n = peer.fanout, (n or 0) + 1
      targets = targets or {}
      targets[n] = peer.target
    elseif peer[kind] then
      peer[kind](...)
    end
  end
  if fanout then
    fanout(targets, kind, ...)
  end
end

--- conn:event_emit(path, value): to every listener (anyone may emit).
function Conn:event_emit(path, value)
  local node = self.hub:leaf(check_path(path), "event", false)
  tell(node.listeners, "event", path, value)
end

--- conn:event_listen(path): may come before the event is registered.
function Conn:event_listen(path)
  local node = self.hub:leaf(check_path(path), "event", true)
  node.listeners[self] = true
  self.listening[node] = true
end

local function notify_state(node)
  tell(node.observers, "state", node.path, node.known, node.value)
end

function Conn:owned_state(path)
  local node = self.hub.nodes[check_path(path)]
  if not node then
    fail("no_such_node")
  elseif node.kind ~= "state" then
    fail("wrong_type_of_node")
  elseif node.owner ~= self then
    fail("not_owner")
  end
  return node
end

--- conn:state_changed(path, value): the owner's new value, to every
--- observer (even when it is the same).
function Conn:state_changed(path, value)
  local node = self:owned_state(path)
  node.known, node.value, node.since = true, value, hcore.now()
  notify_state(node)
end

--- conn:state_unknown(path): the owner no longer knows.
function Conn:state_unknown(path)
  local node = self:owned_state(path)
  node.known, node.value, node.since = false, nil, hcore.now()
  notify_state(node)
end

--- conn:state_observe(path) -> known, value, seconds since the last change:
--- observes a state (which may not exist yet).
function Conn:state_observe(path)
  local node = self.hub:leaf(check_path(path), "state", true)
  node.observers[self] = true
  self.observing[node] = true
  node.since = node.since or hcore.now()
  return node.known, node.value, hcore.now() - node.since
end

--- conn:disconnect(): what the hub does when a client goes: its actions
--- and properties go, its events lose their owner, its known states go
--- unknown for their observers, and it stops listening and observing.
function Conn:disconnect()
  if self.gone then
    return
  end
  self.gone = true
  local hub = self.hub
  if self.id and hub.ids[self.id] == self then
    hub.ids[self.id] = nil
  end
  for node in pairs(self.owned) do
    if node.owner == self then
      node.owner = nil
      if node.kind == "action" or node.kind == "prop" then
        hub:remove(node)
      elseif node.kind == "state" then
        if node.known then
          node.known, node.value, node.since = false, nil, hcore.now()
          notify_state(node)
        end
        hub:gc(node)
      else
        hub:gc(node)
      end
    end
  end
  for node in pairs(self.listening) do
    node.listeners[self] = nil
    if hub.nodes[node.path] == node then hub:gc(node) end
  end
  for node in pairs(self.observing) do
    node.observers[self] = nil
    if hub.nodes[node.path] == node then hub:gc(node) end
  end
  self.owned, self.listening, self.observing = {}, {}, {}
end

M.Hub, M.Conn = Hub, Conn
return M
