-- The interactive prompt of `hilt -i` and of `hilt` on a terminal. On a
-- terminal it is hilt.repl's (line editing, history, completion, each
-- chunk a task; `hilt repl` adds a driver tree and the bus). Otherwise
-- lua.c's prompt on plain lines: expressions printed, incomplete chunks
-- continued on the next line, each line run in the main task.
local core = require("hilt.core")
local eval = require("hilt.repl.eval")

local function print_results(ok, ...)
  if not ok then
    local err = ...
    local msg = tostring(err)
    if core.is_error(err) and err.traceback then
      msg = msg .. "\n" .. err.traceback
    end
    io.stderr:write(msg, "\n")
  elseif select("#", ...) > 0 then
    print(...)
  end
end

local function read_chunk()
  io.stdout:write("> ")
  io.stdout:flush()
  local src = io.stdin:read("l")
  while src ~= nil do
    local chunk, err, more = eval.compile(src, _G)
    if not more then
      return src, chunk, err
    end
    io.stdout:write(">> ")
    io.stdout:flush()
    local more = io.stdin:read("l")
    if more == nil then
      return src, nil, err
    end
    src = src .. "\n" .. more
  end
  return nil
end

return function()
  if core.isatty(0) and core.isatty(1) then
    return require("hilt.repl").run({})
  end
  while true do
    local src, chunk, err = read_chunk()
    if src == nil then
      io.stdout:write("\n")
      return
    end
    if chunk then
      print_results(xpcall(chunk, debug.traceback))
    else
      io.stderr:write(err, "\n")
    end
  end
end
