-- msgpack-RPC echo written as a Lua user would without hilt: Debian's
-- lua-luv for the event loop and lua-messagepack (pure Lua) for encoding.
--   lua5.4 luv_echo.lua server ADDR
--   lua5.4 luv_echo.lua client ADDR SECONDS    prints "calls_per_sec N"
-- ADDR is tcp:PORT (on 127.0.0.1) or unix:PATH.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local net = require("luv_net")("luv_echo")
local uv, mp = net.uv, net.mp

-- Replies are [1, id, nil, result]: without this the nil hole would turn the
-- array into a map.
mp.set_array("with_hole")

local function server(kind, where)
  net.serve(kind, where, function(conn, next_message)
    for _, req in next_message do
      -- req is [0, id, method, params]; echo params[1].
      conn:write(mp.pack({ 1, req[2], nil, req[4][1] }))
    end
  end)
end

local function client(kind, where, seconds)
  local arg = string.rep("x", 32)
  net.connect(kind, where, function(conn, next_message)
    -- Timed from an established connection, as every client here is.
    local start = uv.hrtime()
    local deadline = start + seconds * 1e9
    local calls, now = 0, start
    repeat
      calls = calls + 1
      conn:write(mp.pack({ 0, calls, "echo", { arg } }))
      local _, reply = next_message()
      if not reply or reply[2] ~= calls or reply[4] ~= arg then
        net.fail("bad reply to call " .. calls)
      end
      now = uv.hrtime()
    until now >= deadline
    print(string.format("calls_per_sec %.0f", calls / ((now - start) / 1e9)))
  end)
end

local mode, addr, seconds = ...
if mode == "server" and addr then
  server(net.parse_addr(addr))
elseif mode == "client" and addr and tonumber(seconds) then
  local kind, where = net.parse_addr(addr)
  client(kind, where, tonumber(seconds))
else
  io.stderr:write("usage: lua5.4 luv_echo.lua server ADDR\n",
    "       lua5.4 luv_echo.lua client ADDR SECONDS\n",
    "ADDR: tcp:PORT or unix:PATH\n")
  os.exit(2)
end
