-- The hilt side of bench/bus: a state owner and a process of observers,
-- both hilt.bus clients of one `hilt hub` over hilt's wire.
--
--   hilt hilt_bus.lua owner ADDR TAG PATHS WINDOW SECONDS RATE LAG
--   hilt hilt_bus.lua observers ADDR TAG PATHS CONNS PER_PATH TIMEOUT STRIDE
--
-- The owner registers the states /bench/TAG/s1 .. sPATHS and changes them
-- for SECONDS: WINDOW tasks each change their share of the paths in turn,
-- every change a request that waits for the hub's answer, so at most
-- WINDOW changes are in flight. The hub answers once it has queued the
-- notifications, not once they are delivered, so with LAG > 0 the owner
-- also stays at most LAG changes ahead of the credit the observers
-- publish (the state /bench/TAG/ack). With RATE > 0 one task offers RATE
-- changes/s instead, on a schedule that catches up if it falls behind.
-- Every value is hilt.now() when it was sent (the clock of mqtt_*.c's
-- CLOCK_MONOTONIC), so each observer sees rising values per path and the
-- latency of each delivery; a change to -1 on every path ends the run.
-- Prints "changes N", "owner_seconds S" and "cpu_s S" (its CPU time).
--
-- The observers open CONNS bus connections; each observes every path with
-- PER_PATH callbacks. Prints "ready" once all observe. Every 2 ms the
-- least number of changes any connection has taken goes to /bench/TAG/ack
-- (from a connection of its own). Every STRIDE-th delivery's latency is
-- kept (a long run at full speed would otherwise spend much of its time
-- on a table of millions of samples). When every callback has seen the
-- end (or after TIMEOUT s) it prints: deliveries (callback runs),
-- notifications (what reached the connections), deliveries_per_sec
-- (between the first and the last delivery), the latency percentiles in
-- microseconds, "disorder" (values not above the last one on their path
-- and connection), "complete" (1 if every end arrived) and "cpu_s".
local hilt = require("hilt")
local bus_mod = require("hilt.bus")

local mode, addr, tag = ...
local usage = "usage: hilt hilt_bus.lua owner ADDR TAG PATHS WINDOW SECONDS RATE LAG\n"
  .. "       hilt hilt_bus.lua observers ADDR TAG PATHS CONNS PER_PATH TIMEOUT STRIDE\n"

local function paths_of(n)
  local out = {}
  for i = 1, n do
    out[i] = ("/bench/%s/s%d"):format(tag, i)
  end
  return out
end

