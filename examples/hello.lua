-- A first hilt script: tasks that talk through a queue, a timer, a
-- timeout, and an error handled like any Lua error.
--   build/hilt examples/hello.lua
local hilt = require("hilt")

hilt.log.info("hello from hilt %s", hilt.version)

-- A producer samples a (simulated) supply voltage every 10 ms.
local samples = hilt.queue(4)
local producer = hilt.spawn(function()
  for i = 1, 5 do
    hilt.sleep(0.01)
    samples:put({ n = i, volts = 12 + math.sin(i) / 10 })
  end
  samples:close()
end)

-- The main task consumes them as they come.
for s in samples:iter() do
  print(("sample %d: %.3f V"):format(s.n, s.volts))
end
producer:join()

-- A heartbeat runs beside the main task until stopped.
local beats = 0
local heartbeat = hilt.every(0.005, function() beats = beats + 1 end)

-- A call that takes too long ends with a timeout error.
local ok, err = pcall(hilt.timeout, 0.02, hilt.sleep, 1)
print("slow call:", ok, err.code, err.message)
heartbeat:stop()
print("heartbeats while waiting:", beats > 0)

-- Values cross the wire as msgpack.
local m = hilt.msgpack
local bytes = m.pack({ path = "power/on", args = { 1, true } })
print(("msgpack: %d bytes, path %s"):format(#bytes, m.unpack(bytes).path))
