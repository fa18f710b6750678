-- hilt.repl.complete: what Tab offers at the REPL's prompt. Given the text
-- before the cursor, it finds the word being typed and the words that
-- could replace it: globals and keywords, fields of a table chain
-- (`lab.dut.po`), methods after `:` (`lab.dut.power:`, `("x"):`), and
-- bus paths inside a string that starts with `/` (`bus:get("/lab/ov`).
--
--   local complete = require("hilt.repl.complete")
--   local c = complete.new({ env = env, bus = function() return env.bus end })
--   c:prepare(before)                          -- in a task: may ask the hub
--   local insert, listing = c:complete(before, 80)
--
-- Looking at values must not change them: a chain is walked with rawget,
-- following `__index` only where it is a table. hilt's bus client and the
-- hilt module answer some fields from an `__index` function, which may do
-- anything (load modules, ask the network), so it is never called. Bus
-- paths are the only thing fetched, by prepare(); candidates() and
-- complete() read its cache and never wait.
local hilt = require("hilt")

local M = {}

local KEYWORDS = {}
for word in ([[and break do else elseif end false for function goto if in
    local nil not or repeat return then true until while]]):gmatch("%a+") do
  KEYWORDS[word] = true
end

-- A chain of __index tables longer than this is a cycle or a mistake.
local MAX_DEPTH = 16

-- --- looking at values ----------------------------------------------------------------

-- The table that indexing `v` falls back to, or nil. An `__index` table is
-- that table. An `__index` function is not called; its metatable is taken
-- instead, because the usual reason for one (hilt.bus's Bus, a class with
-- computed fields) is a class whose methods sit on the metatable itself.
local function fallback(v)
  local mt = debug.getmetatable(v)
  if type(mt) ~= "table" then
    return nil
  end
  local index = rawget(mt, "__index")
  if type(index) == "table" then
    return index
  elseif index ~= nil then
    return mt
  end
end

--- lookup(v, key) -> what `v[key]` would give, found without calling
--- anything; nil where only a function could tell.
function M.lookup(v, key)
  local seen = {}
  for _ = 1, MAX_DEPTH do
    if type(v) == "table" then
      if seen[v] then
        return nil
      end
      seen[v] = true
      local found = rawget(v, key)
      if found ~= nil then
        return found
      end
    end
    v = fallback(v)
    if v == nil then
      return nil
    end
  end
end
local lookup = M.lookup

