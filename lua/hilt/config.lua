-- hilt.config: builds a driver tree from an exporter's config, a Lua file
-- returning the tree (docs/drivers.md, "Configs"):
--
--   return {
--     labels = { lab = "bench-3" },
--     children = {
--       power = { type = "power.sim", voltage = 5.0 },
--       dut = { type = "composite", children = { power = { ref = "power" } } },
--     },
--   }
--
-- A node is {type=, labels=, description=, uuid=, children=, <options>} or
-- {ref = "path.to.node"}. Every mistake is raised as one invalid_argument
-- hilt.Error whose message starts with the file and line it is about.
local hcore = require("hilt.core")
local driver = require("hilt.driver")
local registry = require("hilt.registry")
local luascan = require("hilt.luascan")

local M = {}

local function extend(path, ...)
  local p = table.move(path, 1, #path, 1, {})
  for i = 1, select("#", ...) do
    p[#p + 1] = select(i, ...)
  end
  return p
end

-- The line of the field at keypath, or of the nearest enclosing one (a
-- missing option is reported at its node).
local function line_of(ctx, keypath)
  local path = table.move(keypath, 1, #keypath, 1, {})
  while ctx.fields and #path > 0 do
    local line = luascan.find(ctx.fields, path)
    if line then
      return line
    end
    path[#path] = nil
  end
  return nil
end

local function fail(ctx, keypath, fmt, ...)
  local line = line_of(ctx, keypath)
  local where = ctx.file and (ctx.file .. (line and (":" .. line) or "") .. ": ") or ""
  error(hcore.error("invalid_argument", where .. fmt:format(...)), 0)
end

local function node_label(path)
  return path == "" and "the root node" or ("node " .. path)
end

local function check_labels(ctx, keypath, path, labels)
  if labels == nil then
    return {}
  end
  if type(labels) ~= "table" then
    fail(ctx, extend(keypath, "labels"), "%s: labels must be a table of "
      .. "strings, got %s", node_label(path), type(labels))
  end
  for k, v in pairs(labels) do
    if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number"
        and type(v) ~= "boolean") then
      fail(ctx, extend(keypath, "labels", k), "%s: label %s must map a name "
        .. "to a string", node_label(path), tostring(k))
    end
    labels[k] = tostring(v)
  end
  return labels
end

local build_node

local function build_children(ctx, spec, keypath, path, cls)
  local children, aliases = {}, {}
  if spec.children == nil then
    return children, aliases
  end
  if type(spec.children) ~= "table" then
    fail(ctx, extend(keypath, "children"), "%s: children must be a table "
      .. "of name = node, got %s", node_label(path), type(spec.children))
  end
  for _, name in ipairs(driver.sorted_keys(spec.children)) do
    local ckey = extend(keypath, "children", name)
    if not driver.is_name(name) then
      fail(ctx, ckey, "%s: child name '%s' is not a name (letters, digits "
        .. "and _, not starting with a digit)", node_label(path), tostring(name))
    end
    if driver.RESERVED[name] then
      fail(ctx, ckey, "%s: child name '%s' is reserved for the client tree; "
        .. "choose another", node_label(path), name)
    end
    if cls.exports[name] then -- (an instance's own exports are checked by the exporter)
      fail(ctx, ckey, "duplicate name '%s' in %s: %s exports a method of "
        .. "that name", name, node_label(path), cls.type)
    end
    local cpath = path == "" and name or (path .. "." .. name)
    local child = build_node(ctx, spec.children[name], ckey, cpath, name)
    if child.ref then
      aliases[name] = child
    else
      children[name] = child
    end
  end
  return children, aliases
end

function build_node(ctx, spec, keypath, path, name)
  if driver.is_driver(spec) then
    spec.name, spec.path = name, path
    return spec
  end
  if type(spec) ~= "table" then
    fail(ctx, keypath, "%s must be a table such as { type = \"power.sim\" }, "
      .. "got %s", node_label(path), type(spec))
  end
  if spec.ref ~= nil then
    for k in pairs(spec) do
      if k ~= "ref" and k ~= "description" then
        fail(ctx, extend(keypath, k), "%s: a ref node takes only 'ref' "
          .. "(and 'description'), not '%s'", node_label(path), tostring(k))
      end
    end
    if type(spec.ref) ~= "string" then
      fail(ctx, extend(keypath, "ref"), "%s: ref must be a path such as "
        .. "\"dut.power\", got %s", node_label(path), type(spec.ref))
    end
    return { ref = spec.ref, keypath = keypath, path = path, name = name }
  end
  local tname = spec.type
  if tname == nil and (spec.children ~= nil or path == "") then
    tname = "composite"
  end
  if type(tname) ~= "string" then
    fail(ctx, extend(keypath, "type"), "%s has no driver type: give type = "
      .. "\"power.sim\" or the like (or ref = \"other.node\")", node_label(path))
  end
  local cls, why = registry.driver_class(tname)
  if not cls then
    fail(ctx, extend(keypath, "type"), "%s: %s", node_label(path), why)
  end
  local options = {}
  for k, v in pairs(spec) do
    if not driver.NODE_KEYS[k] then
      options[k] = v
    end
  end
  local opts, bad, msg = cls:check_options(options)
  if not opts then
    fail(ctx, extend(keypath, bad), "%s: %s", node_label(path), msg)
  end
  if spec.description ~= nil and type(spec.description) ~= "string" then
    fail(ctx, extend(keypath, "description"), "%s: description must be a "
      .. "string", node_label(path))
  end
  if spec.uuid ~= nil and type(spec.uuid) ~= "string" then
    fail(ctx, extend(keypath, "uuid"), "%s: uuid must be a string",
      node_label(path))
  end
  local labels = check_labels(ctx, keypath, path, spec.labels)
  local children, aliases = build_children(ctx, spec, keypath, path, cls)
  local ok, d = pcall(cls.new, cls, opts, {
    uuid = spec.uuid, labels = labels, description = spec.description,
    children = children, name = name, path = path,
  })
  if not ok then
    fail(ctx, keypath, "%s (%s): %s", node_label(path), tname, tostring(d))
  end
  d.aliases = aliases
  ctx.nodes[#ctx.nodes + 1] = d
  return d
end

-- Follows a ref to its driver, through other refs.
local function resolve(ctx, root, ref, seen)
  if seen[ref] then
    fail(ctx, extend(ref.keypath, "ref"), "node %s: ref '%s' goes round in a "
      .. "circle", ref.path, ref.ref)
  end
  seen[ref] = true
  local node, walked = root, ""
  for name in ref.ref:gsub("/", "."):gmatch("[^.]+") do
    local nxt = node.children[name] or (node.aliases and node.aliases[name])
    if nxt and nxt.ref and not driver.is_driver(nxt) then
      nxt = resolve(ctx, root, nxt, seen)
    end
    if nxt == nil then
      local names = driver.sorted_keys(node.children)
      fail(ctx, extend(ref.keypath, "ref"), "node %s: dangling ref '%s': %s "
        .. "has no child '%s'%s", ref.path, ref.ref,
        walked == "" and "the root" or walked, name,
        #names > 0 and (" (it has: " .. table.concat(names, ", ") .. ")") or "")
    end
    walked = walked == "" and name or (walked .. "." .. name)
    node = nxt
  end
  if node == root then
    fail(ctx, extend(ref.keypath, "ref"), "node %s: ref '%s' names no node",
      ref.path, ref.ref)
  end
  return node
end

local function resolve_all(ctx, root)
  for _, d in ipairs(ctx.nodes) do
    for name, ref in pairs(d.aliases) do
      local target = resolve(ctx, root, ref, {})
      d.aliases[name] = target.path
      d.children[name] = target
    end
  end
end

--- build(spec [, where]) -> root driver. spec is a node table or a driver;
--- where = {file=, source=} names the config in errors.
function M.build(spec, where)
  where = where or {}
  local ctx = { file = where.file, nodes = {} }
  if where.source then
    local dups
    ctx.fields, dups = luascan.scan(where.source)
    local d = dups[1]
    if d then
      error(hcore.error("invalid_argument", ("%s:%d: duplicate name '%s' "
        .. "(first given at line %d; Lua keeps only the last)"):format(
        where.file, d.line, tostring(d.path[#d.path]), d.first)), 0)
    end
  end
  local root = build_node(ctx, spec, {}, "", "")
  if root.ref then
    fail(ctx, { "ref" }, "the root node cannot be a ref")
  end
  resolve_all(ctx, root)
  return root
end

--- load(file) -> root driver, name: runs the config file (its chunk may
--- use hilt and require) and builds its tree. name is the file's base
--- name, for the exporter.
function M.load(file)
  local f, err = io.open(file, "rb")
  if not f then
    error(hcore.error("not_found", ("cannot read config %s"):format(err)), 0)
  end
  local source = f:read("a")
  f:close()
  local env = setmetatable({}, { __index = _G })
  local chunk, lerr = load(source, "@" .. file, "t", env)
  if not chunk then
    error(hcore.error("invalid_argument", lerr), 0)
  end
  local ok, spec = xpcall(chunk, function(e)
    if hcore.is_error(e) then
      return e
    end
    return hcore.error("invalid_argument", tostring(e))
  end)
  if not ok then
    error(spec, 0)
  end
  if type(spec) ~= "table" then
    error(hcore.error("invalid_argument", ("%s: a config must return the "
      .. "driver tree as a table, got %s"):format(file, type(spec))), 0)
  end
  -- The root may name the exporter; that is not an option of its type.
  local name = spec.name
  if name ~= nil then
    local copy = {}
    for k, v in pairs(spec) do
      if k ~= "name" then copy[k] = v end
    end
    spec = copy
  end
  return M.build(spec, { file = file, source = source }),
    type(name) == "string" and name or file:match("([^/]+)%.lua$") or file
end

return M