local function owner(npaths, window, seconds, rate, lag)
  local bus = bus_mod.connect(addr)
  local states = {}
  for i, p in ipairs(paths_of(npaths)) do
    states[i] = bus:state_register(p)
  end
  local changes, sent, acked = 0, 0, 0
  if lag > 0 then
    bus:observe(("/bench/%s/ack"):format(tag), function(v)
      if type(v) == "number" then acked = v end
    end)
  end
  -- Waits for credit, then counts the change about to be sent.
  local function credit()
    while lag > 0 and sent - acked >= lag do
      hilt.sleep(0.0005)
    end
    sent = sent + 1
  end
  local start = hilt.now()
  local deadline = start + seconds
  local tasks = {}
  if rate > 0 then
    -- One task on a schedule: change k is due at start + k / rate.
    tasks[1] = hilt.spawn(function()
      local k = 0
      while true do
        local due = start + k / rate
        if due >= deadline then break end
        local wait = due - hilt.now()
        if wait > 0 then hilt.sleep(wait) end
        credit()
        states[k % npaths + 1]:changed(hilt.now())
        k = k + 1
      end
      changes = k
    end)
  else
    for w = 1, window do
      tasks[w] = hilt.spawn(function()
        -- Task w changes paths w, w + window, ... (all of them, in turn,
        -- when there are fewer paths than tasks).
        local mine = {}
        for i = w, math.max(npaths, window), window do
          mine[#mine + 1] = states[(i - 1) % npaths + 1]
        end
        local n = 0
        while hilt.now() < deadline do
          for _, st in ipairs(mine) do
            credit()
            st:changed(hilt.now())
          end
          n = n + #mine
        end
        changes = changes + n
      end)
    end
  end
  hilt.wait_all(tasks)
  local elapsed = hilt.now() - start
  for _, st in ipairs(states) do
    st:changed(-1)
  end
  print(("changes %d"):format(changes))
  print(("owner_seconds %.6f"):format(elapsed))
  print(("cpu_s %.3f"):format(os.clock()))
  bus:close()
end

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  return sorted[math.max(1, math.ceil(#sorted * p))]
end

local function observers(npaths, nconns, per_path, timeout, stride)
  local paths = paths_of(npaths)
  local deliveries, notifications, disorder = 0, 0, 0
  local first, last
  local lat, nlat = {}, 0
  local ended, want = 0, nconns * npaths * per_path
  local done = hilt.queue(1)
  local buses, taken = {}, {}
  for c = 1, nconns do
    local bus = bus_mod.connect(addr)
    buses[c] = bus
    taken[c] = 0
    for _, p in ipairs(paths) do
      -- A notification runs each of the connection's callbacks for its
      -- path once, so the first callback counts the notifications (the
      -- changes the connection has taken) and checks their order.
      local prev = -math.huge
      for k = 1, per_path do
        bus:observe(p, function(v)
          local now = hilt.now()
          if type(v) ~= "number" then return end
          if v < 0 then
            ended = ended + 1
            if ended == want then done:try_put(true) end
            return
          end
          deliveries = deliveries + 1
          first = first or now
          last = now
          if deliveries % stride == 0 then
            nlat = nlat + 1
            lat[nlat] = now - v
          end
          if k == 1 then
            notifications = notifications + 1
            taken[c] = taken[c] + 1
            if v <= prev then disorder = disorder + 1 end
            prev = v
          end
        end)
      end
    end
  end
  local credit_bus = bus_mod.connect(addr)
  buses[#buses + 1] = credit_bus
  local ack = credit_bus:state_register(("/bench/%s/ack"):format(tag))
  local crediting = hilt.spawn(function()
    local last_sent = -1
    while true do
      hilt.sleep(0.002)
      local least = math.huge
      for c = 1, nconns do
        least = math.min(least, taken[c])
      end
      if least ~= last_sent then
        last_sent = least
        ack:changed(least)
      end
    end
  end)
  print("ready")
  io.stdout:flush()
  local ok = pcall(hilt.timeout, timeout, done.get, done)
  crediting:cancel()
  table.sort(lat)
  print(("deliveries %d"):format(deliveries))
  print(("notifications %d"):format(notifications))
  if first and last > first then
    print(("deliveries_per_sec %.0f"):format(deliveries / (last - first)))
  end
  print(("lat_p50_us %.1f"):format(percentile(lat, 0.50) * 1e6))
  print(("lat_p99_us %.1f"):format(percentile(lat, 0.99) * 1e6))
  print(("disorder %d"):format(disorder))
  print(("complete %d"):format(ok and 1 or 0))
  print(("cpu_s %.3f"):format(os.clock()))
  for _, bus in ipairs(buses) do
    bus:close()
  end
end

if mode == "owner" and tag and tonumber((select(6, ...))) then
  local np, w, s, r, l = select(4, ...)
  owner(tonumber(np), tonumber(w), tonumber(s), tonumber(r) or 0,
    tonumber(l) or 0)
elseif mode == "observers" and tag and tonumber((select(8, ...))) then
  local np, nc, pp, t, st = select(4, ...)
  observers(tonumber(np), tonumber(nc), tonumber(pp), tonumber(t),
    tonumber(st))
else
  io.stderr:write(usage)
  os.exit(2)
end
