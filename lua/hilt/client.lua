-- hilt.client: the caller's side of a driver tree. A client tree is built
-- from the exporter's report: one object per driver node, children as
-- fields, exported members as methods, so `lab.dut.power:on()` calls
-- "dut/power/on" and `for s in lab.power:read(10) do` reads a generator.
--
-- A driver names its client class ("power"); a class adds conveniences
-- (power:cycle) and may replace members. A name hilt has no class for
-- gets the generic client, which still exposes every exported member.
local hilt = require("hilt")
local hcore = require("hilt.core")
local rpc = require("hilt.rpc")
local log = require("hilt.log")
local registry = require("hilt.registry")

local M = {}

-- --- sessions: how a tree reaches its exporter ---------------------------------------

local Session = {}
Session.__index = Session

local function new_session(addr, opts, conn)
  return setmetatable({ addr = addr, opts = opts or {}, c = conn }, Session)
end

-- The connection, made again if the last one was lost: a lost exporter
-- fails the calls in flight `unavailable`, and the next call reconnects.
function Session:conn()
  local c = self.c
  if c then
    return c
  end
  if self.closed or not self.addr then
    error(hcore.error("unavailable", ("the connection to %s is closed")
      :format(self.addr or "the in-process exporter")), 0)
  end
  c = rpc.connect(self.addr, { token = self.opts.token, name = self.opts.name })
  self:watch(c)
  return c
end

function Session:watch(c)
  self.c = c
  c:on_reset(function()
    if self.c == c then
      self.c = nil
    end
  end)
end

function Session:call(path, ...)
  return (self.c or self:conn()).raw:call(path, nil, ...)
end

function Session:call_with(opts, path, ...)
  return (self.c or self:conn()).raw:call(path, opts, ...)
end

function Session:stream(path, ...)
  local s = (self.c or self:conn()).raw:open(path, nil, ...)
  return s, nil, nil, s
end

function Session:stream_with(opts, path, ...)
  local s = (self.c or self:conn()).raw:open(path, opts, ...)
  return s, nil, nil, s
end

function Session:close()
  self.closed = true
  if self.c then
    self.c:close()
    self.c = nil
  end
  if self.log_task then
    self.log_task:cancel()
    self.log_task = nil
  end
  if self.log_conn then
    self.log_conn:close()
    self.log_conn = nil
  end
  if self.on_close then
    self.on_close()
  end
end

--- is_log_start(rec) -> true for the record hilt.logs sends first, once
--- the subscription is in place (docs/protocol.md §10).
function M.is_log_start(rec)
  return rec.level == "debug" and rec.source == "exporter"
    and rec.message == "log stream started"
end

-- Shows the exporter's log on this process's stderr, for as long as the
-- script runs: its own connection, which does not keep the process alive.
-- Returns once the exporter has the subscription in place (or after a
-- second), so the calls that follow are seen.
function Session:show_logs(backlog)
  local ready = hilt.queue()
  local function follow()
    local c = rpc.connect(self.addr, { token = self.opts.token })
    self.log_conn = c
    c:keep_alive("never")
    for rec in c:stream("hilt.logs", { backlog = backlog }) do
      if M.is_log_start(rec) then
        ready:try_put(true)
      else
        log.at(rec.level, "exporter " .. (rec.source or ""), rec.message)
      end
    end
  end
  local function show()
    while not self.closed do
      local ok, err = pcall(follow)
      if not ok and not hcore.is_error(err, "unavailable") then
        if not hcore.is_error(err, "cancelled") then
          log.warn("exporter log stream ended: %s", tostring(err))
        end
        return
      end
      backlog = 0
      hilt.sleep(1)
    end
  end
  self.log_task = hilt.spawn(show)
  pcall(hilt.timeout, 1, ready.get, ready)
end

-- --- the generic client ------------------------------------------------------------------

local Generic = {}
M.Generic = Generic

--- node:call(name, ...) -> the result of the exported member `name`.
function Generic:call(name, ...)
  return self._session:call(self._wire .. name, ...)
end

--- node:call_with(opts, name, ...): opts as conn:call_with's (timeout,
--- trace).
function Generic:call_with(opts, name, ...)
  return self._session:call_with(opts, self._wire .. name, ...)
end

--- node:stream(name, ...) -> stream of a generator or byte stream member.
function Generic:stream(name, ...)
  return self._session:stream(self._wire .. name, ...)
end

--- node:stream_with(opts, name, ...): opts as conn:stream_with's.
function Generic:stream_with(opts, name, ...)
  return self._session:stream_with(opts, self._wire .. name, ...)
end

local KIND_NOTE = { call = "", generator = "  (streams items)",
  stream = "  (byte stream)" }

