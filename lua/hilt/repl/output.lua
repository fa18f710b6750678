-- While the REPL runs, what Lua code writes to stdout and stderr (print,
-- io.write, io.stdout:write, io.stderr:write) goes through its editor,
-- which draws it above the line being typed; hilt's log lines already do
-- (bindings/l_edit.c). A task that prints while the user types so never
-- garbles their line.
--
--   local restore = output.route(function(text) editor:write(text) end)
--   ...
--   restore()
local M = {}

local function text_of(...)
  local parts = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "number" then
      v = math.type(v) == "integer" and ("%d"):format(v) or ("%.14g"):format(v)
    elseif type(v) ~= "string" then
      error(("bad argument #%d to 'write' (string expected, got %s)"):format(i,
        type(v)), 3)
    end
    parts[i] = v
  end
  return table.concat(parts)
end

--- route(write) -> restore: sends print's and the standard streams'
--- output to write(text) until restore() is called.
function M.route(write)
  local file_methods = getmetatable(io.stdout).__index
  local saved = { print = print, io_write = io.write, file_write = file_methods.write }
  local stdout, stderr = io.stdout, io.stderr

  _G.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do
      parts[i] = tostring((select(i, ...)))
    end
    write(table.concat(parts, "\t") .. "\n")
  end
  io.write = function(...)
    if io.output() ~= stdout then
      return saved.io_write(...)
    end
    write(text_of(...))
    return stdout
  end
  file_methods.write = function(f, ...)
    if f ~= stdout and f ~= stderr then
      return saved.file_write(f, ...)
    end
    write(text_of(...))
    return f
  end

  return function()
    _G.print, io.write, file_methods.write = saved.print, saved.io_write, saved.file_write
  end
end

return M
