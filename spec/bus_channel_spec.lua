-- Channels as eric-sse has them, on hilt's tasks: listeners, dispatch and
-- broadcast, blocking readers, watch, resume, bounded queues, the two
-- prefabs and the control socket's verbs.
local hilt = require("hilt")
local channel = require("hilt.bus.channel")

-- Reads n messages from an iterator in the calling task.
local function take(next_msg, n)
  local out = {}
  for i = 1, n do
    out[i] = next_msg()
  end
  return out
end

local function types(msgs)
  local out = {}
  for i, m in ipairs(msgs) do
    out[i] = m.type
  end
  return out
end

describe("a channel", function()
  it("has a generated id, or the one it is given", function()
    local a, b = channel.new(), channel.new()
    assert.matches("^%x+$", a.id)
    assert.are.equal(16, #a.id)
    assert.are_not.equal(a.id, b.id)
    assert.are.equal("lab", channel.new({ id = "lab" }).id)
    assert.are.equal(3000, a.retry)
    assert.are.equal(1024, a.max_queue)
    assert.has_error(function() channel.new({ max_queue = 0 }) end,
      "bad option 'max_queue' to 'channel.new' (integer >= 1 expected, got 0)")
  end)

  it("dispatches to one listener only, with the message's shape", function()
    local ch = channel.new({ id = "c1" })
    local a, b = ch:add_listener("a"), ch:add_listener("b")
    local id = ch:dispatch(a, "hello", { n = 1 }, "b")
    assert.are.same({ type = "hello", payload = { n = 1 }, id = id, sender = "b" },
      ch:listen(a)())
    assert.are.equal(0, ch:listener(b).queued)
    assert.are.equal(1, ch:listener(a).history)
  end)

  it("broadcasts one message, with one id, to every listener", function()
    local ch = channel.new()
    local ids = { ch:add_listener(), ch:add_listener(), ch:add_listener() }
    assert.are.same(ids, ch:listeners())
    local first = ch:broadcast("tick", 1)
    local second = ch:broadcast("tick", 2)
    assert.is_true(second > first)
    for _, id in ipairs(ids) do
      local got = take(ch:listen(id), 2)
      assert.are.same({ 1, 2 }, { got[1].payload, got[2].payload })
      assert.are.same({ first, second }, { got[1].id, got[2].id })
    end
  end)

  it("keeps each listener's messages in order, ids increasing", function()
    local ch = channel.new()
    local l = ch:add_listener()
    for i = 1, 5 do
      if i % 2 == 0 then ch:broadcast("n", i) else ch:dispatch(l, "n", i) end
    end
    local got = take(ch:listen(l), 5)
    for i = 1, 5 do
      assert.are.equal(i, got[i].payload)
      assert.are.equal(i, got[i].id)
    end
  end)

  it("names the listener and the channel when a listener is unknown", function()
    local ch = channel.new({ id = "lab" })
    for _, f in ipairs({ "listener", "remove_listener", "listen", "drain" }) do
      assert.has_error(function() ch[f](ch, "x") end,
        f .. ": no listener 'x' on channel 'lab'")
    end
    assert.has_error(function() ch:dispatch("x", "t") end,
      "dispatch: no listener 'x' on channel 'lab'")
    ch:add_listener("x")
    assert.has_error(function() ch:add_listener("x") end,
      "add_listener: listener 'x' is already on channel 'lab'")
    assert.has_error(function() ch:dispatch("x", 42) end,
      "bad argument #2 to 'dispatch' (message type must be a non-empty string, got number)")
    assert.has_error(function() ch:broadcast("t", print) end,
      "bad argument #2 to 'broadcast' (payload must be a JSON-able value, got function)")
    assert.has_error(function() ch:broadcast("t", nil, 7) end,
      "bad argument #3 to 'broadcast' (sender must be a listener id or nil, got number)")
  end)

  it("blocks a reader until a message comes", function()
    local ch = channel.new()
    local l = ch:add_listener()
    local reader = hilt.spawn(function() return ch:listen(l)() end)
    hilt.sleep(0.02)
    assert.are.equal("waiting", reader:status())
    ch:dispatch(l, "wake", "up")
    assert.are.equal("up", reader:join().payload)
  end)

  it("queues for a listener nobody reads yet, and delivers once it is read", function()
    local ch = channel.new()
    local l = ch:add_listener()
    ch:broadcast("early", 1)
    assert.are.equal(1, ch:listener(l).queued)
    assert.are.equal("early", ch:listen(l)().type)
  end)

  it("ends a blocked reader when its listener is removed", function()
    local ch = channel.new()
    local l = ch:add_listener()
    local reader = hilt.spawn(function()
      local n = 0
      for _ in ch:listen(l) do n = n + 1 end
      return n
    end)
    ch:dispatch(l, "one")
    hilt.sleep(0.02)
    ch:remove_listener(l)
    assert.are.equal(1, reader:join())
    assert.are.same({}, ch:listeners())
  end)

  it("ends every reader when it closes, and takes nothing after", function()
    local ch = channel.new({ id = "gone" })
    local readers = {}
    for i = 1, 3 do
      local l = ch:add_listener()
      readers[i] = hilt.spawn(function() return ch:listen(l)() end)
    end
    hilt.sleep(0.01)
    ch:close()
    ch:close()
    for _, r in ipairs(readers) do
      assert.is_nil(r:join())
    end
    assert.has_error(function() ch:broadcast("t") end, "broadcast: channel 'gone' is closed")
    assert.has_error(function() ch:add_listener() end, "add_listener: channel 'gone' is closed")
  end)
end)

describe("watching a channel", function()
  it("sees only what is broadcast after it", function()
    local ch = channel.new()
    ch:add_listener()
    ch:broadcast("before")
    local w, id = ch:watch()
    assert.are.equal(w.id, id)
    ch:broadcast("after", 1)
    assert.are.same({ type = "after", payload = 1, id = 2 }, w())
    w:close()
    w:close()
    assert.is_false(ch:has_listener(id))
  end)

  it("removes its listener when a for loop breaks, errs or is cancelled, and ends when the channel closes", function()
    local ch = channel.new()
    local seen = 0
    local reader = hilt.spawn(function()
      for msg in ch:watch() do
        seen = seen + msg.payload
        if msg.type == "last" then break end
      end
    end)
    hilt.yield()
    assert.are.equal(1, #ch:listeners())
    ch:broadcast("n", 1)
    ch:broadcast("last", 2)
    reader:join()
    assert.are.equal(3, seen)
    assert.are.same({}, ch:listeners())

    local failing = hilt.spawn(function()
      for _ in ch:watch() do error("boom") end
    end)
    hilt.yield()
    ch:broadcast("n", 1)
    assert.has_error(function() failing:join() end)
    assert.are.same({}, ch:listeners())

    local cancelled = hilt.spawn(function()
      for _ in ch:watch() do end
    end)
    hilt.yield()
    assert.are.equal(1, #ch:listeners())
    cancelled:cancel()
    hilt.yield()
    assert.are.same({}, ch:listeners())

    local waiting = hilt.spawn(function()
      for _ in ch:watch() do end
      return "ended"
    end)
    hilt.yield()
    ch:close()
    assert.are.equal("ended", waiting:join())
  end)
end)

describe("resuming a listener", function()
  it("replays the delivered messages after a given id, then the queue", function()
    local ch = channel.new()
    local l = ch:add_listener()
    for i = 1, 4 do ch:dispatch(l, "n", i) end
    take(ch:listen(l), 3)                        -- the reader saw 1..3, then went away
    ch:dispatch(l, "n", 5)
    local again = take(ch:listen(l, { after = 1 }), 4)
    assert.are.same({ 2, 3, 4, 5 }, { again[1].id, again[2].id, again[3].id, again[4].id })
  end)

  it("tells the reader with a _gap when what it missed is no longer kept", function()
    local ch = channel.new({ history = 2 })
    local l = ch:add_listener()
    for i = 1, 5 do ch:dispatch(l, "n", i) end
    take(ch:listen(l), 5)
    local again = take(ch:listen(l, { after = 1 }), 3)
    assert.are.same({ type = "_gap", payload = { from = 1, oldest = 4 } }, again[1])
    assert.are.same({ 4, 5 }, { again[2].id, again[3].id })
    -- Nothing after 4 was lost: no gap.
    assert.are.equal(5, ch:listen(l, { after = 4 })().id)
    assert.has_error(function() ch:listen(l, { after = "x" }) end,
      "bad argument #2 to 'listen' (opts.after must be an integer message id)")
  end)
end)

describe("a listener's queue bound", function()
  it("drops the oldest messages and tells the reader how many", function()
    local ch = channel.new({ max_queue = 3 })
    local l = ch:add_listener()
    for i = 1, 5 do ch:dispatch(l, "n", i) end
    assert.are.same({ id = l, queued = 3, dropped = 2, history = 0 }, ch:listener(l))
    local got = take(ch:listen(l), 4)
    assert.are.same({ type = "_dropped", payload = 2 }, got[1])
    assert.are.same({ 3, 4, 5 }, { got[2].payload, got[3].payload, got[4].payload })
  end)

  it("reports drops that happen while the reader waits before the messages after them", function()
    local ch = channel.new({ max_queue = 2 })
    local l = ch:add_listener()
    local reader = hilt.spawn(function() return take(ch:listen(l), 3) end)
    hilt.sleep(0.01)
    for i = 1, 4 do ch:dispatch(l, "n", i) end
    local got = reader:join()
    assert.are.same({ "_dropped", "n", "n" }, types(got))
    assert.are.same({ 2, 3, 4 }, { got[1].payload, got[2].payload, got[3].payload })
  end)
end)

describe("a processing channel", function()
  -- Handlers sleep payload * 20 ms; with two workers they finish in an
  -- order unlike the order sent.
  local DELAYS = { 5, 1, 3, 2, 4, 1 }

  local function load(pch, l)
    for i, d in ipairs(DELAYS) do pch:dispatch(l, "job" .. i, d) end
  end

  it("runs at most max_workers handlers at once, results in completion order", function()
    local pch = channel.processing()
    local l = pch:add_listener()
    load(pch, l)
    local running, peak, finished = 0, 0, {}
    local function handler(msg)
      running = running + 1
      peak = math.max(peak, running)
      hilt.sleep(msg.payload * 0.02)
      running = running - 1
      finished[#finished + 1] = msg.id
      return msg.payload * 10
    end
    local got = {}
    for r in pch:process(l, handler, 2) do
      got[#got + 1] = r.id
      assert.are.equal(r.type, "job" .. r.id)
      assert.are.equal(DELAYS[r.id] * 10, r.payload)
    end
    assert.are.equal(2, peak)
    assert.are.same(finished, got)
    assert.are.equal(2, got[1])       -- the shortest job, sent second
    assert.are_not.same({ 1, 2, 3, 4, 5, 6 }, got)
    assert.are.equal(0, pch:listener(l).queued)
  end)

  it("takes only what is queued now, and passes errors on as results", function()
    local pch = channel.processing({ max_queue = 2 })
    local l = pch:add_listener()
    for i = 1, 3 do pch:dispatch(l, "job", i) end
    local run = pch:process(l, function(msg)
      if msg.payload == 2 then error("bad job", 0) end
      return msg.payload
    end, 8)
    pch:dispatch(l, "later", 9)
    local got = {}
    for r in run do got[#got + 1] = r end
    assert.are.same({ type = "_dropped", payload = 1 }, got[1])
    assert.are.same({ type = "job", id = 2, error = "bad job" }, got[2])
    assert.are.same({ type = "job", id = 3, payload = 3 }, got[3])
    assert.are.equal(3, #got)
    assert.are.equal(1, pch:listener(l).queued)
    assert.has_error(function() pch:process(l, print, 0) end,
      "bad argument #3 to 'process' (max_workers must be an integer >= 1)")
  end)

  it("cancels the handlers still running when the loop is left", function()
    local pch = channel.processing()
    local l = pch:add_listener()
    load(pch, l)
    for r in pch:process(l, function(msg) hilt.sleep(msg.payload * 0.02) return 1 end, 3) do
      assert.are.equal(2, r.id)
      break
    end
  end)
end)

describe("an application listener", function()
  it("lets Alice and Bob exchange hello, hello_ack and stop", function()
    local ch = channel.new()
    local alice, bob = channel.app_listener(ch, "alice"), channel.app_listener(ch, "bob")
    local heard = {}
    bob:on("hello", function(msg)
      heard[#heard + 1] = { "bob", msg.type, msg.payload, msg.sender }
      return { { "hello_ack", "hi " .. msg.sender } }
    end)
    alice:on("hello_ack", function(msg)
      heard[#heard + 1] = { "alice", msg.type, msg.payload, msg.sender }
      alice:stop()
      return { { type = "stop" } }
    end)
    local ta, tb = alice:start(), bob:start()
    alice:dispatch_to("bob", "hello", "hi bob")
    hilt.timeout(1, hilt.wait_all, { ta, tb })
    assert.are.same({ { "bob", "hello", "hi bob", "alice" },
                      { "alice", "hello_ack", "hi alice", "bob" } }, heard)
  end)

  it("skips unknown types, reports a failed action to its sender, and keeps running", function()
    local ch = channel.new()
    local app = channel.app_listener(ch)
    local client = ch:add_listener()
    app:on("div", function(msg)
      if msg.payload == 0 then error("divide by zero") end
      return { { "quotient", 1 // msg.payload } }
    end)
    assert.has_error(function() app:on("stop", print) end,
      "bad argument #1 to 'on' ('stop' is reserved)")
    local logged = {}
    local sink = hilt.log.add_sink(function(level, m) logged[#logged + 1] = level .. " " .. m end)
    local old_level = hilt.log.level("off")
    local task = app:start()
    ch:dispatch(app.id, "nope", nil, client)
    ch:dispatch(app.id, "div", 0, client)
    ch:dispatch(app.id, "div", 2, client)
    ch:dispatch(app.id, "start", nil, client)
    local got = take(ch:listen(client), 2)
    app:stop()
    task:join()
    hilt.log.remove_sink(sink)
    hilt.log.level(old_level)
    assert.are.same({ "_error", "quotient" }, types(got))
    assert.are.equal("div", got[1].payload.type)
    assert.matches("divide by zero", got[1].payload.error)
    assert.are.same({ 0, app.id }, { got[2].payload, got[2].sender })
    assert.matches("no action for 'nope'", logged[1])
    assert.matches("^warn .*action 'div' failed", logged[2])
  end)
end)

describe("the channel control verbs", function()
  local cc
  local function cmd(req, write_line) return channel.command(cc, req, write_line) end
  before_each(function() cc = channel.container() end)

  -- Runs a streaming request in a task; its lines collect in `lines`.
  local function stream(req, lines, stop_after)
    return hilt.spawn(function()
      return cmd(req, function(line)
        lines[#lines + 1] = line
        return not (stop_after and #lines >= stop_after)
      end)
    end)
  end

  it("creates channels and listeners, returning their ids", function()
    local c = cmd({ v = "c" })
    assert.are.same({ c }, cc:ids())
    assert.are.equal("lab", cmd({ v = "c", c = "lab" }))
    local r = cmd({ v = "r", c = c })
    assert.are.same({ r }, cc:get(c):listeners())
    assert.are.equal("me", cmd({ v = "r", c = c, r = "me" }))
    assert.are.same({ error = "channel_exists", message = "channel 'lab' already exists" },
      cmd({ v = "c", c = "lab" }))
    assert.are.same({ error = "listener_exists",
                      message = "listener 'me' is already on channel '" .. c .. "'" },
      cmd({ v = "r", c = c, r = "me" }))
  end)

  it("dispatches, broadcasts and removes with ack", function()
    local c = cmd({ v = "c", c = "lab" })
    local a, b = cmd({ v = "r", c = c }), cmd({ v = "r", c = c })
    assert.are.equal("ack", cmd({ v = "d", c = c, r = a, t = "only", p = { x = 1 } }))
    assert.are.equal("ack", cmd({ v = "b", c = c, t = "all" }))
    local ch = cc:get(c)
    assert.are.same({ "only", "all" }, types(ch:drain(a)))
    assert.are.same({ "all" }, types(ch:drain(b)))
    assert.are.equal("ack", cmd({ v = "rl", c = c, r = a }))
    assert.are.same({ b }, ch:listeners())
    assert.are.equal("ack", cmd({ v = "rc", c = c }))
    assert.are.same({}, cc:ids())
    assert.is_true(ch.closed)
  end)

  it("streams a listener's messages as lines until the listener is removed", function()
    local c = cmd({ v = "c" })
    local r = cmd({ v = "r", c = c })
    cmd({ v = "d", c = c, r = r, t = "first", p = 1 })
    local lines = {}
    local t = stream({ v = "l", c = c, r = r }, lines)
    hilt.sleep(0.01)
    cmd({ v = "b", c = c, t = "second", p = { ok = true } })
    hilt.sleep(0.01)
    assert.are.equal("ack", cmd({ v = "rl", c = c, r = r }))
    assert.is_nil(t:join())
    assert.are.same({ { event = "first", data = 1, retry = 3000, id = 1 },
                      { event = "second", data = { ok = true }, retry = 3000, id = 2 } }, lines)
  end)

  it("resumes a stream after a message id, and stops when write_line says so", function()
    local c = cmd({ v = "c" })
    local r = cmd({ v = "r", c = c })
    for i = 1, 3 do cmd({ v = "d", c = c, r = r, t = "n", p = i }) end
    local lines = {}
    assert.is_nil(stream({ v = "l", c = c, r = r }, lines, 3):join())
    assert.is_true(cc:get(c):has_listener(r))
    local again = {}
    assert.is_nil(stream({ v = "l", c = c, r = r, a = 2 }, again, 1):join())
    assert.are.same({ { event = "n", data = 3, retry = 3000, id = 3 } }, again)
  end)

  it("watches broadcasts until the channel is removed, and cleans up its listener", function()
    local c = cmd({ v = "c" })
    cmd({ v = "b", c = c, t = "before" })
    local lines = {}
    local t = stream({ v = "w", c = c }, lines)
    hilt.yield()
    assert.are.equal(1, #cc:get(c):listeners())
    cmd({ v = "b", c = c, t = "after", p = "x" })
    hilt.sleep(0.01)
    cmd({ v = "rc", c = c })
    assert.is_nil(t:join())
    assert.are.same({ { event = "after", data = "x", retry = 3000, id = 2 } }, lines)

    local c2 = cmd({ v = "c" })
    local once = {}
    local t2 = stream({ v = "w", c = c2 }, once, 1)
    hilt.yield()
    cmd({ v = "b", c = c2, t = "one" })
    assert.is_nil(t2:join())
    assert.are.same({}, cc:get(c2):listeners())
  end)

  it("answers every malformed request with an error naming the problem", function()
    local c = cmd({ v = "c", c = "lab" })
    local r = cmd({ v = "r", c = c, r = "me" })
    local cases = {
      { "not a table", "bad_request", "the request must be a JSON object" },
      { {}, "missing_key", "missing key 'v' (verb)" },
      { { v = "x", c = c }, "unknown_verb", "unknown verb 'x' (expected one of c, r, d, b, rl, rc, l, w)" },
      { { v = 1 }, "unknown_verb", "unknown verb '1' (expected one of c, r, d, b, rl, rc, l, w)" },
      { { v = "d", c = c, r = r }, "missing_key", "missing key 't' (message type) for verb 'd'" },
      { { v = "b", c = c }, "missing_key", "missing key 't' (message type) for verb 'b'" },
      { { v = "b", c = c, t = 5 }, "bad_request", "key 't' (message type) must be a non-empty string, got number" },
      { { v = "r" }, "missing_key", "missing key 'c' (channel id) for verb 'r'" },
      { { v = "c", c = {} }, "bad_request", "key 'c' (channel id) must be a non-empty string, got table" },
      { { v = "rc", c = "nope" }, "no_channel", "no channel 'nope'" },
      { { v = "w", c = "nope" }, "no_channel", "no channel 'nope'" },
      { { v = "d", c = c, t = "x" }, "missing_key", "missing key 'r' (listener id) for verb 'd'" },
      { { v = "d", c = c, r = "ghost", t = "x" }, "no_listener", "no listener 'ghost' on channel 'lab'" },
      { { v = "rl", c = c, r = "ghost" }, "no_listener", "no listener 'ghost' on channel 'lab'" },
      { { v = "l", c = c, r = "ghost" }, "no_listener", "no listener 'ghost' on channel 'lab'" },
      { { v = "d", c = c, r = r, t = "x", p = print }, "bad_request", "key 'p' (payload) must be a JSON value, got function" },
      { { v = "l", c = c, r = r, a = -1 }, "bad_request", "key 'a' (message id to resume after) must be an integer >= 0" },
    }
    for _, case in ipairs(cases) do
      assert.are.same({ error = case[2], message = case[3] }, cmd(case[1], print))
    end
    assert.are.same({ "me" }, cc:get(c):listeners())
    assert.are.equal(0, cc:get(c):listener(r).queued)
    assert.has_error(function() cmd({ v = "l", c = c, r = r }) end,
      "bad argument #3 to 'command' (verb 'l' streams: function expected, got nil)")
  end)
end)

describe("a channel container", function()
  it("creates, finds, lists and removes channels by id", function()
    local cc = channel.container()
    local a = cc:create()
    local b = cc:create({ id = "b", retry = 10 })
    assert.are.same({ a.id, "b" }, cc:ids())
    assert.are.equal(b, cc:get("b"))
    assert.are.equal(10, b.retry)
    assert.has_error(function() cc:get("x") end, "get: no channel 'x'")
    assert.has_error(function() cc:remove("x") end, "remove: no channel 'x'")
    assert.has_error(function() cc:create({ id = "b" }) end, "create: channel 'b' already exists")
    local p = cc:register(channel.processing({ id = "p" }))
    assert.are.equal(p, cc:get("p"))
    cc:remove("b")
    assert.is_true(b.closed)
    assert.are.same({ a.id, "p" }, cc:ids())
  end)
end)
