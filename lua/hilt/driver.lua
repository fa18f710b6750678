-- hilt.driver: driver classes. A driver is the code next to the hardware:
-- an object with a uuid, labels, a description, named children and
-- exported members that clients call over the wire (docs/drivers.md).
--
--   local driver = require("hilt.driver")
--   local Relay = driver.class("relay.sim", {
--     client = "power",
--     description = "A relay that does nothing",
--     options = { channel = { type = "integer", default = 1 } },
--   })
--   Relay:export("on", "Close the relay.", function(self) self.closed = true end)
--
-- Only exported members resolve from the wire; plain methods stay local.
local hcore = require("hilt.core")

local driver = {}

local Class = {}
Class.__index = Class

-- Node attributes a config may give any driver; every other key of a
-- node is an option of its driver type.
driver.NODE_KEYS = {
  type = true, ref = true, labels = true, description = true,
  uuid = true, children = true,
}

-- Names a client tree uses for itself: no child or exported member may
-- take them (docs/drivers.md, "Names").
driver.RESERVED = {
  uuid = true, labels = true, description = true, children = true,
  path = true, type = true, methods = true, call = true, stream = true,
  help = true, close = true, reset = true, logs = true, refresh = true,
  connection = true, name = true, client = true, exporter = true,
  new = true, open = true, report = true,
}

local classes = {}

