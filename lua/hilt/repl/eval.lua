-- How the REPL reads a chunk and shows what it gives: lua.c's rules (an
-- expression is printed, `=expr` too, a chunk that ends early is continued
-- on the next line), values shown with hilt.pretty, and errors as a short
-- message with the traceback of the typed code only.
--
--   local chunk, err, more = eval.compile(src, env)
--   local ok, text = eval.run(chunk)     -- text: what to print, or nil
local hcore = require("hilt.core")
local pretty = require("hilt.pretty")

local M = {}

local CHUNK_NAME = "=stdin"

local function incomplete(err)
  return err ~= nil and err:sub(-5) == "<eof>"
end

--- compile(src, env) -> chunk | nil, err, more: `more` is true when the
--- source ends before the chunk does (a continuation line may finish it).
function M.compile(src, env)
  if src:sub(1, 1) == "=" then
    src = "return " .. src:sub(2)
  end
  local chunk = load("return " .. src, CHUNK_NAME, "t", env)
  if chunk then
    return chunk
  end
  local err
  chunk, err = load(src, CHUNK_NAME, "t", env)
  if chunk then
    return chunk
  end
  return nil, err, incomplete(err)
end

--- show(...) -> text of the values (nil when there are none), one line
--- each for tables that do not fit one, tabs between values.
function M.show(...)
  local n = select("#", ...)
  if n == 0 then
    return nil
  end
  local parts = {}
  for i = 1, n do
    parts[i] = pretty.format((select(i, ...)))
  end
  return table.concat(parts, "\t")
end

-- Keeps the frames of the typed code: everything from the REPL's own
-- files down is the same for every line.
local function trim(tb)
  local keep = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("hilt/repl/", 1, true) or line:find("in function 'xpcall'", 1, true) then
      break
    end
    keep[#keep + 1] = line
  end
  return table.concat(keep, "\n")
end

local function on_error(e)
  if hcore.is_error(e, "cancelled") then
    return e
  end
  local tb = trim(debug.traceback("", 2):sub(2))
  return { error = e, traceback = tb }
end

--- describe(e) -> the text an error shows: its message (with the remote
--- traceback a driver's failure carries) and where in the typed code.
function M.describe(e)
  if hcore.is_error(e, "cancelled") then
    return "cancelled: " .. (e.message or "")
  end
  local err, tb = e.error, e.traceback
  local out = { tostring(err) }
  if hcore.is_error(err) and err.traceback then
    out[#out + 1] = err.traceback
  end
  if tb and tb ~= "stack traceback:" then
    out[#out + 1] = tb
  end
  return table.concat(out, "\n")
end

local function results(ok, ...)
  if not ok then
    return false, M.describe((...))
  end
  return true, M.show(...)
end

--- run(chunk) -> ok, text: runs the chunk in this task; text is what to
--- print (its values, or the error), nil when there is nothing.
function M.run(chunk)
  return results(xpcall(chunk, on_error))
end

return M
