-- One change propagated through 1,000 hilt.rx fn Values, in changes/s,
-- against the same arithmetic done by plain Lua callbacks (each node
-- computes its value and calls its listeners) in the same run. Two shapes:
-- a chain v0 -> v1 -> ... -> v1000 of x + 1, and 100 layers of 10 nodes,
-- each of two nodes of the layer before (diamonds everywhere), summed into
-- one last node; there the callbacks count their inputs in, so each node
-- computes once per change as rx's do.
-- Run with: build/hilt bench/rx.lua. RX_BENCH_ROUNDS (default 7) rounds,
-- RX_BENCH_SECONDS (default 0.08) of each side per round.
local rx = require("hilt.rx")
local now = require("hilt.core").now

local TARGET = 0.3
local ROUNDS = tonumber(os.getenv("RX_BENCH_ROUNDS")) or 7
local SECONDS = tonumber(os.getenv("RX_BENCH_SECONDS")) or 0.08
local LENGTH, WIDTH, LAYERS, MOD = 1000, 10, 100, 65521

-- --- plain callbacks ----------------------------------------------------------

local function plain_node()
  return { value = 0, listeners = {} }
end

local function plain_set(node, v)
  node.value = v
  local ls = node.listeners
  for i = 1, #ls do
    ls[i](v)
  end
end

local function plain_chain()
  local first = plain_node()
  local prev = first
  for _ = 1, LENGTH do
    local node = plain_node()
    prev.listeners[#prev.listeners + 1] = function(x) plain_set(node, x + 1) end
    prev = node
  end
  return function(v) plain_set(first, v) end, function() return prev.value end
end

-- A node of several inputs computes when the last of them has arrived.
local function plain_join(inputs, f)
  local node, pending = plain_node(), #inputs
  local function arrived()
    pending = pending - 1
    if pending == 0 then
      pending = #inputs
      plain_set(node, f(inputs))
    end
  end
  for _, i in ipairs(inputs) do
    i.listeners[#i.listeners + 1] = arrived
  end
  return node
end

local function pair(ins) return (ins[1].value + ins[2].value) % MOD end
local function offset(k)
  return function(ins) return (ins[1].value + k) % MOD end
end
local function total(ins)
  local s = 0
  for i = 1, #ins do s = s + ins[i].value end
  return s
end

local function plain_layers()
  local first = plain_node()
  local layer = {}
  for j = 1, WIDTH do layer[j] = plain_join({ first }, offset(j)) end
  for _ = 2, LAYERS do
    local next_layer = {}
    for j = 1, WIDTH do
      next_layer[j] = plain_join({ layer[j], layer[j % WIDTH + 1] }, pair)
    end
    layer = next_layer
  end
  local last = plain_join(layer, total)
  return function(v) plain_set(first, v) end, function() return last.value end
end

-- --- hilt.rx ------------------------------------------------------------------

local function rx_chain()
  local first = rx.value(0)
  local prev = first
  for _ = 1, LENGTH do
    prev = rx.fn(function(x) return x + 1 end, prev)
  end
  return function(v) first:set(v) end, function() return prev.value end
end

local function rx_pair(a, b) return (a + b) % MOD end
local function rx_total(...)
  local s = 0
  for i = 1, select("#", ...) do s = s + select(i, ...) end
  return s
end

local function rx_layers()
  local first = rx.value(0)
  local layer = {}
  for j = 1, WIDTH do
    layer[j] = rx.fn(function(x) return (x + j) % MOD end, first)
  end
  for _ = 2, LAYERS do
    local next_layer = {}
    for j = 1, WIDTH do
      next_layer[j] = rx.fn(rx_pair, layer[j], layer[j % WIDTH + 1])
    end
    layer = next_layer
  end
  local last = rx.fn(rx_total, table.unpack(layer))
  return function(v) first:set(v) end, function() return last.value end
end

-- --- measuring -----------------------------------------------------------------

-- Changes per second over about `seconds`; the source counts up from
-- `from`, so every change is a new value. Returns the rate and the next
-- `from`.
local function round(set, from, seconds)
  local n, t0 = 0, now()
  repeat
    for i = 1, 10 do set(from + n + i) end
    n = n + 10
  until now() - t0 >= seconds
  return n / (now() - t0), from + n
end

local function median(xs)
  local s = table.move(xs, 1, #xs, 1, {})
  table.sort(s)
  local m = (#s + 1) // 2
  return #s % 2 == 1 and s[m] or (s[m] + s[m + 1]) / 2
end

-- Interleaved rounds, so both sides see the same machine; the ratio is of
-- the medians, and the per-round ratios show the spread.
local function compare(name, make_rx, make_plain)
  local rx_set, rx_last = make_rx()
  local plain_set_, plain_last = make_plain()
  local rx_rates, plain_rates, ratios = {}, {}, {}
  local rx_from, plain_from = 0, 0
  for r = 1, ROUNDS do
    rx_rates[r], rx_from = round(rx_set, rx_from, SECONDS)
    plain_rates[r], plain_from = round(plain_set_, plain_from, SECONDS)
    ratios[r] = rx_rates[r] / plain_rates[r]
  end
  -- The same last input on both sides must give the same last value.
  rx_set(12345)
  plain_set_(12345)
  assert(rx_last() == plain_last(), ("%s: rx ends at %s, callbacks at %s")
    :format(name, tostring(rx_last()), tostring(plain_last())))
  local rx_rate, plain_rate = median(rx_rates), median(plain_rates)
  local ratio = rx_rate / plain_rate
  table.sort(ratios)
  print(("rx %-22s hilt.rx %8.0f changes/s (%.1f us), plain callbacks %8.0f/s, ratio %.2fx (rounds %.2f-%.2f), target >= %.1fx: %s")
    :format(name, rx_rate, 1e6 / rx_rate, plain_rate, ratio, ratios[1],
            ratios[#ratios], TARGET, ratio >= TARGET and "met" or "missed"))
end

compare("chain of 1000", rx_chain, plain_chain)
compare("10x100 layers+sum", rx_layers, plain_layers)
