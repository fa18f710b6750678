-- What the luv baselines (luv_echo.lua, luv_stream.lua) share: Debian's
-- lua-luv and lua-messagepack, ADDR, and a server or client whose
-- connection reads msgpack values in a coroutine.
--   local net = require("luv_net")("luv_echo")   -- the name for errors
-- lua-luv ships a module for Lua 5.1 to 5.4, but lua-messagepack is only
-- installed for 5.1 to 5.3; being pure Lua, its 5.3 copy runs on 5.4.
package.path = "/usr/share/lua/5.3/?.lua;" .. package.path
local uv = require("luv")
local mp = require("MessagePack")

return function(name)
  local M = { uv = uv, mp = mp }

  function M.fail(msg)
    io.stderr:write(name, ": ", tostring(msg), "\n")
    os.exit(1)
  end

  function M.resume(co, ...)
    local ok, err = coroutine.resume(co, ...)
    if not ok then M.fail(err) end
  end

  -- "tcp", port or "unix", path.
  function M.parse_addr(addr)
    local port = addr:match("^tcp:(%d+)$")
    if port then return "tcp", tonumber(port) end
    local path = addr:match("^unix:(.+)$")
    if path then return "unix", path end
    M.fail("ADDR must be tcp:PORT or unix:PATH")
  end

  local function new_stream(kind)
    return kind == "tcp" and uv.new_tcp() or uv.new_pipe(false)
  end

  -- Runs body(next_value) in a coroutine fed by the stream's reads.
  -- lua-messagepack's unpacker pulls bytes from a loader whenever a value
  -- is incomplete; making that loader coroutine.yield lets a value split
  -- across reads resume decoding when the next read arrives. The unpacker
  -- ends when the stream ends.
  local function read_values(conn, body)
    local co = coroutine.create(function()
      body(mp.unpacker(coroutine.yield))
    end)
    conn:read_start(function(err, chunk)
      if err then M.fail(err) end
      M.resume(co, chunk) -- nil at end of stream
    end)
    M.resume(co) -- runs up to the first read
  end

  -- Serves ADDR: body(conn, next_value) for each connection, until killed.
  function M.serve(kind, where, body)
    local listener = new_stream(kind)
    local ok, err
    if kind == "tcp" then
      ok, err = listener:bind("127.0.0.1", where)
    else
      os.remove(where) -- a stale socket blocks bind
      ok, err = listener:bind(where)
    end
    if not ok then M.fail(err) end
    ok, err = listener:listen(128, function(lerr)
      if lerr then M.fail(lerr) end
      local conn = new_stream(kind)
      listener:accept(conn)
      if kind == "tcp" then conn:nodelay(true) end
      read_values(conn, function(next_value)
        body(conn, next_value)
        conn:close()
      end)
    end)
    if not ok then M.fail(err) end
    uv.run()
  end

  -- Connects to ADDR and runs body(conn, next_value) once connected.
  function M.connect(kind, where, body)
    local conn = new_stream(kind)
    local function on_connect(err)
      if err then M.fail(err) end
      if kind == "tcp" then conn:nodelay(true) end
      read_values(conn, function(next_value)
        body(conn, next_value)
        conn:close()
      end)
    end
    if kind == "tcp" then
      conn:connect("127.0.0.1", where, on_connect)
    else
      conn:connect(where, on_connect)
    end
    uv.run()
  end

  return M
end
