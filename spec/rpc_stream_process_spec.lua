-- hilt.rpc streams between real processes: a hilt server process and a
-- client in this one, over a unix socket. Flow control against a slow
-- reader, 100 MB of raw bytes each way, cancel and peer loss mid-stream.
local hilt = require("hilt")
local rpc = require("hilt.rpc")
local peer = require("spec.support.peer")

-- Test blobs, for both ends: chunk i is 1 MiB unlike every other, and
-- check_chunks reads a stream to its end, counting the chunks that came
-- intact and in order, and what was left over.
local BLOB = [[
local function chunk(i)
  return (("%07d|"):format(i)):rep(131072)
end

local function check_chunks(s)
  local buf, have, i, good = {}, 0, 1, 0
  for d in function() return s:read() end do
    buf[#buf + 1] = d
    have = have + #d
    while have >= 1048576 do
      local all = table.concat(buf)
      good = good + (all:sub(1, 1048576) == chunk(i) and 1 or 0)
      i = i + 1
      buf, have = { all:sub(1048577) }, #all - 1048576
    end
  end
  return good, have
end

return chunk, check_chunks
]]
local chunk, check_chunks = load(BLOB)()

local SERVER = [[
local hilt = require("hilt")
local rpc = require("hilt.rpc")
local state = { sent = 0, outcome = "none", cleaned = false }
local chunk, check_chunks = load(]] .. ("%q"):format(BLOB) .. [[)()

return {
  flood = rpc.streaming(function(s, n, size)
    local item = ("i"):rep(size)
    state.sent = 0
    for i = 1, n do
      s:send(item)
      state.sent = i
    end
    return n
  end),
  ticks = rpc.streaming(function(s)
    state.outcome, state.cleaned = "running", false
    local ok, err = pcall(function()
      for i = 1, math.huge do
        s:send(i)
      end
    end)
    state.outcome, state.cleaned = err.code, true
    error(err, 0)
  end),
  blob = rpc.streaming(function(s, n)
    for i = 1, n do
      s:write(chunk(i))
    end
    return n
  end),
  -- Takes n chunks, checking each against what it must be.
  take = rpc.streaming(function(s)
    local good, rest = check_chunks(s)
    return { good = good, rest = rest }
  end),
  stats = function()
    local calls, handled = rpc.caller().raw:pending()
    return { sent = state.sent, outcome = state.outcome,
             cleaned = state.cleaned, calls = calls, handled = handled }
  end,
}
]]

describe("hilt.rpc streams between processes", function()
  local server
  before_each(function()
    server = peer.start(SERVER)
  end)
  after_each(function()
    if server then
      server:stop()
      server = nil
    end
  end)

  it("hold a fast producer to a slow reader's window", function()
    local conn = rpc.connect(server.addr)
    local s = conn:stream_with({ credit = 32 }, "flood", 400, 1024)
    local taken, most_ahead = 0, 0
    for _ in s do
      taken = taken + 1
      if taken % 50 == 0 then
        hilt.sleep(0.02)  -- the producer has time to run ahead, if it can
        local sent = conn.remote.stats().sent
        most_ahead = math.max(most_ahead, sent - taken)
      end
    end
    assert.are.equal(400, taken)
    assert.are.equal(400, s:result())
    -- Ahead by at most the window, and by the window, not less: it did
    -- run as far as it was allowed.
    assert.is_true(most_ahead <= 32, "ran " .. most_ahead .. " ahead")
    assert.is_true(most_ahead >= 16, "ran only " .. most_ahead .. " ahead")
    conn:close()
    peer.check_exit(server:stop(), 0)
    server = nil
  end)

  it("carry 100 MB of raw bytes each way, intact", function()
    local conn = rpc.connect(server.addr)
    local s = conn:stream("blob", 100)
    local good, have = check_chunks(s)
    assert.are.equal(100, good)
    assert.are.equal(0, have)
    assert.are.equal(100, s:result())

    local up = conn:stream("take")
    for k = 1, 100 do
      up:write(chunk(k))
    end
    up:close_write()
    assert.are.same({ good = 100, rest = 0 }, up:result())
    conn:close()
    peer.check_exit(server:stop(), 0)
    server = nil
  end)

  it("cancel mid-stream, and both ends let go of the call", function()
    local conn = rpc.connect(server.addr)
    for v in conn:stream("ticks") do
      if v == 100 then break end
    end
    local st
    for _ = 1, 100 do
      st = conn.remote.stats()
      if st.cleaned then break end
      hilt.sleep(0.01)
    end
    assert.are.equal("cancelled", st.outcome)
    assert.is_true(st.cleaned)
    assert.are.equal(1, st.handled)  -- the stats call itself
    assert.are.same({ 0, 0 }, { conn.raw:pending() })
    conn:close()
    peer.check_exit(server:stop(), 0)
    server = nil
  end)

  it("end a stream unavailable at once when the server dies", function()
    local conn = rpc.connect(server.addr)
    local s = conn:stream("ticks")
    assert.are.equal(1, s:recv())
    server:kill("KILL")
    local t0 = hilt.now()
    local ok, err = pcall(function()
      for _ in s do end
    end)
    assert.is_false(ok)
    assert.are.equal("unavailable", err.code)
    assert.is_true(hilt.now() - t0 < 1)
    conn:close()
    server:stop()
    server = nil
  end)
end)