--- node:help() -> text: what the node is, its methods and children.
function Generic:help()
  local out = { ("%s (%s)%s"):format(self.path == "" and "lab" or self.path,
    self.type, self.description ~= "" and (": " .. self.description) or "") }
  for _, m in ipairs(self.methods) do
    local args = {}
    for i, a in ipairs(m.args or {}) do args[i] = a.name end
    out[#out + 1] = ("  %s(%s)%s%s"):format(m.name, table.concat(args, ", "),
      m.doc ~= "" and ("  " .. m.doc) or "", KIND_NOTE[m.kind] or "")
    for _, a in ipairs(m.args or {}) do
      if a.doc ~= "" then
        out[#out + 1] = ("      %s: %s"):format(a.name, a.doc)
      end
    end
  end
  local names = {}
  for name in pairs(self.children) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local c = self.children[name]
    out[#out + 1] = ("  .%s  %s (%s)"):format(name, c.path, c.type)
  end
  return table.concat(out, "\n")
end

--- root:reset(): runs the reset hook of every driver in the tree.
function Generic:reset()
  return self._session:call("hilt.reset")
end

--- root:logs([opts]) -> stream of the exporter's log records
--- {time, level, source, message}; opts.backlog: how many past records.
function Generic:logs(opts)
  return self._session:stream("hilt.logs", opts or {})
end

--- root:close(): closes the connection (and an in-process exporter).
function Generic:close()
  self._session:close()
end

--- class(name [, base]) -> a client class for drivers naming `name`,
--- inheriting the generic client (or `base`).
function M.class(name, base)
  local cls = setmetatable({ client_name = name }, { __index = base or Generic })
  registry.register_client(name, cls)
  return cls
end

-- --- building a tree from a report ------------------------------------------------

local function member(session, path, kind)
  if kind == "generator" then
    return function(_, ...)
      return session:stream(path, ...)
    end
  elseif kind == "stream" then
    return function(_, ...)
      return (session:stream(path, ...))
    end
  end
  return function(_, ...)
    return session:call(path, ...)
  end
end

local function node_tostring(self)
  return ("client %s (%s)"):format(self.path == "" and "lab" or self.path,
    self.type)
end

local function new_node(session, n)
  local cls = registry.client_class(n.client or "generic") or Generic
  local wire = n.path == "" and "" or (n.path:gsub("%.", "/") .. "/")
  local api = setmetatable({}, { __index = cls })
  local by_name = {}
  for _, m in ipairs(n.methods or {}) do
    by_name[m.name] = m
    if cls[m.name] == nil then
      api[m.name] = member(session, wire .. m.name, m.kind)
    end
  end
  return setmetatable({
    uuid = n.uuid, labels = n.labels or {}, description = n.description or "",
    path = n.path, name = n.name, type = n.type, methods = n.methods or {},
    children = {}, _session = session, _wire = wire, _members = by_name,
  }, { __index = api, __tostring = node_tostring })
end

-- A report comes from the peer: check every field the tree is built from,
-- so a broken or hostile exporter gets a clear error, not a Lua one.
local function bad_report(why, i)
  error(hcore.error("protocol", ("the peer's hilt.report is not a driver "
    .. "tree report: %s%s"):format(i and ("node " .. i .. ": ") or "", why)), 0)
end

local function is_str(v)
  return type(v) == "string"
end

local function check_node(n, i, seen)
  if type(n) ~= "table" then
    bad_report("not a table", i)
  end
  if not is_str(n.uuid) or not is_str(n.path) or not is_str(n.name) then
    bad_report("uuid, path and name must be strings", i)
  end
  if i > 1 and not (is_str(n.parent) and seen[n.parent]) then
    bad_report("its parent is not listed before it", i)
  end
  if type(n.methods or {}) ~= "table" or type(n.labels or {}) ~= "table"
      or type(n.aliases or {}) ~= "table" then
    bad_report("methods, labels and aliases must be tables", i)
  end
  for _, m in ipairs(n.methods or {}) do
    if type(m) ~= "table" or not is_str(m.name) or not m.name:match("^[%a_][%w_]*$")
        or (m.kind ~= "call" and m.kind ~= "generator" and m.kind ~= "stream") then
      bad_report("a method needs a name and a kind (call, generator, stream)", i)
    end
  end
  if i > 1 and not n.name:match("^[%a_][%w_]*$") then
    bad_report(("'%s' is not a node name"):format(n.name), i)
  end
  seen[n.uuid] = true
end

local function check_report(report)
  if type(report) ~= "table" or type(report.nodes) ~= "table"
      or type(report.nodes[1]) ~= "table" then
    bad_report("no nodes")
  end
  local seen = {}
  for i, n in ipairs(report.nodes) do
    check_node(n, i, seen)
  end
end

--- tree(session, report) -> the root client node.
local function tree(session, report)
  check_report(report)
  local by_uuid, by_path = {}, {}
  for _, n in ipairs(report.nodes) do
    local node = new_node(session, n)
    by_uuid[n.uuid], by_path[n.path] = node, node
    local parent = n.parent and by_uuid[n.parent]
    if parent then
      parent.children[n.name] = node
      rawset(parent, n.name, node)
    end
  end
  for _, n in ipairs(report.nodes) do
    for name, target in pairs(n.aliases or {}) do
      local node, t = by_uuid[n.uuid], by_path[target]
      if t then
        node.children[name] = t
        rawset(node, name, t)
      end
    end
  end
  local root = by_uuid[report.nodes[1].uuid]
  root.report = report
  return root
end
M.tree = tree

--- connect(addr [, opts]) -> root client node. opts: token, name, logs
--- (true: show the exporter's log on stderr while the script runs).
function M.connect(addr, opts)
  opts = opts or {}
  local session = new_session(addr, opts)
  local ok, root = pcall(function()
    return tree(session, session:call("hilt.report"))
  end)
  if not ok then
    session:close()
    error(root, 0)
  end
  if opts.logs then
    session:show_logs(opts.logs == true and 0 or tonumber(opts.logs))
  end
  return root
end

--- over(conn [, on_close]) -> root client node for a connection already
--- made (an in-process pair); on_close runs when the tree is closed.
function M.over(conn, on_close)
  local session = new_session(nil, {}, nil)
  session:watch(conn)
  session.on_close = on_close
  return tree(session, session:call("hilt.report"))
end

return M
