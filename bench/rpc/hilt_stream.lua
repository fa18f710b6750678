-- The hilt side of bench/rpc/stream.sh: streamed items, raw bytes and many
-- calls in flight on one connection, between two hilt processes.
--   hilt hilt_stream.lua server ADDR
--   hilt hilt_stream.lua client ADDR items SECONDS      "items_per_sec N"
--   hilt hilt_stream.lua client ADDR bytes SECONDS [CREDIT]
--                                                       "bytes_per_sec N"
--   hilt hilt_stream.lua client ADDR inflight N
--                              "calls N", "seconds S", "client_hwm_kb K"
-- ADDR is tcp:PORT (on 127.0.0.1) or unix:PATH. CREDIT is the byte window
-- the caller grants (conn:stream_with's credit); without it, the default.
local hilt = require("hilt")
local rpc = require("hilt.rpc")

-- Items per streamed call, and MiB per byte call: calls are repeated until
-- SECONDS have passed, and each is long enough for its set-up not to count.
local ITEMS_PER_CALL = 100000
local MIB_PER_CALL = 64
-- How long each in-flight call's handler sleeps: long enough for every call
-- to be made before the first returns.
local INFLIGHT_SLEEP = 0.5

package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local address = require("hilt_addr")

local function serve(addr)
  rpc.serve(address(addr), {
    items = rpc.streaming(function(s, n)
      for i = 1, n do
        s:send(i)
      end
      return n
    end),
    bytes = rpc.streaming(function(s, n)
      local c = ("x"):rep(1 << 20)
      for _ = 1, n do
        s:write(c)
      end
      return n
    end),
    wait = function()
      hilt.sleep(INFLIGHT_SLEEP)
      return 1
    end,
  })
  hilt.sleep(math.huge)
end

-- Runs call() until `seconds` have passed; call returns how much it moved.
-- Prints KEY and the amount per second.
local function repeat_for(seconds, key, call)
  local start = hilt.now()
  local deadline = start + seconds
  local moved, now = 0, start
  repeat
    moved = moved + call()
    now = hilt.now()
  until now >= deadline
  print(("%s %.0f"):format(key, moved / (now - start)))
end

local function items(conn, seconds)
  repeat_for(seconds, "items_per_sec", function()
    local s = conn:stream("items", ITEMS_PER_CALL)
    local i = 0
    for v in s do
      i = i + 1
      if v ~= i then
        error(("item %d is %s"):format(i, tostring(v)))
      end
    end
    assert(i == ITEMS_PER_CALL and s:result() == i, "short stream")
    return i
  end)
end

local function bytes(conn, seconds, credit)
  local want = MIB_PER_CALL << 20
  repeat_for(seconds, "bytes_per_sec", function()
    local s
    if credit then
      s = conn:stream_with({ credit = credit }, "bytes", MIB_PER_CALL)
    else
      s = conn:stream("bytes", MIB_PER_CALL)
    end
    local got = 0
    local b = s:read()
    while b do
      got = got + #b
      b = s:read()
    end
    assert(got == want and s:result() == MIB_PER_CALL, "short stream")
    return got
  end)
end

-- Peak resident set of this process, in KiB.
local function hwm_kb()
  local f = assert(io.open("/proc/self/status"))
  local status = f:read("a")
  f:close()
  return tonumber(status:match("VmHWM:%s*(%d+)"))
end

local function inflight(conn, n)
  local start = hilt.now()
  local tasks = {}
  for i = 1, n do
    tasks[i] = hilt.spawn(function()
      return conn.remote.wait()
    end)
  end
  local done = 0
  for i = 1, n do
    if tasks[i]:join() == 1 then
      done = done + 1
    end
  end
  print(("calls %d\nseconds %.3f\nclient_hwm_kb %d"):format(
    done, hilt.now() - start, hwm_kb()))
end

local mode, addr, what, arg, credit = ...
if mode == "server" and addr then
  serve(addr)
elseif mode == "client" and addr and tonumber(arg)
    and (what == "items" or what == "bytes" or what == "inflight") then
  local conn = rpc.connect(address(addr))
  if what == "items" then
    items(conn, tonumber(arg))
  elseif what == "bytes" then
    bytes(conn, tonumber(arg), tonumber(credit))
  else
    inflight(conn, tonumber(arg))
  end
  conn:close()
else
  io.stderr:write("usage: hilt hilt_stream.lua server ADDR\n",
    "       hilt hilt_stream.lua client ADDR items SECONDS\n",
    "       hilt hilt_stream.lua client ADDR bytes SECONDS [CREDIT]\n",
    "       hilt hilt_stream.lua client ADDR inflight N\n")
  os.exit(2)
end