local function is_name(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
    and not KEYWORDS[k]
end

--- members(v [, into]) -> into: every name `v.name` reaches (name ->
--- value), from v's fields and its fallback tables, the nearest winning.
--- Only names that can follow a `.` are kept.
function M.members(v, into)
  into = into or {}
  local seen = {}
  for _ = 1, MAX_DEPTH do
    if type(v) == "table" then
      if seen[v] then
        break
      end
      seen[v] = true
      -- next, not pairs: a __pairs metamethod is code to run.
      for k, val in next, v do
        if into[k] == nil and is_name(k) then
          into[k] = val
        end
      end
    end
    v = fallback(v)
    if v == nil then
      break
    end
  end
  return into
end
local members = M.members

-- The names of `found` that start with `prefix`, sorted. Names starting
-- with `_` are internal by convention: they show only once `_` is typed.
local function matching(found, prefix, functions_only)
  local list = {}
  local hide_internal = prefix:sub(1, 1) ~= "_"
  for name, v in pairs(found) do
    if name:sub(1, #prefix) == prefix
        and not (hide_internal and name:sub(1, 1) == "_")
        and (not functions_only or type(v) == "function") then
      list[#list + 1] = name
    end
  end
  table.sort(list)
  return list
end

-- --- reading the line --------------------------------------------------------------------

-- The bracket ("]==]") that closes the long bracket opened at `at`
-- ("[==["), or nil if none opens there.
local function long_close(s, at)
  local eq = s:match("^%[(=*)%[", at)
  return eq and ("]" .. eq .. "]")
end

-- Where the end of `s` is, lexically: "code", "string" (a short string
-- still open; `open` is its quote), "long" (a long string or comment still
-- open) or "comment". `last` is the span {from, to} of the last string
-- literal that was closed, for `("x"):`.
local function scan(s)
  local i, last = 1, nil
  while true do
    local at = s:find("[\"'%-%[]", i)
    if not at then
      return { state = "code", last = last }
    end
    local c = s:sub(at, at)
    if c == '"' or c == "'" then
      local j = at + 1
      local stop = c == '"' and '[\\\n"]' or "[\\\n']"
      while true do
        local b = s:find(stop, j)
        if not b then
          return { state = "string", open = at }
        end
        local d = s:sub(b, b)
        if d == "\\" then
          j = b + 2
        else
          -- A newline ends an unfinished string as far as we care: what
          -- follows it is code again.
          last, i = { from = at, to = b }, b + 1
          break
        end
      end
    elseif c == "-" and s:sub(at + 1, at + 1) == "-" then
      local close = long_close(s, at + 2)
      local stop = s:find(close or "\n", at + 2, true)
      if not stop then
        return { state = close and "long" or "comment" }
      end
      i = stop + (close and #close or 1)
    elseif c == "[" and long_close(s, at) then
      local close = long_close(s, at)
      local stop = s:find(close, at, true)
      if not stop then
        return { state = "long" }
      end
      last, i = { from = at, to = stop + #close - 1 }, stop + #close
    else
      i = at + 1
    end
  end
end

-- Where the name ending at `e` starts, or nil if no name ends there.
local function name_start(s, e)
  return s:sub(1, e):match("()[%a_][%w_]*$")
end

-- Whether `s` has a string literal ending at `e`, alone or in brackets:
-- `"x"` or `("x")`.
local function string_literal_at(s, e, last)
  if not last then
    return false
  end
  if s:sub(e, e) == ")" then
    local inner = s:sub(1, e - 1):match("()%s*$") - 1
    return last.to == inner and s:sub(1, last.from - 1):match("%(%s*$") ~= nil
  end
  return last.to == e
end

-- The names of the chain `a.b.c` ending at `e`, or nil when what ends
-- there is not a plain chain (a call's result, an index, a number).
local function chain_at(s, e)
  local names = {}
  while true do
    local from = name_start(s, e)
    if not from then
      return nil
    end
    local name = s:sub(from, e)
    if KEYWORDS[name] then
      return nil
    end
    table.insert(names, 1, name)
    local sep, before_sep = s:sub(from - 1, from - 1), s:sub(from - 2, from - 2)
    if sep == "." and before_sep ~= "." then
      e = from - 2
    elseif sep:match("[%w_:%]%)]") then
      return nil
    else
      return names
    end
  end
end

-- {kind = "path", dir, parent, prefix, start} when the string opened by
-- the quote at `open` holds the start of a bus path; nil otherwise. dir is
-- the directory to list ("/lab", or "/"), parent the text before the last
-- "/" ("/lab", or ""), prefix the part of the last segment typed, start
-- the index of the path's first "/".
local function path_context(before, open)
  local text = before:sub(open + 1)
  if not text:match("^/[%w_/]*$") or text:find("//", 1, true) then
    return nil
  end
  local parent = text:match("^(.*)/")
  return { kind = "path", start = open + 1, parent = parent,
    dir = parent == "" and "/" or parent, prefix = text:sub(#parent + 2) }
end

-- --- the completer ------------------------------------------------------------------------

local Completer = {}
Completer.__index = Completer

--- new(opts) -> completer. opts: env (the REPL's globals; default _G),
--- bus (a function returning the REPL's bus client or nil), ttl (seconds
--- a directory listing of the bus is kept, default 2), timeout (seconds
--- prepare() waits for the hub, default 1).
function M.new(opts)
  opts = opts or {}
  return setmetatable({
    env = opts.env or _G,
    get_bus = opts.bus or function() return nil end,
    ttl = opts.ttl or 2,
    timeout = opts.timeout or 1,
    -- bus client -> directory -> {at = time, entries = {{name, kind}, ...}}
    listings = setmetatable({}, { __mode = "k" }),
  }, Completer)
end

function Completer:global(name)
  local v = lookup(self.env, name)
  if v == nil then
    v = rawget(_G, name)
  end
  return v
end

-- The value the chain names, or nil.
function Completer:resolve(names)
  local v = self:global(names[1])
  for i = 2, #names do
    if v == nil then
      return nil
    end
    v = lookup(v, names[i])
  end
  return v
end

-- The object before `.` or `:` ending at `e`: a chain's value or, for a
-- string literal, a string (whose methods are the string library's).
function Completer:object_at(s, e, lexed)
  if string_literal_at(s, e, lexed.last) then
    return ""
  end
  local names = chain_at(s, e)
  return names and self:resolve(names)
end

-- What the end of `before` asks for: {kind = "names", list, start},
-- {kind = "path", dir, prefix, start} or nil for nothing.
function Completer:context(before)
  local lexed = scan(before)
  if lexed.state == "string" then
    return path_context(before, lexed.open)
  elseif lexed.state ~= "code" then
    return nil
  end
  local start = name_start(before, #before) or #before + 1
  local word = before:sub(start)
  local sep, before_sep = before:sub(start - 1, start - 1), before:sub(start - 2, start - 2)
  if sep:match("[%w_]") then
    return nil -- the tail of a number, such as 0x1f or 1e5
  end
  if (sep == "." and before_sep ~= ".") or (sep == ":" and before_sep ~= ":") then
    local object = self:object_at(before, start - 2, lexed)
    if object == nil then
      return nil
    end
    return { kind = "names", start = start,
      list = matching(members(object), word, sep == ":") }
  end
  if word == "" and sep:match("[%]%)}'\"]") then
    return nil -- just after an expression: no name can follow
  end
  local found = members(self.env)
  members(_G, found)
  for k in pairs(KEYWORDS) do
    found[k] = found[k] or true
  end
  return { kind = "names", start = start, list = matching(found, word) }
end

function Completer:bus()
  local ok, bus = pcall(self.get_bus)
  return ok and bus or nil
end

-- Asks the hub for a directory's entries; {} when it has none or fails.
-- A cancelled task stays cancelled: that error is raised again.
local function fetch_listing(bus, dir, timeout)
  local function ls()
    return bus:call("/meta/ls", dir)
  end
  local ok, r
  if hilt.current() then
    ok, r = pcall(hilt.timeout, timeout, ls)
  else
    ok, r = pcall(ls)
  end
  if not ok and hilt.is_error(r, "cancelled") then
    error(r, 0)
  end
  if not ok or type(r) ~= "table" or r[1] ~= "dir" or type(r[2]) ~= "table" then
    return {}
  end
  return r[2]
end

--- completer:prepare(before): fetches what candidates(before) will need
--- from the hub, unless it was fetched less than `ttl` seconds ago. Does
--- nothing unless `before` ends inside a bus path. May wait, in a task.
function Completer:prepare(before)
  local ctx = self:context(before)
  local bus = self:bus()
  if not (ctx and ctx.kind == "path" and bus) then
    return
  end
  local dirs = self.listings[bus] or {}
  self.listings[bus] = dirs
  local kept = dirs[ctx.dir]
  if kept and hilt.now() - kept.at < self.ttl then
    return
  end
  local entries = fetch_listing(bus, ctx.dir, self.timeout)
  dirs[ctx.dir] = { at = hilt.now(), entries = entries }
end

-- The paths of the directory prepare() fetched that complete ctx's
-- prefix; directories end in "/".
function Completer:paths(ctx)
  local bus = self:bus()
  local dirs = bus and self.listings[bus]
  local kept = dirs and dirs[ctx.dir]
  local list = {}
  for _, entry in ipairs(kept and kept.entries or {}) do
    local name, kind = entry[1], entry[2]
    if type(name) == "string" and name:sub(1, #ctx.prefix) == ctx.prefix then
      list[#list + 1] = ctx.parent .. "/" .. name .. (kind == "dir" and "/" or "")
    end
  end
  table.sort(list)
  return list
end

--- completer:candidates(before) -> words, start: the sorted full words
--- that could replace the word being typed at the end of `before`, and
--- the index in `before` where that word starts. Never waits.
function Completer:candidates(before)
  local ctx = self:context(before)
  if ctx == nil then
    return {}, #before + 1
  elseif ctx.kind == "path" then
    return self:paths(ctx), ctx.start
  end
  return ctx.list, ctx.start
end

local function common_prefix(words)
  local prefix = words[1]
  for i = 2, #words do
    local w = words[i]
    local n = 0
    while n < #prefix and n < #w and prefix:byte(n + 1) == w:byte(n + 1) do
      n = n + 1
    end
    prefix = prefix:sub(1, n)
  end
  return prefix
end

--- columns(words, width) -> the words laid out in columns down then
--- across, as a shell lists completions, in lines of at most `width`
--- characters (a longer word gets a line of its own); ends in "\n".
function M.columns(words, width)
  local widest = 0
  for _, w in ipairs(words) do
    widest = math.max(widest, #w)
  end
  local cell = widest + 2
  local ncols = math.max(1, (width + 2) // cell)
  local nrows = (#words + ncols - 1) // ncols
  ncols = (#words + nrows - 1) // nrows
  local lines = {}
  for row = 1, nrows do
    local line = {}
    for col = 0, ncols - 1 do
      local w = words[col * nrows + row]
      if w then
        line[#line + 1] = w .. (" "):rep(cell - #w)
      end
    end
    lines[row] = (table.concat(line):gsub("%s+$", ""))
  end
  return table.concat(lines, "\n") .. "\n"
end

--- completer:complete(before [, width]) -> insert, listing. insert: the
--- text to add at the cursor, what every candidate has beyond what is
--- typed ("" if nothing). listing: nil, unless several candidates remain
--- and nothing can be inserted; then they are laid out in columns for a
--- terminal `width` wide (default 80). Never waits.
function Completer:complete(before, width)
  local words, start = self:candidates(before)
  if #words == 0 then
    return "", nil
  end
  local typed = #before - start + 1
  local insert = common_prefix(words):sub(typed + 1)
  if insert ~= "" or #words == 1 then
    return insert, nil
  end
  return "", M.columns(words, width or 80)
end

return M
