-- A stream of small items written as a Lua user would without hilt, the
-- baseline for hilt's streamed items: Debian's lua-luv for the event loop
-- and lua-messagepack (pure Lua) for encoding.
--   lua5.4 luv_stream.lua server ADDR
--   lua5.4 luv_stream.lua client ADDR items SECONDS    prints "items_per_sec N"
-- ADDR is tcp:PORT (on 127.0.0.1) or unix:PATH.
--
-- The client sends a count n; the server answers with the integers 1..n,
-- each packed on its own, written as fast as the socket takes them; the
-- client decodes and checks each, then asks again until SECONDS have passed.
-- Items carry no call id or sequence number, as hilt's do: the framing a
-- user needs for one stream on its own connection, no more.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local net = require("luv_net")("luv_stream")
local uv, mp, fail = net.uv, net.mp, net.fail

-- Items per request, as hilt_stream.lua's calls.
local ITEMS_PER_CALL = 100000
-- Items packed into one write: a user who knows a write is a system call
-- batches. hilt's default window is 64 items.
local BATCH = 64
-- Bytes queued in libuv past what the socket took before the producer
-- waits for them to drain.
local HIGH_WATER = 256 * 1024

-- Writes 1..n in batches of BATCH packed items, in its own coroutine so it
-- can wait for libuv's queue to drain when the socket is full.
local function produce(conn, n)
  local co
  co = coroutine.create(function()
    local i = 0
    while i < n do
      local batch = {}
      for k = 1, math.min(BATCH, n - i) do
        batch[k] = mp.pack(i + k)
      end
      i = i + #batch
      if conn:get_write_queue_size() > HIGH_WATER then
        conn:write(batch, function(err)
          if err then fail(err) end
          net.resume(co)
        end)
        coroutine.yield()
      else
        conn:write(batch)
      end
    end
  end)
  net.resume(co)
end

local function server(kind, where)
  net.serve(kind, where, function(conn, next_value)
    for _, n in next_value do
      produce(conn, n)
    end
  end)
end

local function client(kind, where, seconds)
  net.connect(kind, where, function(conn, next_value)
    -- Timed from an established connection, as every client here is.
    local start = uv.hrtime()
    local deadline = start + seconds * 1e9
    local items, now = 0, start
    repeat
      conn:write(mp.pack(ITEMS_PER_CALL))
      for i = 1, ITEMS_PER_CALL do
        local _, v = next_value()
        if v ~= i then
          fail(("item %d is %s"):format(i, tostring(v)))
        end
      end
      items = items + ITEMS_PER_CALL
      now = uv.hrtime()
    until now >= deadline
    print(string.format("items_per_sec %.0f", items / ((now - start) / 1e9)))
  end)
end

local mode, addr, what, seconds = ...
if mode == "server" and addr then
  server(net.parse_addr(addr))
elseif mode == "client" and addr and what == "items" and tonumber(seconds) then
  local kind, where = net.parse_addr(addr)
  client(kind, where, tonumber(seconds))
else
  io.stderr:write("usage: lua5.4 luv_stream.lua server ADDR\n",
    "       lua5.4 luv_stream.lua client ADDR items SECONDS\n",
    "ADDR: tcp:PORT or unix:PATH\n")
  os.exit(2)
end
