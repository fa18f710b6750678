-- hilt.repl.help: the REPL's `help`. With no argument it says what the
-- prompt has bound (the driver tree `lab`, the bus `bus`), which keys do
-- what, and the hilt functions worth knowing; with one it describes that
-- value: a driver node's methods, the bus client's, a table's fields, a
-- function's definition.
--
--   local help = require("hilt.repl.help").new(env)
--   help()              -- the overview
--   help(lab.dut.power) -- on(), off(), cycle(wait), ... with their docs
--   help(bus)           -- bus:call, bus:get, bus:observe, ...
--
-- Describing a value must not change it, so tables are read raw and
-- `__index` functions are never called, as completion does.
local complete = require("hilt.repl.complete")
local pretty = require("hilt.pretty")

local M = {}

-- A table with more fields than this is shown in part.
local MAX_FIELDS = 200

local BUS_METHODS = {
  { "call(path, ...)", "call an action; its owner's result or error comes back" },
  { "get(path)", "a property's value from its owner, a state's from the hub" },
  { "set(path, v)", "set a property, or ask a state's owner to; returns the owner's answer" },
  { "observe(path [, fn])", "a state's value now, then fn(v) on each change (no fn: an iterator)" },
  { "listen(path [, fn])", "fn(v) on each emission of an event (no fn: an iterator)" },
  { "emit(path, v)", "emit an event to every listener" },
  { "action_register(path, fn)", "answer calls to path with fn(...)" },
  { "prop_register(path, {get=, set=})", "own a property" },
  { "event_register(path)", "own an event; event:emit(v)" },
  { "state_register(path [, {set=}])", "own a state; state:changed(v), state:unknown()" },
  { "wait_connected([timeout])", "wait for the hub: true, or nil and why" },
  { "client_id()", "the id the hub knows this client by" },
  { "channels()", "the hub's channels (docs/bus.md, \"Channels\")" },
  { "close()", "leave the hub: its actions go, its states turn Unknown" },
}

local HILT_FUNCTIONS = {
  { "sleep(s)", "wait s seconds; other tasks run meanwhile" },
  { "spawn(fn, ...)", "run fn in a new task; task:join(), task:cancel()" },
  { "timeout(s, fn, ...)", "run fn, failing with `timeout` after s seconds" },
  { "after(s, fn)", "run fn once after s seconds (every(s, fn): repeatedly)" },
  { "queue([max])", "a FIFO between tasks: put, get, try_put, try_get" },
  { "wait_all(tasks)", "wait for every task (wait_first: for one)" },
  { "now()", "monotonic seconds (time(): wall clock)" },
  { "connect(addr)", "the driver tree of an exporter" },
  { "serve(config)", "a config's driver tree, served in this process" },
  { "log.info(fmt, ...)", "log a line (also debug, warn, error)" },
}

local function default_write(s)
  io.stdout:write(s)
  io.stdout:flush()
end

