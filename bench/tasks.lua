-- Task switches and spawn+join through hilt's scheduler, each against the
-- same work done with plain Lua coroutines in this run (the floor a
-- scheduler adds to). Run with: build/hilt bench/tasks.lua
local hilt = require("hilt")

local function rate(n, fn)
  local t0 = hilt.now()
  fn(n)
  return n / (hilt.now() - t0)
end

-- Best of several rounds, interleaved so both sides see the same machine.
local function compare(name, n, fn, base, unit)
  local best_fn, best_base = 0, 0
  for _ = 1, 5 do
    best_fn = math.max(best_fn, rate(n, fn))
    best_base = math.max(best_base, rate(n, base))
  end
  print(("%-28s hilt %10.0f/s (%.0f ns per %s), plain coroutines %10.0f/s, ratio %.2fx")
    :format(name, best_fn, 1e9 / best_fn, unit, best_base, best_fn / best_base))
end

local function hilt_switches(n)
  local half = n // 2
  local function pinger() for _ = 1, half do hilt.yield() end end
  hilt.wait_all({ hilt.spawn(pinger), hilt.spawn(pinger) })
end

local function coroutine_switches(n)
  local half = n // 2
  local function body() for _ = 1, half do coroutine.yield() end end
  local a, b = coroutine.create(body), coroutine.create(body)
  for _ = 1, half + 1 do
    coroutine.resume(a)
    coroutine.resume(b)
  end
end

local function hilt_spawn_join(n)
  local f = function(x) return x end
  for i = 1, n do hilt.spawn(f, i):join() end
end

local function coroutine_spawn_join(n)
  local f = function(x) return x end
  for i = 1, n do coroutine.resume(coroutine.create(f), i) end
end

compare("task switch (yield+resume)", 1000000, hilt_switches, coroutine_switches, "switch")
compare("spawn+join", 200000, hilt_spawn_join, coroutine_spawn_join, "task")

collectgarbage()
collectgarbage()
local before = collectgarbage("count")
local batch = {}
for i = 1, 100000 do batch[i] = hilt.spawn(function() end) end
for i = 1, 100000 do batch[i]:join() end
local peak = collectgarbage("count")
batch = nil
collectgarbage()
collectgarbage()
local after = collectgarbage("count")
print(("100k tasks spawned and joined: heap %.0f KiB before, %.0f KiB at peak, %.0f KiB after (ratio after/before %.2f)")
  :format(before, peak, after, after / before))
