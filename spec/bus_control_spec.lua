-- `hilt hub --control PATH`: eric-sse's SocketServer verbs on the hub's
-- channels, one JSON request per connection, against a real hub process,
-- with raw unix sockets and socat as clients.
local hilt = require("hilt")
local busmod = require("hilt.bus")
local net = require("hilt.net")
local process = require("hilt.process")
local json = require("hilt.json")
local hubs = require("spec.support.hub")
local exporter = require("spec.support.exporter")
local wait = require("spec.support.wait")

-- Sends one request (a table, or raw text) and half-closes; the stream.
local function send(h, req)
  local s = net.connect(h.addr.control)
  s:write(type(req) == "string" and req or json.encode(req))
  s:shutdown()
  return s
end

-- ask(h, req) -> the whole response, as text.
local function ask(h, req)
  local s = send(h, req)
  local parts = {}
  for bytes in function() return hilt.timeout(5, s.read, s) end do
    parts[#parts + 1] = bytes
  end
  s:close()
  return table.concat(parts)
end

-- The error a bad request gets.
local function refused(h, req)
  local res = json.decode(ask(h, req))
  return res.error, res.message
end

-- The next line of a stream, decoded; nil at its end.
local function next_line(s)
  local line = hilt.timeout(5, s.read_until, s, "\n")
  return line and json.decode(line)
end

local function path_of(h)
  return (h.addr.control:gsub("^unix://", ""))
end

describe("hilt hub --control", function()
  local h, dir
  before_each(function()
    dir = exporter.tmpdir()
    h = hubs.start({ "--control", dir .. "/control.sock" })
  end)
  after_each(function()
    h:remove()
    process.run({ "rm", "-rf", dir })
  end)

  it("creates channels and listeners, answering their ids as bare text", function()
    local id = ask(h, { v = "c" })
    assert.matches("^%x+$", id)
    assert.are.equal("lab", ask(h, { v = "c", c = "lab" }))
    assert.are.equal("bench", ask(h, { v = "r", c = "lab", r = "bench" }))
    assert.matches("^%x+$", ask(h, { v = "r", c = id }))
    assert.are.same({ "channel_exists", "channel 'lab' already exists" },
      { refused(h, { v = "c", c = "lab" }) })
    assert.are.same({ "listener_exists", "listener 'bench' is already on channel 'lab'" },
      { refused(h, { v = "r", c = "lab", r = "bench" }) })
    -- From a shell.
    local r = process.run({ "socat", "-", "UNIX-CONNECT:" .. path_of(h) },
      { input = '{"v":"r","c":"lab","r":"shell"}', timeout = 10 })
    assert.are.same({ 0, "shell" }, { r.code, r.stdout })
    local b = busmod.connect(h.addr.wire)
    assert.are.same({ "bench", "shell" }, b:channels():get("lab"):listeners())
    b:close()
  end)

  it("dispatches to one listener and broadcasts to all, streamed as JSON lines", function()
    ask(h, { v = "c", c = "lab" })
    ask(h, { v = "r", c = "lab", r = "a" })
    ask(h, { v = "r", c = "lab", r = "b" })
    local sa = send(h, { v = "l", c = "lab", r = "a" })
    local sb = send(h, { v = "l", c = "lab", r = "b" })
    assert.are.equal("ack", ask(h, { v = "d", c = "lab", r = "a", t = "job", p = { n = 1 } }))
    assert.are.equal("ack", ask(h, { v = "b", c = "lab", t = "all", p = json.null }))
    assert.are.same({ event = "job", data = { n = 1 }, id = 1, retry = 3000 }, next_line(sa))
    assert.are.same({ event = "all", data = json.null, id = 2, retry = 3000 }, next_line(sa))
    -- b's first message is the broadcast: the dispatch reached a only.
    assert.are.same({ event = "all", data = json.null, id = 2, retry = 3000 }, next_line(sb))
    assert.are.equal('{"data":"x","event":"t","id":3,"retry":3000}\n',
      (function()
        ask(h, { v = "d", c = "lab", r = "b", t = "t", p = "x" })
        return hilt.timeout(5, sb.read_until, sb, "\n")
      end)())
    -- Removing a listener ends its stream; removing the channel, the rest.
    assert.are.equal("ack", ask(h, { v = "rl", c = "lab", r = "a" }))
    assert.is_nil(next_line(sa))
    assert.are.equal("ack", ask(h, { v = "rc", c = "lab" }))
    assert.is_nil(next_line(sb))
    sa:close()
    sb:close()
    assert.are.same({ "no_channel", "no channel 'lab'" }, { refused(h, { v = "b", c = "lab", t = "x" }) })
  end)

  it("resumes a listener's stream after a message id", function()
    ask(h, { v = "c", c = "lab" })
    ask(h, { v = "r", c = "lab", r = "a" })
    for i = 1, 3 do ask(h, { v = "d", c = "lab", r = "a", t = "n", p = i }) end
    local s = send(h, { v = "l", c = "lab", r = "a" })
    for _ = 1, 3 do next_line(s) end
    s:close()
    s = send(h, { v = "l", c = "lab", r = "a", a = 1 })
    assert.are.same({ 2, 3 }, { next_line(s).id, next_line(s).id })
    ask(h, { v = "rl", c = "lab", r = "a" })
    assert.is_nil(next_line(s))
    s:close()
  end)

  it("watches with a new listener, removed once its client has gone", function()
    ask(h, { v = "c", c = "lab" })
    ask(h, { v = "r", c = "lab", r = "a" })
    local b = busmod.connect(h.addr.wire)
    local ch = b:channels():get("lab")
    local s = send(h, { v = "w", c = "lab" })
    assert.is_true(wait.poll(5, function() return #ch:listeners() == 2 end))
    ask(h, { v = "b", c = "lab", t = "tick", p = 1 })
    assert.are.same({ event = "tick", data = 1, id = 1, retry = 3000 }, next_line(s))
    -- The hub learns the client went when it next writes to it.
    s:close()
    ask(h, { v = "b", c = "lab", t = "tick", p = 2 })
    assert.is_true(wait.poll(5, function() return #ch:listeners() == 1 end))
    assert.are.same({ "a" }, ch:listeners())
    b:close()
  end)

  it("answers a bad request with a JSON error, then closes", function()
    ask(h, { v = "c", c = "lab" })
    assert.are.same({ "bad_json", "bad JSON at line 1, column 4: invalid token near 'nope'" },
      { refused(h, "nope") })
    assert.are.equal("bad_json", refused(h, ""))
    assert.are.same({ "unknown_verb", "unknown verb 'zz' (expected one of c, r, d, b, rl, rc, l, w)" },
      { refused(h, { v = "zz" }) })
    assert.are.same({ "missing_key", "missing key 'v' (verb)" }, { refused(h, { c = "lab" }) })
    assert.are.same({ "missing_key", "missing key 't' (message type) for verb 'd'" },
      { refused(h, { v = "d", c = "lab", r = "a" }) })
    assert.are.same({ "missing_key", "missing key 'c' (channel id) for verb 'r'" },
      { refused(h, { v = "r" }) })
    assert.are.same({ "missing_key", "missing key 'r' (listener id) for verb 'l'" },
      { refused(h, { v = "l", c = "lab" }) })
    assert.are.same({ "no_listener", "no listener 'x' on channel 'lab'" },
      { refused(h, { v = "d", c = "lab", r = "x", t = "t" }) })
    assert.are.same({ "bad_request", "the request must be a JSON object" }, { refused(h, "42") })
    assert.are.same({ "too_large", "request over 65536 bytes" },
      { refused(h, '{"v":"b","c":"lab","t":"x","p":"' .. ("y"):rep(70000) .. '"}') })
    -- The socket still serves.
    assert.are.equal("ack", ask(h, { v = "b", c = "lab", t = "x" }))
  end)
end)

describe("hilt hub --control's socket file", function()
  it("replaces a stale one, refuses a live one, and removes its own", function()
    local dir = exporter.tmpdir()
    local file = dir .. "/control.sock"
    local first = hubs.start({ "--control", file })
    first:stop("kill")
    assert.is_true(process.run({ "test", "-S", file }).code == 0, "a stale socket is left")
    local h = hubs.start({ "--control", file })
    assert.matches("^%x+$", ask(h, { v = "c" }))
    local r = process.run({ exporter.hilt, "hub", "--listen", "unix://" .. dir .. "/w.sock",
      "--control", file }, { timeout = 10 })
    assert.are.equal(1, r.code)
    assert.matches("control on " .. file .. ": cannot listen on unix://" .. file
      .. ": another process is listening there", r.stderr, 1, true)
    h:stop()
    assert.are.equal(1, process.run({ "test", "-e", file }).code)
    first:remove()
    h:remove()
    process.run({ "rm", "-rf", dir })
  end)
end)
