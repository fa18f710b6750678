-- msgpack-RPC echo written as a Lua user would without hilt: Debian's
-- lua-luv for the event loop and lua-messagepack (pure Lua) for encoding.
--   lua5.4 luv_echo.lua server ADDR
--   lua5.4 luv_echo.lua client ADDR SECONDS    prints "calls_per_sec N"
-- ADDR is tcp:PORT (on 127.0.0.1) or unix:PATH.
-- lua-luv ships a module for Lua 5.1 to 5.4, but lua-messagepack is only
-- installed for 5.1 to 5.3; being pure Lua, its 5.3 copy runs on 5.4.
package.path = "/usr/share/lua/5.3/?.lua;" .. package.path
local uv = require("luv")
local mp = require("MessagePack")

-- Replies are [1, id, nil, result]: without this the nil hole would turn the
-- array into a map.
mp.set_array("with_hole")

local function fail(msg)
  io.stderr:write("luv_echo: ", tostring(msg), "\n")
  os.exit(1)
end

local function parse_addr(addr)
  local port = addr:match("^tcp:(%d+)$")
  if port then return "tcp", tonumber(port) end
  local path = addr:match("^unix:(.+)$")
  if path then return "unix", path end
  fail("ADDR must be tcp:PORT or unix:PATH")
end

local function new_stream(kind)
  return kind == "tcp" and uv.new_tcp() or uv.new_pipe(false)
end

-- Runs body(next_message) in a coroutine fed by the stream's reads.
-- lua-messagepack's unpacker pulls bytes from a loader function whenever a
-- value is incomplete; making that loader coroutine.yield lets a message
-- split across reads resume decoding where it stopped when the next read
-- arrives. The unpacker ends when the stream ends.
local function serve_stream(stream, body)
  local co = coroutine.create(function()
    body(mp.unpacker(coroutine.yield))
  end)
  local function resume(...)
    local ok, err = coroutine.resume(co, ...)
    if not ok then fail(err) end
  end
  stream:read_start(function(err, chunk)
    if err then fail(err) end
    resume(chunk) -- nil at end of stream
  end)
  resume() -- runs up to the first read
end

local function server(kind, where)
  local listener = new_stream(kind)
  local ok, err
  if kind == "tcp" then
    ok, err = listener:bind("127.0.0.1", where)
  else
    os.remove(where) -- a stale socket blocks bind
    ok, err = listener:bind(where)
  end
  if not ok then fail(err) end
  ok, err = listener:listen(128, function(lerr)
    if lerr then fail(lerr) end
    local conn = new_stream(kind)
    listener:accept(conn)
    if kind == "tcp" then conn:nodelay(true) end
    serve_stream(conn, function(next_message)
      for _, req in next_message do
        -- req is [0, id, method, params]; echo params[1].
        conn:write(mp.pack({ 1, req[2], nil, req[4][1] }))
      end
      conn:close()
    end)
  end)
  if not ok then fail(err) end
  uv.run()
end

local function client(kind, where, seconds)
  local conn = new_stream(kind)
  local arg = string.rep("x", 32)
  local function on_connect(err)
    if err then fail(err) end
    if kind == "tcp" then conn:nodelay(true) end
    serve_stream(conn, function(next_message)
      -- Timed from an established connection, as every client here is.
      local start = uv.hrtime()
      local deadline = start + seconds * 1e9
      local calls, now = 0, start
      repeat
        calls = calls + 1
        conn:write(mp.pack({ 0, calls, "echo", { arg } }))
        local _, reply = next_message()
        if not reply or reply[2] ~= calls or reply[4] ~= arg then
          fail("bad reply to call " .. calls)
        end
        now = uv.hrtime()
      until now >= deadline
      print(string.format("calls_per_sec %.0f", calls / ((now - start) / 1e9)))
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

local mode, addr, seconds = ...
if mode == "server" and addr then
  server(parse_addr(addr))
elseif mode == "client" and addr and tonumber(seconds) then
  local kind, where = parse_addr(addr)
  client(kind, where, tonumber(seconds))
else
  io.stderr:write("usage: lua5.4 luv_echo.lua server ADDR\n",
    "       lua5.4 luv_echo.lua client ADDR SECONDS\n",
    "ADDR: tcp:PORT or unix:PATH\n")
  os.exit(2)
end
