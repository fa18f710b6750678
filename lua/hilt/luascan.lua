-- hilt.luascan: where the fields of Lua table constructors sit in a source
-- file, so errors about a config's values can name its file and line.
-- Tables keep no record of where they were written; the source does.
--
-- scan(source) -> fields, dups
--   fields: list of {path = {k1, k2, ...}, line = n}: one per field of every
--           constructor, path being the keys of the enclosing constructors
--           from the outermost (named after the variable it is assigned
--           to, if any) down to the field's own key (positional fields
--           count 1, 2, ...).
--   dups:   list of {path = ..., line = n, first = n}: a key given twice in
--           one constructor, which Lua silently keeps the last of.
--
-- find(fields, path) -> line | nil: the line of the field whose path ends
-- with `path`, or whose whole path is a tail of `path`.
--
-- It is a scanner, not a parser: it knows Lua's tokens (strings, long
-- strings, comments) and brackets, which is all it needs.
local M = {}

-- Tokens: {t = kind, v = text, line = n}; kinds "name", "string", "op".
local function tokenize(src)
  local toks, i, line, n = {}, 1, 1, #src
  local function long_bracket(at)
    local eq = src:match("^%[(=*)%[", at)
    if not eq then
      return nil
    end
    local close = "]" .. eq .. "]"
    local stop = src:find(close, at, true)
    local body_end = stop and stop + #close - 1 or n
    return body_end
  end
  local function count_lines(a, b)
    local _, k = src:sub(a, b):gsub("\n", "")
    line = line + k
  end
  while i <= n do
    local c = src:sub(i, i)
    if c == "\n" then
      line, i = line + 1, i + 1
    elseif c:match("%s") then
      i = i + 1
    elseif src:sub(i, i + 1) == "--" then
      local stop = long_bracket(i + 2)
      if stop then
        count_lines(i, stop)
        i = stop + 1
      else
        i = (src:find("\n", i, true) or n + 1)
      end
    elseif c == '"' or c == "'" then
      local j, start = i + 1, line
      local buf = {}
      while j <= n do
        local d = src:sub(j, j)
        if d == "\\" then
          local e = src:sub(j + 1, j + 1)
          if e == "\n" then line = line + 1 end
          buf[#buf + 1] = ({ n = "\n", t = "\t", ["\\"] = "\\", ['"'] = '"',
            ["'"] = "'" })[e] or e
          j = j + 2
        elseif d == c or d == "\n" then
          break
        else
          buf[#buf + 1] = d
          j = j + 1
        end
      end
      toks[#toks + 1] = { t = "string", v = table.concat(buf), line = start }
      i = j + 1
    elseif c == "[" and src:match("^%[=*%[", i) then
      local stop = long_bracket(i)
      local start = line
      count_lines(i, stop)
      toks[#toks + 1] = { t = "string", v = "", line = start }
      i = stop + 1
    elseif c:match("[%a_]") then
      local w = src:match("^[%w_]+", i)
      toks[#toks + 1] = { t = "name", v = w, line = line }
      i = i + #w
    elseif c:match("%d") or (c == "." and src:sub(i + 1, i + 1):match("%d")) then
      local w = src:match("^[%w_.]+", i)
      toks[#toks + 1] = { t = "number", v = w, line = line }
      i = i + #w
    else
      local two = src:sub(i, i + 1)
      local op = (two == "==" or two == "~=" or two == "<=" or two == ">="
        or two == "::" or two == "//" or two == "..") and two or c
      toks[#toks + 1] = { t = "op", v = op, line = line }
      i = i + #op
    end
  end
  return toks
end

local function extend(path, key)
  local p = table.move(path, 1, #path, 1, {})
  p[#p + 1] = key
  return p
end

-- The key a field at toks[k] declares ("name =" or "[lit] ="), and the
-- index of the token after the "=".
local function field_key(toks, k)
  local a, b = toks[k], toks[k + 1]
  if a and a.t == "name" and b and b.t == "op" and b.v == "=" then
    return a.v, k + 2
  end
  if a and a.t == "op" and a.v == "[" and b and (b.t == "string" or b.t == "number")
      and toks[k + 2] and toks[k + 2].v == "]" and toks[k + 3]
      and toks[k + 3].v == "=" then
    return b.t == "number" and tonumber(b.v) or b.v, k + 4
  end
  return nil
end

function M.scan(src)
  local toks = tokenize(src)
  local fields, dups = {}, {}
  local stack = {}      -- open brackets: {op=, path=, keys=, pos=, start=}
  local value_key = {}  -- token index -> the key of the field it starts
  local k = 1
  while k <= #toks do
    local tok = toks[k]
    local top = stack[#stack]
    if top and top.op == "{" and top.start then
      top.start = false
      local key, after = field_key(toks, k)
      if key == nil and not (tok.t == "op" and tok.v == "}") then
        top.pos = top.pos + 1
        key, after = top.pos, k
      end
      if key ~= nil then
        local path = extend(top.path, key)
        fields[#fields + 1] = { path = path, line = tok.line }
        if top.keys[key] and type(key) == "string" then
          dups[#dups + 1] = { path = path, line = tok.line, first = top.keys[key] }
        end
        top.keys[key] = tok.line
        value_key[after] = path
        if after ~= k then
          k = after
          goto continue
        end
      end
    end
    if tok.t == "op" then
      if tok.v == "{" then
        local path = value_key[k]
        if path == nil then
          -- Outside a constructor: `name = {` or `local name = {` names
          -- the table after its variable.
          local p1, p2 = toks[k - 1], toks[k - 2]
          path = (p1 and p1.v == "=" and p2 and p2.t == "name") and { p2.v } or {}
        end
        stack[#stack + 1] = { op = "{", path = path, keys = {}, pos = 0, start = true }
      elseif tok.v == "(" or tok.v == "[" then
        stack[#stack + 1] = { op = tok.v }
      elseif tok.v == "}" or tok.v == ")" or tok.v == "]" then
        stack[#stack] = nil
      elseif (tok.v == "," or tok.v == ";") and top and top.op == "{" then
        top.start = true
      end
    end
    k = k + 1
    ::continue::
  end
  return fields, dups
end

-- How many of the last keys of `a` and `b` agree.
local function tail_match(a, b)
  local n = 0
  while n < #a and n < #b and a[#a - n] == b[#b - n] do
    n = n + 1
  end
  return n
end

function M.find(fields, path)
  local best, best_n = nil, 0
  for _, f in ipairs(fields) do
    local n = tail_match(f.path, path)
    -- Only a whole match counts: all of `path` (the field sits deeper in
    -- some table), or all of the field's own path (it was written in a
    -- table of its own, `local power = {...}`, and used in the tree).
    if n < #path and n < #f.path then
      n = 0
    end
    if n > best_n or (n == best_n and n > 0 and #f.path < #best.path) then
      best, best_n = f, n
    end
  end
  return best and best.line
end

return M
