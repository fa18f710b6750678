-- hilt.pretty: values as Lua-like text for people: nested tables with
-- sorted keys, cycles marked, a depth limit, and strings that are not
-- printable text shown as escapes, so a binary reply never garbles a
-- terminal.
--
--   pretty.format({ on = true, volts = 5.1 })   --> { on = true, volts = 5.1 }
--   pretty.format(v, { width = 0 })             one line, whatever the size
local M = {}

local function quote(s)
  local q = string.format("%q", s)
  -- %q keeps newlines as backslash-newline and control bytes raw above 127;
  -- show both as escapes.
  q = q:gsub("\\\n", "\\n"):gsub("\r", "\\r")
  q = q:gsub("[\128-\255]", function(c) return ("\\x%02x"):format(c:byte()) end)
  return q
end

local function is_ident(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
end

local KEY_ORDER = { number = 1, string = 2, boolean = 3 }

--- sorted_keys(t) -> t's keys, numbers first, then strings, booleans and
--- the rest; read raw (a __pairs metamethod is not run), so that showing
--- a table never runs its code.
local function sorted_keys(t)
  local keys = {}
  for k in next, t do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then
      return (KEY_ORDER[ta] or 9) < (KEY_ORDER[tb] or 9)
    end
    if ta == "number" or ta == "string" then
      return a < b
    end
    return tostring(a) < tostring(b)
  end)
  return keys
end

local function scalar(v)
  local t = type(v)
  if t == "string" then
    return quote(v)
  elseif t == "number" then
    if math.type(v) == "float" and v == math.floor(v) and v > -1e15 and v < 1e15 then
      return ("%.1f"):format(v)
    end
    return tostring(v)
  elseif t == "table" then
    return nil
  end
  return tostring(v)
end

local function format(v, opts, depth, seen, indent)
  local s = scalar(v)
  if s then
    return s
  end
  local mt = getmetatable(v)
  if mt and mt.__tostring and not opts.raw then
    return tostring(v)
  end
  if seen[v] then
    return "<cycle>"
  end
  if depth >= opts.depth then
    return "{...}"
  end
  if next(v) == nil then
    return "{}"
  end
  seen[v] = true
  local parts, n = {}, #v
  for i = 1, n do
    parts[#parts + 1] = format(v[i], opts, depth + 1, seen, indent .. "  ")
  end
  for _, k in ipairs(sorted_keys(v)) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then
      local key = is_ident(k) and k or ("[" .. (scalar(k) or tostring(k)) .. "]")
      parts[#parts + 1] = key .. " = " .. format(v[k], opts, depth + 1, seen,
        indent .. "  ")
    end
  end
  seen[v] = nil
  local one = "{ " .. table.concat(parts, ", ") .. " }"
  if opts.width <= 0 or #indent + #one <= opts.width then
    return one
  end
  return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ")
    .. "\n" .. indent .. "}"
end

M.sorted_keys = sorted_keys

--- format(v [, opts]) -> text. opts: depth (default 8), width (lines
--- longer than this break across lines; 0: never; default 78), raw (ignore
--- __tostring).
function M.format(v, opts)
  opts = opts or {}
  return format(v, { depth = opts.depth or 8, width = opts.width or 78,
    raw = opts.raw }, 0, {}, "")
end

--- literal(text) -> value: a command-line argument read as a Lua literal
--- (42, true, "x", {1, 2}, nil); a word that is not one is the string
--- itself, so `hilt call ADDR shell.run uname` passes "uname".
function M.literal(text)
  local chunk = load("return " .. text, "=(argument)", "t", setmetatable({}, {
    __index = function(_, k) error("not a literal: " .. k, 0) end,
  }))
  if chunk then
    local ok, v = pcall(chunk)
    if ok and (v ~= nil or text:match("^%s*nil%s*$")) then
      return v
    end
  end
  return text
end

return M
