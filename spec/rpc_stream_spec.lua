-- hilt.rpc streams: streamed results and input, raw bytes, flow control,
-- cancel and expiry mid-stream, and the rules that keep them apart.
local hilt = require("hilt")
local rpc = require("hilt.rpc")

-- What the producer sent and the consumer took, to see the window hold.
local meter = { sent = 0, most_ahead = 0 }

local function lab()
  return {
    count = rpc.streaming(function(s, n)
      for i = 1, n do
        s:send(i)
      end
      return "counted " .. n
    end),
    flood = rpc.streaming(function(s, n)
      for i = 1, n do
        s:send(i)
        meter.sent = i
      end
      return n
    end),
    blob = rpc.streaming(function(s, n, piece)
      piece = piece or 65536
      local chunk = ("x"):rep(piece)
      for _ = 1, n // piece do
        s:write(chunk)
      end
      s:write(("y"):rep(n % piece))
      return n
    end),
    sum = rpc.streaming(function(s)
      local total = 0
      for v in s do
        total = total + v
      end
      return total
    end),
    upload = rpc.streaming(function(s)
      local n, sum = 0, 0
      while true do
        local d = s:read()
        if not d then break end
        n = n + #d
        for i = 1, #d, 4093 do sum = (sum + d:byte(i)) % 65521 end
      end
      return { n = n, sum = sum }
    end),
    lines = rpc.streaming(function(s)
      local out = {}
      for l in function() return s:read_until("\n") end do
        out[#out + 1] = l
      end
      return out
    end),
    broken = rpc.streaming(function(s)
      s:send(1)
      s:send(2)
      error("sensor unplugged")
    end),
    plain = function() return "plain" end,
  }
end

local function pair()
  local a, b = rpc.pair(nil, lab())
  return a, b, function()
    a:close()
    b:close()
  end
end

describe("hilt.rpc streams", function()
  it("stream results as an iterator, then the result", function()
    local a, _, close = pair()
    local s = a:stream("count", 1000)
    local seen = {}
    for v in s do
      seen[#seen + 1] = v
    end
    assert.are.equal(1000, #seen)
    assert.are.equal(1, seen[1])
    assert.are.equal(1000, seen[1000])
    assert.are.equal("counted 1000", s:result())
    close()
  end)

  it("keep a slow consumer's backlog within the window", function()
    local a, _, close = pair()
    meter.sent = 0
    local s = a:stream_with({ credit = 16 }, "flood", 200)
    local taken = 0
    local most_ahead = 0
    for _ in s do
      taken = taken + 1
      most_ahead = math.max(most_ahead, meter.sent - taken)
      if taken % 20 == 0 then
        hilt.sleep(0.001)  -- the producer runs ahead while we sleep
      end
    end
    assert.are.equal(200, taken)
    assert.is_true(most_ahead <= 16, "producer ran " .. most_ahead .. " ahead")
    assert.is_true(most_ahead >= 8, "the window was never used")
    close()
  end)

  it("carry raw bytes both ways, across many credit windows", function()
    local a, _, close = pair()
    local s = a:stream("blob", 3 * 1024 * 1024 + 7)
    local n, last = 0, nil
    for d in function() return s:read() end do
      n = n + #d
      last = d
    end
    assert.are.equal(3 * 1024 * 1024 + 7, n)
    assert.are.equal("yyyyyyy", last:sub(-7))
    assert.are.equal(n, s:result())

    local up = a:stream("upload")
    local data = ("0123456789abcdef"):rep(65536)  -- 1 MiB
    local sum = 0
    for i = 1, #data, 4093 do sum = (sum + data:byte(i)) % 65521 end
    up:write(data)
    up:write("")
    up:close_write()
    local r = up:result()
    assert.are.equal(#data, r.n)
    close()
  end)

  it("read up to a separator, and what is left at the end", function()
    local a, _, close = pair()
    local s = a:stream("lines")
    s:write("boot\nlogin: ")
    s:write("root\n#")
    s:close_write()
    assert.are.same({ "boot\n", "login: root\n", "#" }, s:result())
    close()
  end)

  it("take streamed input until the caller closes its side", function()
    local a, _, close = pair()
    local s = a:stream("sum")
    for i = 1, 300 do
      s:send(i)
    end
    s:close_write()
    assert.are.equal(45150, s:result())
    close()
  end)

  it("cancel the handler when the caller leaves the loop", function()
    local outcome
    local a, b = rpc.pair(nil, {
      ticks = rpc.streaming(function(s)
        local ok, e = pcall(function()
          for i = 1, 1e9 do s:send(i) end
        end)
        outcome = e
        error(e)
      end),
    })
    for v in a:stream("ticks") do
      if v == 10 then break end
    end
    hilt.sleep(0.02)
    assert.is_true(hilt.is_error(outcome, "cancelled"))
    assert.are.same({ 0, 0 }, { a.raw:pending() })
    assert.are.same({ 0, 0 }, { b.raw:pending() })
    a:close()
    b:close()
  end)

  it("raise the handler's failure after the items it sent", function()
    local a, _, close = pair()
    local got = {}
    local ok, err = pcall(function()
      for v in a:stream("broken") do
        got[#got + 1] = v
      end
    end)
    assert.is_false(ok)
    assert.are.same({ 1, 2 }, got)
    assert.are.equal("failed", err.code)
    assert.matches("sensor unplugged", err.message)
    close()
  end)

  it("expire mid-stream on both ends", function()
    local seen
    local a, b = rpc.pair(nil, {
      tick = rpc.streaming(function(s)
        local ok, e = pcall(function()
          for i = 1, 1e9 do
            s:send(i)
            hilt.sleep(0.01)
          end
        end)
        seen = e
        error(e)
      end),
    })
    local s = a:stream_with({ timeout = 0.1 }, "tick")
    local ok, err = pcall(function()
      for _ in s do end
    end)
    assert.is_false(ok)
    assert.are.equal("expired", err.code)
    hilt.sleep(0.05)
    assert.is_true(hilt.is_error(seen, "expired"))
    a:close()
    b:close()
  end)

  it("move a deadline with set_timeout", function()
    local a, _, close = pair()
    local s = a:stream_with({ timeout = 0.05 }, "flood", 1e9)
    s:set_timeout(5)
    hilt.sleep(0.1)
    assert.are.equal(1, s:recv())
    s:close()
    close()
  end)

  it("refuse to mix unary calls and streams", function()
    local a, _, close = pair()
    local ok, err = pcall(a.call, a, "count", 3)
    assert.is_false(ok)
    assert.are.equal("invalid_argument", err.code)
    assert.matches("streams: call it with conn:stream", err.message)
    -- A plain method called as a stream just has a result.
    local s = a:stream("plain")
    assert.is_nil(s:recv())
    assert.are.equal("plain", s:result())
    -- Items and bytes do not mix on one stream.
    local up = a:stream("upload")
    up:write("x")
    ok, err = pcall(up.send, up, 1)
    assert.is_false(ok)
    assert.matches("carries bytes", err)
    up:close()
    close()
  end)

  it("end streams unavailable when the connection goes", function()
    local a, b = rpc.pair(nil, lab())
    local s = a:stream("flood", 1e9)
    assert.are.equal(1, s:recv())
    b:close()
    local ok, err = pcall(function()
      for _ in s do end
    end)
    assert.is_false(ok)
    assert.are.equal("unavailable", err.code)
    a:close()
  end)

  it("keep what the caller sends before the handler runs", function()
    local a, b = rpc.pair(nil, {
      upper = rpc.streaming(function(s)
        local parts = {}
        for d in function() return s:read() end do parts[#parts + 1] = d end
        return table.concat(parts):upper()
      end),
      total = rpc.streaming(function(s)
        local sum = 0
        for v in s do sum = sum + v end
        return sum
      end),
    })
    -- Everything goes out in the same pass as the request itself.
    local s = a:stream("upper")
    s:write("early ")
    s:write("bytes")
    s:close_write()
    assert.are.equal("EARLY BYTES", hilt.timeout(5, s.result, s))
    s = a:stream("total")
    for i = 1, 10 do s:send(i) end
    s:close_write()
    assert.are.equal(55, hilt.timeout(5, s.result, s))
    -- And a bare END, with nothing before it.
    s = a:stream("upper")
    s:close_write()
    assert.are.equal("", hilt.timeout(5, s.result, s))
    a:close()
    b:close()
  end)
end)