-- Adds to out the lines of {left, right} pairs, the right sides lined up.
local function add_aligned(out, rows, indent)
  local widest = 0
  for _, r in ipairs(rows) do
    widest = math.max(widest, #r[1])
  end
  for _, r in ipairs(rows) do
    out[#out + 1] = (indent .. r[1] .. (" "):rep(widest - #r[1] + 2) .. r[2]):gsub("%s+$", "")
  end
end

-- A node of hilt.client's trees: its children and its session are its own
-- fields, its help comes from its class.
local function is_client_node(v)
  return type(v) == "table" and rawget(v, "_session") ~= nil
    and type(rawget(v, "children")) == "table"
    and type(complete.lookup(v, "help")) == "function"
end

local function is_bus(env, v)
  local busmod = package.loaded["hilt.bus"]
  return v ~= nil and (v == rawget(env, "bus")
    or (busmod and debug.getmetatable(v) == busmod.Bus))
end

local sorted_keys = pretty.sorted_keys

-- A one-line glimpse of a value: scalars as written, the rest by type.
local function preview(v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then
    local s = pretty.format(v, { width = 0 })
    return #s > 50 and (s:sub(1, 47) .. "...") or s
  end
  return ""
end

-- --- the overview ----------------------------------------------------------------------

local function lab_lines(lab)
  if lab == nil then
    return { "lab   not connected (hilt repl ADDR connects to an exporter)" }
  elseif not is_client_node(lab) then
    return { "lab   a " .. type(lab) .. ", not a driver tree" }
  end
  local desc = rawget(lab, "description")
  local out = { ("lab   the driver tree (%s)%s"):format(tostring(rawget(lab, "type")),
    (desc and desc ~= "") and (": " .. desc) or "") }
  local rows = {}
  local children = rawget(lab, "children")
  for _, name in ipairs(sorted_keys(children)) do
    local c = children[name]
    rows[#rows + 1] = { "." .. tostring(name), ("%s (%s)"):format(
      tostring(rawget(c, "path")), tostring(rawget(c, "type"))) }
  end
  add_aligned(out, rows, "        ")
  out[#out + 1] = "      help(lab.NAME) shows a node's methods"
  return out
end

local function bus_lines(bus)
  if bus == nil then
    return { "bus   not connected" }
  end
  local addr = type(bus) == "table" and rawget(bus, "addr")
  return {
    "bus   " .. (addr and ("the hub at " .. tostring(addr)) or "the embedded hub"),
    "      help(bus) shows its methods",
  }
end

local function key_lines(env)
  local history = rawget(env, "__repl_history")
  local rows = {
    { "Tab", "complete a name, a field, a method, or a bus path in a string" },
    { "Ctrl-C", "cancel the running line" },
    { "Ctrl-D", "exit" },
    { "=expr", "print the value of expr" },
    { "Up, Down", "walk the history, " .. (history
      and ("kept in " .. tostring(history)) or "kept for this session only") },
  }
  local out = { "keys" }
  add_aligned(out, rows, "  ")
  return out
end

local function hilt_lines()
  local hilt = require("hilt")
  local rows, described = {}, {}
  for i, f in ipairs(HILT_FUNCTIONS) do
    rows[i] = { "hilt." .. f[1], f[2] }
    described[f[1]:match("^[%w_]+")] = true
  end
  local out = { "hilt" }
  add_aligned(out, rows, "  ")
  local others = {}
  for _, k in ipairs(sorted_keys(hilt)) do
    if type(k) == "string" and not described[k] then
      others[#others + 1] = k
    end
  end
  out[#out + 1] = "  also: " .. table.concat(others, ", ")
  return out
end

local function overview(env)
  local out = {}
  local function add(lines)
    table.move(lines, 1, #lines, #out + 1, out)
  end
  add(lab_lines(rawget(env, "lab")))
  add(bus_lines(rawget(env, "bus")))
  out[#out + 1] = ""
  add(key_lines(env))
  out[#out + 1] = ""
  add(hilt_lines())
  return out
end

-- --- describing a value ----------------------------------------------------------------

local function bus_help(bus)
  local addr = rawget(bus, "addr")
  local out = { "bus: a client of " .. (addr and ("the hub at " .. tostring(addr))
    or "the embedded hub") }
  local rows = {}
  for i, m in ipairs(BUS_METHODS) do
    rows[i] = { "bus:" .. m[1], m[2] }
  end
  rows[#rows + 1] = { "bus.connected", "true while the hub is reachable" }
  add_aligned(out, rows, "  ")
  out[#out + 1] = "Paths look like /lab/oven; bus:call(\"/meta/ls\", \"/lab\") lists a directory."
  return out
end

local function params(fn)
  local info = debug.getinfo(fn, "u")
  local names = {}
  for i = 1, info.nparams do
    names[i] = debug.getlocal(fn, i)
  end
  if info.isvararg then
    names[#names + 1] = "..."
  end
  return table.concat(names, ", ")
end

local function function_help(fn)
  local info = debug.getinfo(fn, "S")
  if info.what == "C" then
    return { "a C function" }
  end
  return { ("a function(%s), defined at %s:%d"):format(params(fn),
    info.short_src, info.linedefined) }
end

-- The functions a value gets from its __index tables: its methods.
local function inherited_methods(v)
  local base = type(v) == "table" and v or nil
  local found = {}
  for name, f in pairs(complete.members(v)) do
    if type(f) == "function" and not (base and rawget(base, name) ~= nil)
        and name:sub(1, 1) ~= "_" then
      found[#found + 1] = name
    end
  end
  table.sort(found)
  return found
end

local function table_help(t)
  local keys = sorted_keys(t)
  local out = { ("a table with %d field%s"):format(#keys, #keys == 1 and "" or "s") }
  local rows = {}
  for i = 1, math.min(#keys, MAX_FIELDS) do
    local k = keys[i]
    local v = rawget(t, k)
    rows[i] = { type(k) == "string" and k or ("[" .. tostring(k) .. "]"),
      ("%-8s %s"):format(type(v), preview(v)) }
  end
  add_aligned(out, rows, "  ")
  if #keys > MAX_FIELDS then
    out[#out + 1] = ("  ... and %d more"):format(#keys - MAX_FIELDS)
  end
  return out
end

local function value_help(v)
  local t = type(v)
  if t == "function" then
    return function_help(v)
  elseif t == "table" then
    return table_help(v)
  elseif t == "nil" then
    return { "nil" }
  elseif t == "userdata" or t == "thread" then
    return { ("a %s: %s"):format(t, tostring(v)) }
  end
  return { ("a %s: %s"):format(t, pretty.format(v, { width = 0 })) }
end

local function describe(env, v)
  if is_client_node(v) then
    return { complete.lookup(v, "help")(v) }
  elseif is_bus(env, v) then
    return bus_help(v)
  end
  local out = value_help(v)
  if type(v) ~= "string" then
    local methods = inherited_methods(v)
    if #methods > 0 then
      out[#out + 1] = "methods: " .. table.concat(methods, ", ")
    end
  end
  return out
end

--- new(env [, opts]) -> help: the function the REPL binds as `help`.
--- help() writes the overview, help(v) a description of v. env: the
--- REPL's globals (env.lab, env.bus, env.__repl_history are read);
--- opts.write(text) writes (default: to io.stdout, flushed).
function M.new(env, opts)
  env = env or {}
  local write = opts and opts.write or default_write
  return function(...)
    local lines
    if select("#", ...) == 0 then
      lines = overview(env)
    else
      lines = describe(env, (...))
    end
    write(table.concat(lines, "\n") .. "\n")
  end
end

return M
