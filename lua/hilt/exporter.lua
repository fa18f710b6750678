-- hilt.exporter: serves a driver tree on hilt's wire. Each node's exported
-- members are reached by path ("dut/power/on"); three more methods serve
-- the tree itself:
--
--   hilt.report            the tree: uuids, labels, descriptions, methods
--   hilt.logs {backlog=n}  the exporter's log, streamed (records)
--   hilt.reset             runs every driver's reset hook
--
-- Every call is logged with its path, outcome, duration and trace id. A
-- driver's error fails that call only.
local hilt = require("hilt")
local hcore = require("hilt.core")
local rpc = require("hilt.rpc")
local log = require("hilt.log")
local driver = require("hilt.driver")
local exporter_log = require("hilt.exporter_log")

local M = {}

local Exporter = {}
Exporter.__index = Exporter

-- Nodes in tree order (a parent before its children, children by name),
-- each once, with the aliases its parent gives other nodes.
local function walk(root)
  local nodes = {}
  local function visit(d, parent)
    nodes[#nodes + 1] = { driver = d, parent = parent }
    for _, name in ipairs(driver.sorted_keys(d.children)) do
      if not (d.aliases and d.aliases[name]) then
        visit(d.children[name], d)
      end
    end
  end
  visit(root, nil)
  return nodes
end

local function report_node(n)
  local d = n.driver
  local cls = getmetatable(d)
  local aliases = {}
  for name, target in pairs(d.aliases or {}) do
    aliases[name] = target
  end
  return {
    uuid = d.uuid, parent = n.parent and n.parent.uuid, name = d.name,
    path = d.path, type = cls.type, client = cls.client, labels = d.labels,
    description = d.description, methods = d:methods(), aliases = aliases,
  }
end

function Exporter:build_report()
  local nodes = {}
  for i, n in ipairs(self.nodes) do
    nodes[i] = report_node(n)
  end
  return { version = 1, name = self.name, uuid = self.root.uuid,
           labels = self.root.labels, description = self.root.description,
           nodes = nodes }
end

-- --- calls ----------------------------------------------------------------------

local now, current = hcore.now, hcore.current
local on_error = rpc.error_handler

local function outcome(exp, label, t0, ok, res)
  local trace = rpc.trace()
  if not trace then
    exp.seq = exp.seq + 1
  end
  if ok then
    -- The line is most of what a call costs the exporter: make it only
    -- when stderr or a sink (the exporter's own log, at info) takes it.
    if log.wanted(exp.call_log) then
      local ms = (now() - t0) * 1000
      if trace then
        log.at(exp.call_log, "exporter", "call %s ok %.2f ms trace=%s", label, ms, trace)
      else
        log.at(exp.call_log, "exporter", "call %s ok %.2f ms trace=#%d", label, ms, exp.seq)
      end
    end
    return res
  end
  local ms = (now() - t0) * 1000
  trace = trace or ("#" .. exp.seq)
  if exp.stopping and hcore.is_error(res, "cancelled") then
    res = hcore.error("unavailable", ("exporter %s is shutting down (%s)")
      :format(exp.name, exp.stopping))
  end
  log.at("warn", "exporter", "call %s %s %.2f ms trace=%s: %s", label,
    hcore.is_error(res) and res.code or "failed", ms, trace,
    hcore.is_error(res) and res.message or tostring(res))
  error(res, 0)
end

-- Runs one call of an exported member: in flight until it ends, one at a
-- time on a serial driver, logged either way.
local function run(exp, d, label, fn, ...)
  local t0, task = now(), current()
  local inflight = exp.inflight
  inflight[task] = label
  local lock = d._lock
  if lock then
    local ok, err = pcall(lock.acquire, lock)
    if not ok then
      inflight[task] = nil
      return outcome(exp, label, t0, false, err)
    end
  end
  local ok, res = xpcall(fn, on_error, d, ...)
  if lock then
    lock:release()
  end
  inflight[task] = nil
  return outcome(exp, label, t0, ok, res)
end

local function wrap(exp, d, e)
  local fn, label = e.fn, d.path == "" and e.name or (d.path .. "." .. e.name)
  if e.kind == "call" then
    return function(...)
      return run(exp, d, label, fn, ...)
    end
  elseif e.kind == "generator" then
    return rpc.streaming(function(stream, ...)
      local function emit(item)
        stream:send(item)
      end
      return run(exp, d, label, function(self, ...)
        return fn(self, emit, ...)
      end, ...)
    end)
  end
  return rpc.streaming(function(stream, ...)
    return run(exp, d, label, function(self, ...)
      return fn(self, stream, ...)
    end, ...)
  end)
end

-- The router: one table per node holding its members and its children,
-- an alias sharing its target's table.
function Exporter:build_router()
  local tables = {}
  for _, n in ipairs(self.nodes) do
    local d = n.driver
    local t = {}
    for name, e in pairs(d.exports) do
      t[name] = wrap(self, d, e)
    end
    if getmetatable(d).serial then
      d._lock = driver.lock()
    end
    tables[d] = t
  end
  for _, n in ipairs(self.nodes) do
    local d = n.driver
    for name, child in pairs(d.children) do
      tables[d][name] = tables[child]
    end
  end
  local root = tables[self.root]
  root["hilt.report"] = function() return self.report end
  root["hilt.reset"] = function() return self:reset() end
  root["hilt.logs"] = rpc.streaming(function(stream, opts)
    opts = type(opts) == "table" and opts or {}
    local sub <close> = self.log:subscribe(tonumber(opts.backlog) or 0,
      opts.level)
    -- The first item says the subscription is in place, so a client can
    -- wait for it before making the calls it wants to see logged.
    stream:send({ time = hcore.time(), level = "debug", source = "exporter",
      message = "log stream started" })
    while true do
      local rec, extra = sub:next()
      if rec == nil then
        return
      end
      stream:send(rec)
      if extra then
        stream:send(extra)
      end
    end
  end)
  return rpc.router(root)
end

-- --- lifecycle ----------------------------------------------------------------------

--- new(root [, opts]) -> exporter for a built driver tree. opts.name
--- names it in the report and in messages; opts.call_log is the level
--- successful calls are logged at (default "info"; failures are "warn").
function M.new(root, opts)
  opts = opts or {}
  local self = setmetatable({
    root = root, name = opts.name or "hilt", inflight = {}, conns = {},
    seq = 0, stopping = false, opened = {}, call_log = opts.call_log or "info",
  }, Exporter)
  self.nodes = walk(root)
  self.report = self:build_report()
  self.router = self:build_router()
  self.log = exporter_log.new()
  return self
end

-- Runs a hook of every driver that has it: children before their parent
-- for open, the reverse for close. A failing open stops there and raises;
-- a failing close or reset is logged and the rest go on.
local function hook(self, name, order, strict)
  local failed
  for _, n in ipairs(order) do
    local d = n.driver
    local fn = d[name]
    if type(fn) == "function" then
      local ok, err = xpcall(fn, debug.traceback, d)
      if ok and name == "open" then
        self.opened[#self.opened + 1] = n
      elseif not ok then
        local where = d.path == "" and "the root driver" or d.path
        if strict then
          error(hcore.error("failed", ("cannot open %s (%s): %s"):format(
            where, getmetatable(d).type, tostring(err))), 0)
        end
        log.at("warn", "exporter", "%s of %s failed: %s", name, where, tostring(err))
        failed = failed or err
      end
    elseif name == "open" then
      self.opened[#self.opened + 1] = n
    end
  end
  return failed
end

--- exporter:open(): runs the drivers' open hooks (children first). If one
--- raises, the ones already open are closed and the error is raised.
function Exporter:open()
  local order = {}
  for i = #self.nodes, 1, -1 do
    order[#order + 1] = self.nodes[i]
  end
  local ok, err = pcall(hook, self, "open", order, true)
  if not ok then
    self:close()
    error(err, 0)
  end
end

--- exporter:close(): closes the drivers that were opened (parents first).
function Exporter:close()
  local order = {}
  for i = #self.opened, 1, -1 do
    order[#order + 1] = self.opened[i]
  end
  self.opened = {}
  hook(self, "close", order)
end

--- exporter:reset(): every driver's reset hook; true, or raises the first
--- failure after running them all.
function Exporter:reset()
  local failed = hook(self, "reset", self.nodes)
  if failed then
    error(failed, 0)
  end
  return true
end

--- exporter:listen(addr [, opts]) -> listener: serves the tree there.
--- opts.token as rpc.serve's.
function Exporter:listen(addr, opts)
  opts = opts or {}
  self.listener = rpc.serve(addr, self.router, {
    token = opts.token,
    on_connect = function(conn)
      self.conns[conn] = true
      conn:on_reset(function()
        self.conns[conn] = nil
      end)
    end,
  })
  return self.listener
end

--- exporter:shutdown(why [, grace]): stops listening, ends the calls in
--- flight `unavailable` (waiting up to `grace` seconds, default 5, for
--- them to answer), closes the drivers, then the connections.
function Exporter:shutdown(why, grace)
  if self.stopping then
    return
  end
  self.stopping = why or "shutting down"
  local n = 0
  for _ in pairs(self.inflight) do n = n + 1 end
  log.at("info", "exporter", "%s: shutting down (%s), %d call%s in flight",
    self.name, self.stopping, n, n == 1 and "" or "s")
  if self.listener then
    self.listener:close()
  end
  for task in pairs(self.inflight) do
    task:cancel()
  end
  local deadline = now() + (grace or 5)
  while next(self.inflight) and now() < deadline do
    hilt.sleep(0.01)
  end
  self:close()
  self.log:close()
  -- Let the answers to the cancelled calls reach the wire first.
  hilt.sleep(0.05)
  for conn in pairs(self.conns) do
    conn:close()
  end
end

return M