local function is_name(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
end
driver.is_name = is_name

--- class(type_name, spec) -> Class. spec: client (the client class name,
--- default "generic"), description, options (name -> {type=, default=,
--- required=, doc=, check=fn}), serial (true: calls run one at a time),
--- base (a class to inherit exports, options and methods from).
function driver.class(type_name, spec)
  spec = spec or {}
  if type(type_name) ~= "string" or not type_name:match("^[%w_]+[%w_.]*$") then
    error("driver.class: a type name such as 'power.sim' expected", 2)
  end
  local base = spec.base
  local cls = setmetatable({
    type = type_name,
    client = spec.client or (base and base.client) or "generic",
    description = spec.description or (base and base.description) or "",
    serial = spec.serial or (base and base.serial) or false,
    options = {},
    exports = {},
  }, { __index = base or Class })
  cls.__index = cls
  if base then
    for k, v in pairs(base.options) do cls.options[k] = v end
    for k, v in pairs(base.exports) do cls.exports[k] = v end
  end
  for name, o in pairs(spec.options or {}) do
    if not is_name(name) or driver.NODE_KEYS[name] then
      error(("driver.class: option name '%s' is not allowed"):format(name), 2)
    end
    if type(o) ~= "table" then
      error(("driver.class: option '%s' must be a table {type=, default=, doc=}")
        :format(name), 2)
    end
    cls.options[name] = o
  end
  classes[type_name] = cls
  return cls
end

--- find(type_name) -> the class registered under that name, or nil.
function driver.find(type_name)
  return classes[type_name]
end

--- is_driver(v) -> true when v is a driver instance.
function driver.is_driver(v)
  local mt = getmetatable(v)
  -- An instance's metatable is its class, which has exports; a class's
  -- own metatable does not.
  return type(v) == "table" and type(mt) == "table"
    and type(mt.exports) == "table" and rawget(v, "uuid") ~= nil
end

-- Parses "name: what it is" argument docs into {name=, doc=}.
local function parse_args(args)
  local out = {}
  for i, a in ipairs(args or {}) do
    if type(a) == "table" then
      out[i] = { name = a.name or a[1], doc = a.doc or a[2] or "" }
    else
      local name, doc = tostring(a):match("^%s*([%w_%.%[%]]+)%s*:?%s*(.*)$")
      out[i] = { name = name or tostring(a), doc = doc or "" }
    end
  end
  return out
end

local function add_export(cls, kind, name, doc, fn, level)
  -- On an instance (a driver whose members depend on its options, such
  -- as shell's commands), the export is its own: it gets a copy of its
  -- class's table first.
  if rawget(cls, "exports") == nil then
    local own = {}
    for k, v in pairs(cls.exports) do own[k] = v end
    rawset(cls, "exports", own)
  end
  if not is_name(name) or name:sub(1, 1) == "_" then
    error(("%s: '%s' is not a name a client can call (letters, digits, _)")
      :format(kind, tostring(name)), level)
  end
  if driver.RESERVED[name] then
    error(("%s: '%s' is reserved for the client tree; choose another name")
      :format(kind, name), level)
  end
  if type(doc) == "function" and fn == nil then
    doc, fn = nil, doc
  end
  if type(fn) ~= "function" then
    error(("%s: '%s' needs a function"):format(kind, name), level)
  end
  if type(doc) ~= "table" then
    doc = { doc = doc }
  end
  cls.exports[name] = {
    name = name, kind = kind, fn = fn, doc = doc.doc or "",
    args = parse_args(doc.args),
  }
end

--- Class:export(name, [doc,] fn): a unary call, fn(self, ...) -> result.
--- doc is a string or {doc=, args={"name: what", ...}}.
function Class:export(name, doc, fn)
  add_export(self, "call", name, doc, fn, 3)
end

--- Class:export_generator(name, [doc,] fn): a streaming call; fn(self,
--- emit, ...) calls emit(item) for each item (emit waits while the
--- client's window is full) and returns the call's result.
function Class:export_generator(name, doc, fn)
  add_export(self, "generator", name, doc, fn, 3)
end

--- Class:export_stream(name, [doc,] fn): a raw byte stream both ways;
--- fn(self, stream, ...) reads and writes stream (read, write,
--- close_write) until it returns.
function Class:export_stream(name, doc, fn)
  add_export(self, "stream", name, doc, fn, 3)
end

-- --- options ---------------------------------------------------------------

local function type_of(v)
  if math.type(v) == "integer" then
    return "integer"
  end
  return type(v)
end

local function type_ok(want, v)
  local got = type_of(v)
  return want == nil or want == "any" or got == want
    or (want == "number" and got == "integer")
    or (want == "integer" and got == "number" and v == math.floor(v))
end

-- The name in `names` closest to `name`, when close enough to suggest.
local function nearest(name, names)
  local function dist(a, b)
    local prev = {}
    for j = 0, #b do prev[j] = j end
    for i = 1, #a do
      local cur = { [0] = i }
      for j = 1, #b do
        local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
        cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      end
      prev = cur
    end
    return prev[#b]
  end
  local best, best_d
  for _, n in ipairs(names) do
    local d = dist(name, n)
    if d <= math.max(2, #name // 3) and (best_d == nil or d < best_d) then
      best, best_d = n, d
    end
  end
  return best
end
driver.nearest = nearest

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end
driver.sorted_keys = sorted_keys

-- Checks `given` against the class's option table. Returns the options
-- with defaults filled in, or nil, the option at fault and why.
function Class:check_options(given)
  local out = {}
  for k, v in pairs(given) do
    local o = self.options[k]
    if o == nil then
      local names = sorted_keys(self.options)
      local near = type(k) == "string" and nearest(k, names)
      return nil, k, ("unknown option '%s' for %s%s"):format(tostring(k),
        self.type, near and (" (did you mean '" .. near .. "'?)")
        or (#names > 0 and (" (options: " .. table.concat(names, ", ") .. ")")
          or " (it takes no options)"))
    end
    local want = o.type or (o.default ~= nil and type_of(o.default))
    if want == "integer" and o.default ~= nil and math.type(o.default) ~= "integer" then
      want = "number"
    end
    if not type_ok(want, v) then
      return nil, k, ("bad option '%s' for %s: %s expected, got %s")
        :format(k, self.type, want, type_of(v))
    end
    if o.check then
      local ok, why = o.check(v)
      if not ok then
        return nil, k, ("bad option '%s' for %s: %s"):format(k, self.type,
          why or "invalid value")
      end
    end
    out[k] = v
  end
  for k, o in pairs(self.options) do
    if out[k] == nil then
      if o.required then
        return nil, k, ("missing option '%s' for %s%s"):format(k, self.type,
          o.doc and (" (" .. o.doc .. ")") or "")
      end
      out[k] = o.default
    end
  end
  return out
end

-- --- instances -------------------------------------------------------------------

local function random_uuid()
  local b = {}
  for i = 1, 16 do b[i] = math.random(0, 255) end
  b[7] = (b[7] & 0x0f) | 0x40
  b[9] = (b[9] & 0x3f) | 0x80
  local h = ("%02x"):rep(16):format(table.unpack(b))
  return ("%s-%s-%s-%s-%s"):format(h:sub(1, 8), h:sub(9, 12), h:sub(13, 16),
    h:sub(17, 20), h:sub(21, 32))
end
driver.uuid = random_uuid

--- Class:new([options [, node]]) -> driver. options are checked against
--- the class (raises on a bad one); node gives uuid, labels,
--- description and children (name -> driver).
function Class:new(options, node)
  node = node or {}
  local opts, _, why = self:check_options(options or {})
  if not opts then
    error(why, 2)
  end
  local d = setmetatable({
    uuid = node.uuid or random_uuid(),
    labels = node.labels or {},
    description = node.description or self.description,
    children = node.children or {},
    options = opts,
    name = node.name or "",
    path = node.path or "",
  }, self)
  if d.init then
    d:init(opts)
  end
  return d
end

--- d:methods() -> the exported members (of a class, or of one driver,
--- with those it added), sorted by name, as the report lists them:
--- {name=, kind=, doc=, args=}.
function Class:methods()
  local list = {}
  for _, name in ipairs(sorted_keys(self.exports)) do
    local e = self.exports[name]
    list[#list + 1] = { name = name, kind = e.kind, doc = e.doc, args = e.args }
  end
  return list
end

-- Drivers log through hilt.log with their path as the source, so the
-- exporter's log (and its subscribers) can tell them apart.
local log = require("hilt.log")

function Class:log(level, ...)
  log.at(level, self.path ~= "" and self.path or self.type, ...)
end

-- --- one call at a time --------------------------------------------------------------

local Lock = {}
Lock.__index = Lock

--- lock() -> a mutex for tasks: lock:acquire() waits its turn (in order),
--- lock:release() hands it to the next waiter.
function driver.lock()
  return setmetatable({ held = false, waiters = {}, head = 1 }, Lock)
end

function Lock:acquire()
  if not self.held then
    self.held = true
    return
  end
  local me = { hcore.current(), hcore.wait_seq() }
  self.waiters[#self.waiters + 1] = me
  local ok, err = pcall(hcore.suspend, "driver lock")
  if not ok then
    -- Cancelled while waiting: if the lock was handed over meanwhile,
    -- pass it on rather than keep it.
    if me.granted then
      self:release()
    else
      me.gone = true
    end
    error(err, 0)
  end
end

function Lock:release()
  while self.head <= #self.waiters do
    local w = self.waiters[self.head]
    self.waiters[self.head] = nil
    self.head = self.head + 1
    if not w.gone and hcore.wake(w[1], w[2]) then
      w.granted = true
      return
    end
  end
  self.waiters, self.head = {}, 1
  self.held = false
end

driver.Class = Class
return driver
