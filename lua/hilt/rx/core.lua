-- hilt.rx's graph: Values (which hold a value) and Events (which emit
-- values), each computed from its inputs, and the transactions that bring
-- a change to every dependent once, in topological order.
--
-- A node holds its inputs strongly and its dependents weakly, so a rule
-- nothing refers to any more is collected with what only it used. Each
-- node has a rank, one more than its highest input's; a transaction runs
-- the dependents it reached lowest rank first, so a node runs after all
-- of its inputs have settled (no glitch on a diamond), and at most once.
--
-- A change made while a transaction runs (a callback setting a Value)
-- takes effect at once (`value` reads it) but reaches dependents in a
-- transaction of its own after the current one ends.
local log = require("hilt.log")

local M = {}

local function sentinel(name)
  return setmetatable({}, { __name = "hilt.rx." .. name,
    __tostring = function() return name end })
end

--- NoValue: what a Value holds before it has one, and what fn passes for
--- an Event argument that did not emit.
M.NoValue = sentinel("NoValue")
--- NoChange: returned by a computation, leaves its Value alone (or its
--- Event silent).
M.NoChange = sentinel("NoChange")

local NoValue, NoChange = M.NoValue, M.NoChange

-- Follow-on transactions one external change may cause before it counts
-- as a loop (callbacks that keep changing each other's inputs).
local MAX_FOLLOW_ON = 10000

local Node = {}

local Value = setmetatable({}, { __index = Node })
local Event = setmetatable({}, { __index = Node })

local function is_node(x)
  local mt = getmetatable(x)
  return mt == Value or mt == Event
end
M.is_node = is_node
function M.is_value(x) return getmetatable(x) == Value end
function M.is_event(x) return getmetatable(x) == Event end

-- --- transactions ---------------------------------------------------------------

local tx         -- the running transaction, or nil
local follow_on = {}  -- changes made during it, to propagate after it
local emit_seq = 0

local function report(node, what, err)
  log.at("error", "rx", "%s %s failed: %s", tostring(node), what, tostring(err))
end

local callback_at  -- the index of the callback running, if it fails

-- Calls cbs[i], cbs[i + 1], ... with v, up to the first nil (as ipairs:
-- a callback may remove itself with off).
local function call_from(cbs, i, v)
  local cb = cbs[i]
  while cb do
    callback_at = i
    cb(v)
    i = i + 1
    cb = cbs[i]
  end
end

-- Runs node's callbacks in one xpcall, not one each: after a failure, it
-- reports it and goes on from the next. A callback's emission runs other
-- callbacks within it, so callback_at is put back after.
local function run_callbacks(node, v)
  local cbs, outer, i = node._callbacks, callback_at, 1
  while cbs[i] do
    local ok, err = xpcall(call_from, debug.traceback, cbs, i, v)
    if ok then
      break
    end
    report(node, "callback", err)
    i = callback_at + 1
  end
  callback_at = outer
end

-- The nodes queued in the running transaction, in the order of their
-- _queued: rank << 32 | the order queued (one number to compare), false
-- while not queued. A change mostly reaches nodes in that order already
-- (rank by rank), and those are appended to the list ordered[first..last];
-- a node queued out of order goes to a binary heap of heap_n nodes. The
-- next to run is the lower of the two firsts.
local ordered, first, last = {}, 1, 0
local heap, heap_n = {}, 0
local queued_seq = 0

local function heap_push(node, key)
  local i = heap_n + 1
  heap_n = i
  while i > 1 do
    local p = i // 2
    local up = heap[p]
    if up._queued < key then
      break
    end
    heap[i] = up
    i = p
  end
  heap[i] = node
end

local function heap_pop()
  local n = heap_n
  local top, tail = heap[1], heap[n]
  heap[n] = nil
  n = n - 1
  heap_n = n
  if n > 0 then
    local key = tail._queued
    local i, l = 1, 2
    while l <= n do
      local child = heap[l]
      if l < n and heap[l + 1]._queued < child._queued then
        l = l + 1
        child = heap[l]
      end
      if key < child._queued then
        break
      end
      heap[i] = child
      i, l = l, 2 * l
    end
    heap[i] = tail
  end
  return top
end

-- Queues the dependents of node to run in this transaction, each once.
local function reach(node)
  local outs = node._outputs
  for k = 1, outs.n do
    local out = outs[k]
    if out and not out._queued then
      queued_seq = queued_seq + 1
      local key = out._rank << 32 | queued_seq
      out._queued = key
      if last < first or ordered[last]._queued < key then
        last = last + 1
        ordered[last] = out
      else
        heap_push(out, key)
      end
    end
  end
end

-- Takes the next node to run off the queue, or returns nil.
local function pop()
  local node
  if first <= last then
    node = ordered[first]
    if heap_n > 0 and heap[1]._queued < node._queued then
      node = heap_pop()
    elseif first == last then
      ordered[first], first, last = nil, 1, 0
    else
      ordered[first], first = nil, first + 1
    end
  elseif heap_n > 0 then
    node = heap_pop()
  else
    return nil
  end
  node._queued = false
  return node
end

-- Unqueues every node (after a transaction failed).
local function clear_queue()
  local node = pop()
  while node do
    node = pop()
  end
end

local running  -- the node whose update runs, for the report if it fails

-- Runs the queued nodes, lowest rank first, until one raises or none is
-- left. One xpcall around the loop, not one per node: drain starts it
-- again after a failure.
local function drain_until_error()
  local node = pop()
  while node do
    running = node
    local f, next_node = node._f, nil
    if f then
      -- An fn of one or two Values (value_fn), the usual node, is run
      -- here: f called directly and change written out.
      local b, v = node._b, nil
      if b then
        v = f(node._a._value, b._value)
      else
        v = f(node._a._value)
      end
      if v ~= NoChange then
        node._value = v
        if node._callbacks[1] ~= nil then
          run_callbacks(node, v)
        end
        local outs = node._outputs
        if outs.n == 1 and last < first and heap_n == 0 then
          -- Its one dependent is all that is left to run (in a chain of
          -- fns): it runs next, without the queue.
          next_node = outs[1]
        else
          reach(node)
        end
      end
    else
      local update = node._update
      if update then
        update(node)
      end
    end
    node = next_node or pop()
  end
end

local function drain()
  while first <= last or heap_n > 0 do
    local ok, err = xpcall(drain_until_error, debug.traceback)
    if not ok then
      report(running, "update", err)
    end
  end
  running = nil
end

local function run_transaction(start)
  start()
  drain()
end

-- Runs start() as a transaction: start makes the first change, and every
-- dependent it reaches runs after. Nested calls become follow-ons.
local function transact(start)
  if tx then
    follow_on[#follow_on + 1] = start
    return
  end
  local count = 0
  while start do
    tx = { emitted = {} }
    queued_seq = 0
    local ok, err = xpcall(run_transaction, debug.traceback, start)
    for node in pairs(tx.emitted) do
      node._emitted = nil
    end
    if not ok then
      -- A failed start leaves nodes queued; they must not look queued to
      -- the next transaction.
      clear_queue()
    end
    tx = nil
    if not ok then
      follow_on = {}
      error(err, 0)
    end
    count = count + 1
    if count > MAX_FOLLOW_ON then
      follow_on = {}
      error("hilt.rx: dependency loop: callbacks kept changing values for "
        .. MAX_FOLLOW_ON .. " transactions in a row", 0)
    end
    start = table.remove(follow_on, 1)
  end
end
M.transact = transact

-- --- nodes -------------------------------------------------------------------------

local counter = 0

local function rank_of(inputs)
  local r = 0
  for _, i in ipairs(inputs) do
    if i._rank >= r then
      r = i._rank + 1
    end
  end
  return r
end

local WEAK_VALUES = { __mode = "v" }

-- A node's dependents are a weak array, nil where one was collected, with
-- its length in n: a numeric loop over it costs half of pairs over a
-- weak-keyed set. add_output squeezes the holes out when it fills to cap.
local function new_outputs()
  return setmetatable({ n = 0, cap = 8 }, WEAK_VALUES)
end

local function add_output(node, out)
  local outs = node._outputs
  local n = outs.n
  if n >= outs.cap then
    local live = 0
    for i = 1, n do
      local o = outs[i]
      outs[i] = nil
      if o then
        live = live + 1
        outs[live] = o
      end
    end
    n = live
    outs.cap = math.max(8, 2 * live)
  end
  outs[n + 1] = out
  outs.n = n + 1
end

local function new_node(mt, inputs, update, name)
  counter = counter + 1
  local node = setmetatable({
    _inputs = inputs or {},
    _outputs = new_outputs(),
    _callbacks = {},
    _update = update or false,
    -- Fields set in transactions exist from the start: a Value's
    -- __newindex runs only for a new key.
    _queued = false,
    _f = false, _a = false, _b = false,  -- see value_fn
    _name = name or (mt == Value and "Value" or "Event") .. "#" .. counter,
  }, mt)
  node._rank = rank_of(node._inputs)
  for _, i in ipairs(node._inputs) do
    add_output(i, node)
  end
  return node
end

-- Whether `target` is node or (transitively) depends on it.
local function depends(target, node, path)
  if target == node then
    return true
  end
  for _, i in ipairs(target._inputs) do
    if depends(i, node, path) then
      path[#path + 1] = target._name
      return true
    end
  end
  return false
end

local function rerank(node)
  local r = rank_of(node._inputs)
  if r > node._rank then
    node._rank = r
    local outs = node._outputs
    for i = 1, outs.n do
      local out = outs[i]
      if out then
        rerank(out)
      end
    end
  end
end

--- node:add_input(other): node now depends on other too (for a dependency
--- fn cannot see). A loop raises, naming the nodes on it.
function Node:add_input(other)
  assert(is_node(other), "hilt.rx: add_input: a Value or an Event expected")
  local path = {}
  if depends(other, self, path) then
    -- path: what lies between self and other, nearest self first.
    error(("hilt.rx: dependency loop: %s -> %s -> %s"):format(
      self._name, table.concat(path, " -> "), self._name), 2)
  end
  self._inputs[#self._inputs + 1] = other
  add_output(other, self)
  rerank(self)
end

--- node:off(fn): removes a callback added with on_change or on_event.
function Node:off(fn)
  for i = #self._callbacks, 1, -1 do
    if self._callbacks[i] == fn then
      table.remove(self._callbacks, i)
    end
  end
end

--- node:inputs() -> the nodes it depends on.
function Node:inputs()
  return table.move(self._inputs, 1, #self._inputs, 1, {})
end

--- node:named(name) -> node, for messages.
function Node:named(name)
  self._name = name
  return self
end

function Node:__tostring()
  return "hilt.rx." .. (getmetatable(self) == Value and "Value" or "Event")
    .. "(" .. self._name .. ")"
end
Value.__tostring, Event.__tostring = Node.__tostring, Node.__tostring
Event.__index = Event

-- --- Values --------------------------------------------------------------------------

Value.__index = function(self, k)
  if k == "value" then
    return rawget(self, "_value")
  end
  return Value[k]
end

Value.__newindex = function(self, k, v)
  if k == "value" then
    return self:set(v)
  end
  rawset(self, k, v)
end

-- Stores v and tells callbacks and dependents (in a transaction).
-- (node._value = v is rawset(node, "_value", v): __newindex would only see
-- a nil _value, and stores it with rawset.)
local function change(node, v)
  if not tx then
    error("hilt.rx: change outside a transaction", 2)
  end
  node._value = v
  if node._callbacks[1] ~= nil then
    run_callbacks(node, v)
  end
  reach(node)
end

--- value:get() -> the value (also value.value)
function Value:get()
  return rawget(self, "_value")
end

--- value:set(v): a new value (also value.value = v); callbacks run and
--- dependents update, even when v equals the old value.
function Value:set(v)
  if tx then
    rawset(self, "_value", v)
  end
  transact(function() change(self, v) end)
end

--- value:on_change(fn): fn(v) after each change, in the transaction.
function Value:on_change(fn)
  self._callbacks[#self._callbacks + 1] = fn
  return self
end
Value.on_value_changed = Value.on_change

--- value(initial) -> a Value to set by hand (NoValue if no initial).
function M.value(initial, name)
  local node = new_node(Value, nil, nil, name)
  if initial == nil then
    initial = NoValue
  end
  rawset(node, "_value", initial)
  return node
end

-- A Value that is get() now; update(self), its part in a transaction,
-- computes it again.
local function computed_node(inputs, get, update, name)
  local node = new_node(Value, inputs, update, name)
  local ok, v = xpcall(get, debug.traceback)
  if not ok then
    report(node, "computation", v)
    v = NoValue
  end
  rawset(node, "_value", v == NoChange and NoValue or v)
  return node
end

local function updater(get)
  return function(self)
    local v = get()
    if v ~= NoChange then
      change(self, v)
    end
  end
end

--- computed(inputs, get) -> a Value that is get() now and again after each
--- transaction in which an input changed (NoChange keeps the old value).
function M.computed(inputs, get, name)
  return computed_node(inputs, get, updater(get), name)
end

-- --- Events ---------------------------------------------------------------------------

local function record(node, v)
  emit_seq = emit_seq + 1
  local list = node._emitted
  if not list then
    list = {}
    node._emitted = list
    tx.emitted[node] = true
  end
  list[#list + 1] = { emit_seq, v }
end

--- event:emit(v): callbacks get v, and dependents run once for each
--- emission.
function Event:emit(v)
  if tx then
    record(self, v)
    run_callbacks(self, v)
    reach(self)
    return
  end
  transact(function() self:emit(v) end)
end

--- event:on_event(fn): fn(v) for each emission, in the transaction.
function Event:on_event(fn)
  self._callbacks[#self._callbacks + 1] = fn
  return self
end

--- event() -> an Event to emit by hand.
function M.event(name)
  return new_node(Event, nil, nil, name)
end

--- emissions(node) -> what each of node's inputs emitted in this
--- transaction, in the order emitted: a list of {input, value}.
function M.emissions(node)
  local all = {}
  for _, i in ipairs(node._inputs) do
    if i._emitted then
      for _, e in ipairs(i._emitted) do
        all[#all + 1] = { e[1], i, e[2] }
      end
    end
  end
  table.sort(all, function(a, b) return a[1] < b[1] end)
  for k, e in ipairs(all) do
    all[k] = { e[2], e[3] }
  end
  return all
end

--- derived_event(inputs, on_inputs_done) -> an Event; on_inputs_done(emit,
--- node) runs once per transaction that reached it.
function M.derived_event(inputs, on_inputs_done, name)
  return new_node(Event, inputs, function(self)
    on_inputs_done(function(v) self:emit(v) end, self)
  end, name)
end

--- derived_value(inputs, initial, on_inputs_done) -> a Value;
--- on_inputs_done(set, node) runs once per transaction that reached it.
function M.derived_value(inputs, initial, on_inputs_done, name)
  local node
  node = new_node(Value, inputs, function(self)
    on_inputs_done(function(v) change(self, v) end, self)
  end, name)
  rawset(node, "_value", initial == nil and NoValue or initial)
  return node
end

--- change(value, v): inside a transaction, sets a Value and reaches its
--- dependents in it (for helpers' own transactions).
M.change = change

-- --- fn ------------------------------------------------------------------------------

local function current(arg)
  if getmetatable(arg) == Value then
    return rawget(arg, "_value")
  end
  return arg
end

-- fn over Values and plain values: a Value of f over their current
-- values. Over one or two Values, the usual case, f and they are kept on
-- the node (_f, _a, _b) and drain calls f itself: no update and get to
-- call through on every change.
local function value_fn(f, args, inputs)
  local n, a, b = args.n, args[1], args[2]
  if (n == 1 or n == 2) and M.is_value(a) and M.is_value(args[n]) then
    b = n == 2 and b or false
    local node = computed_node(inputs, function()
      if b then
        return f(a._value, b._value)
      end
      return f(a._value)
    end, false)
    node._f, node._a, node._b = f, a, b
    return node
  end
  local vals, slots = {}, {}
  for i = 1, n do
    vals[i] = args[i]
    if M.is_value(args[i]) then
      slots[#slots + 1] = i
    end
  end
  return M.computed(inputs, function()
    for k = 1, #slots do
      local i = slots[k]
      vals[i] = args[i]._value
    end
    return f(table.unpack(vals, 1, n))
  end)
end

--- fn(f, ...) -> a Value of f over the values of its arguments (Values or
--- plain values), recomputed when any changes; or, if an argument is an
--- Event, an Event that emits f(...) once per emission of an input Event,
--- with that Event's value, NoValue for the other Events and the current
--- value of the rest. f returning NoChange changes (emits) nothing. f is
--- called with NoValue arguments too.
function M.fn(f, ...)
  assert(type(f) == "function" or (getmetatable(f) or {}).__call,
    "hilt.rx.fn: a function expected")
  local args = table.pack(...)
  local inputs, any_event = {}, false
  for i = 1, args.n do
    if is_node(args[i]) then
      inputs[#inputs + 1] = args[i]
      any_event = any_event or getmetatable(args[i]) == Event
    end
  end
  if not any_event then
    return value_fn(f, args, inputs)
  end
  local vals = {}
  return M.derived_event(inputs, function(emit, node)
    for _, e in ipairs(M.emissions(node)) do
      local src, v = e[1], e[2]
      for i = 1, args.n do
        local a = args[i]
        if a == src then
          vals[i] = v
        elseif getmetatable(a) == Event then
          vals[i] = NoValue
        else
          vals[i] = current(a)
        end
      end
      local r = f(table.unpack(vals, 1, args.n))
      if r ~= NoChange then
        emit(r)
      end
    end
  end)
end

M.Value, M.Event = Value, Event
return M
