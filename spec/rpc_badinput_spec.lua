-- Bad input over a real socket (docs/protocol.md section 6). A hilt server
-- runs as its own process; Python clients send bytes no hilt client would.
-- Input that breaks the stream must close that connection only, with a
-- reason in the server's log; input that breaks one operation must be
-- answered and leave the connection open. Each case runs between two calls
-- on a good connection that stays open, so a server that crashes, hangs or
-- drops everyone fails the case that did it.
local peer = require("spec.support.peer")

local SERVER = [[
local hilt = require("hilt")
local outcome = "none"
return {
  add = function(a, b) return a + b end,
  echo = function(v) return v end,
  -- Records how its last run ended, so a client can see that a handler
  -- was stopped when its connection went.
  slow = function(s)
    outcome = "running"
    local ok, err = pcall(hilt.sleep, s)
    outcome = ok and "completed" or err.code
    if not ok then
      error(err, 0)
    end
    return "done"
  end,
  outcome = function() return outcome end,
}
]]

local CLOSING = "closing the connection with client: "

-- The reasons the server logged for closing connections, in order.
local function closings(log)
  local found = {}
  for line in log:gmatch("[^\n]+") do
    local at = line:find(CLOSING, 1, true)
    if at then
      found[#found + 1] = line:sub(at + #CLOSING)
    end
  end
  return found
end

-- The server closed exactly these connections, each for its reason.
local function assert_closed_for(log, reasons)
  local got = closings(log)
  table.sort(got)
  local want = { table.unpack(reasons) }
  table.sort(want)
  assert.are.same(want, got, "connections closed, per the log:\n" .. log)
end

local function assert_error(code, message, reply)
  assert.are.equal("table", type(reply), "no reply: " .. tostring(reply))
  assert.are.equal(1, reply[1])
  assert.are.equal(code, reply[3] and reply[3].code)
  if message then
    assert.are.equal(message, reply[3].message)
  end
end

describe("rpc server given bad input", function()
  local server

  setup(function()
    server = peer.start(SERVER, { env = "HILT_LOG=debug" })
  end)

  teardown(function()
    if server then
      server:stop()
    end
  end)

  -- Runs a Python case between two calls on a good connection and
  -- returns what it put in `out`, and the server's log meanwhile.
  local function case(body)
    local mark = #server:log()
    local out = server:python(([[
good = Peer()
out['before'] = good.call(1, 'add', 1, 2)
%s
t = time.monotonic()
out['after'] = good.call(2, 'add', 2, 3)
out['after_s'] = time.monotonic() - t
good.close()
]]):format(body))
    assert.are.equal(3, out.before[4])
    assert.are.equal(5, out.after[4], "the good connection stopped working")
    assert.is_true(out.after_s < 1, "the server was slow to answer")
    return out, server:log_since(mark)
  end

  it("reads a message split across writes, and shrugs off one cut short", function()
    local out, log = case([=[
p = Peer()
m = msgpack.packb([0, 7, 'add', [20, 22]])
p.send(m[:3]); time.sleep(0.05); p.send(m[3:])
out['split'] = p.recv()
p.send(m[:5])
p.close()
# Lets the server take the half message and the EOF before the good call.
time.sleep(0.05)
]=])
    assert.are.equal(42, out.split[4])
    assert_closed_for(log, {})
  end)

  it("takes any valid encoding, id 0 included, as good input", function()
    -- Section 1: non-minimal int forms and float 32 are valid encodings;
    -- section 3: a peer may use id 0.
    local out, log = case([=[
import struct
p = Peer()
odd = (b'\xdc\x00\x04' + b'\xcd\x00\x00' + b'\xcf' + (21).to_bytes(8, 'big')
       + b'\xd9\x03add' + b'\x92\xca' + struct.pack('>f', 1.5) + b'\xd3' + (2).to_bytes(8, 'big'))
p.send(odd)
out['odd'] = p.recv()
out['zero'] = p.call(0, 'add', 1, 2)
p.send([3, 22, 'add', [1, 2], {'timeout': 5, 'sub': 0, 'credit': 64}])
out['call'] = p.recv()
]=])
    assert.are.same({ 21, 3.5 }, { out.odd[2], out.odd[4] })
    assert.are.same({ 0, 3 }, { out.zero[2], out.zero[4] })
    assert.are.same({ 22, 3 }, { out.call[2], out.call[4] })
    assert_closed_for(log, {})
  end)

  it("closes a connection whose message header claims more than 16 MiB", function()
    -- Only the header and 64 KiB follow: the server has to refuse on what
    -- the header says, not after buffering the whole message.
    local out, log = case([=[
p = Peer()
big = 16 * 1024 * 1024 + 1
try:
    p.send(b'\x94\x00\x05\xa3add\x91\xc6' + big.to_bytes(4, 'big') + bytes(65536))
    out['bin'] = p.recv()
except (BrokenPipeError, ConnectionResetError):
    out['bin'] = 'closed'
]=])
    assert.are.equal("closed", out.bin)
    assert_closed_for(log, { "bad message: value starting at byte 1 is larger than the limit of 16777216 bytes" })
  end)

  it("closes a connection whose message grows past 16 MiB", function()
    -- An array of one-byte elements: nothing in its header is large.
    local out, log = case([=[
p = Peer()
n = 17 * 1024 * 1024
sent = 0
try:
    p.send(b'\x94\x00\x06\xa3add\x91\xdd' + n.to_bytes(4, 'big'))
    chunk = b'\xc0' * (1 << 20)
    for _ in range(17):
        p.send(chunk); sent += len(chunk)
    out['grow'] = p.recv()
except (BrokenPipeError, ConnectionResetError):
    out['grow'] = 'closed'
out['sent'] = sent
]=])
    assert.are.equal("closed", out.grow)
    assert.is_true(out.sent < 17 * 1024 * 1024, "the server took the whole message")
    assert_closed_for(log, { "bad message: value starting at byte 1 is larger than the limit of 16777216 bytes" })
  end)

  it("takes 64 levels of nesting and closes a connection at 65", function()
    -- The message's own array and params are two of the levels.
    local out, log = case([=[
def nested(d):
    v = []
    for _ in range(d - 1):
        v = [v]
    return v
p = Peer()
out['at64'] = p.call(7, 'echo', nested(62)) == [1, 7, None, nested(62)]
q = Peer()
out['at65'] = q.call(8, 'echo', nested(63))
]=])
    assert.is_true(out.at64)
    assert.are.equal("closed", out.at65)
    assert_closed_for(log, { "bad message: nesting deeper than 64 levels at byte 72" })
  end)

  it("closes connections whose message is no message", function()
    local out, log = case([=[
for name, data in [('int', b'\x05'), ('short', [0]), ('type9', [9, 1, 'add', [1, 2]]),
                   ('typestr', ['x', 1, 'add', [1, 2]]), ('badbyte', b'\xc1'),
                   ('notify3', [2, 'add']), ('response3', [1, 5, None])]:
    p = Peer()
    p.send(data)
    out[name] = p.recv()
]=])
    for _, name in ipairs({ "int", "short", "type9", "typestr", "badbyte", "notify3", "response3" }) do
      assert.are.equal("closed", out[name], name)
    end
    assert_closed_for(log, {
      "message is not an array of 2 or more", "message is not an array of 2 or more",
      "unknown message type", "unknown message type",
      "bad message: malformed input: invalid byte 0xc1 at byte 1",
      "a notification has 3 elements", "a response has 4 elements",
    })
  end)

  it("closes connections whose id is not a uint32", function()
    local out, log = case([=[
for name, i in [('str', 'x'), ('negative', -1), ('big', 2 ** 32), ('nil', None)]:
    p = Peer()
    out[name] = p.call(i, 'add', 1, 2)
]=])
    for _, name in ipairs({ "str", "negative", "big", "nil" }) do
      assert.are.equal("closed", out[name], name)
    end
    local why = "message id must be an unsigned 32-bit integer"
    assert_closed_for(log, { why, why, why, why })
  end)

  it("answers invalid_argument to a request with a usable id and a bad shape", function()
    local out, log = case([=[
p = Peer()
for i, m in [(10, [0, 10, 42, [1, 2]]), (11, [0, 11, 'add', 5]), (12, [0, 12, 'add']),
             (13, [0, 13, 'add', [1, 2], 'extra']), (14, [3, 14, 'add', [1, 2], 5]),
             (15, [3, 15, 'add', [1, 2], {'timeout': -1}]),
             (16, [3, 16, 'add', [1, 2], {'trace': 'x' * 65}]),
             (17, [0, 17, 'a' * 1025, []]),
             (18, [3, 18, 'add', [1, 2], {'sub': 2, 'timeout': 0}]),
             (19, [3, 19, 'add', [1, 2], {'colour': 'blue'}]),
             (20, [0, 20, 'add', [1, 2]])]:
    p.send(m)
    out[i] = p.recv()
]=])
    assert_error("invalid_argument", "method must be a string", out[10])
    assert_error("invalid_argument", "params must be an array", out[11])
    assert_error("invalid_argument", "a request has 4 elements", out[12])
    assert_error("invalid_argument", "a request has 4 elements", out[13])
    assert_error("invalid_argument", "call options must be a map", out[14])
    assert_error("invalid_argument", "option timeout must be a number > 0", out[15])
    assert_error("invalid_argument", "option trace must be a string of at most 64 bytes", out[16])
    assert_error("invalid_argument", "method path longer than 1024 bytes", out[17])
    -- sub 2 would mean no answer, but opts that cannot be read count as sub 0.
    assert_error("invalid_argument", nil, out[18])
    for i = 10, 18 do
      assert.are.equal(i, out[i][2])
    end
    -- Unknown options are ignored, and the connection is still usable.
    assert.are.equal(3, out[19][4])
    assert.are.equal(3, out[20][4])
    assert_closed_for(log, {})
  end)

  it("answers invalid_argument to arguments a Lua table cannot hold", function()
    local out, log = case([=[
p = Peer()
# [0, 30, 'add', [{nil: 1}, 2]]: a map with a nil key, written by hand.
p.send(b'\x94\x00\x1e\xa3add\x92\x81\xc0\x01\x02')
out['nil_key'] = p.recv()
out['still'] = p.call(31, 'add', 4, 5)
]=])
    assert_error("invalid_argument",
      "argument 1: map has a nil key, which a Lua table cannot hold, at value", out.nil_key)
    assert.are.equal(9, out.still[4])
    assert_closed_for(log, {})
  end)

  it("closes a connection that answers a request the server never sent", function()
    local out, log = case([=[
p = Peer()
p.send([1, 77, None, 5])
out['reply'] = p.recv()
]=])
    assert.are.equal("closed", out.reply)
    assert_closed_for(log, { "response for id 77, which has no request in flight" })
  end)

  it("closes a connection that reuses an id still in flight, ending its handler", function()
    local out, log = case([=[
def outcome_after(seen):
    """The slow handler's outcome once it is no longer `seen`."""
    for i in range(100):
        o = good.call(100 + i, 'outcome')[3]
        if o != seen:
            return o
        time.sleep(0.01)
    return o
p = Peer()
p.send([0, 1, 'slow', [5]])
out['started'] = outcome_after('none')
p.send([0, 1, 'add', [1, 2]])
out['dup'] = p.recv()
out['outcome'] = outcome_after('running')
]=])
    assert.are.equal("running", out.started)
    assert.are.equal("closed", out.dup)
    assert.are.equal("unavailable", out.outcome)
    assert_closed_for(log, { "request id 1 is already in flight" })
  end)

  it("ignores stream messages for ids it does not hold", function()
    -- They may have crossed a response or a CANCEL on the wire.
    local out, log = case([=[
p = Peer()
for m in ([5, 99, 0, 3, 10], [5, 98, 0, 4, None], [5, 97, 0, 9, None], [5, 96, 0, 3],
          [4, 95, 0, 0, 1], [5, 1, 0, 5, None]):
    p.send(m)
out['quiet'] = p.recv(0.2)
out['still'] = p.call(1, 'add', 4, 5)
]=])
    assert.are.equal("timeout", out.quiet)
    assert.are.equal(9, out.still[4])
    assert_closed_for(log, {})
  end)

  it("drops and logs a notification with a bad method or params", function()
    local out, log = case([=[
p = Peer()
p.send([2, 42, []])
p.send([2, 'add', 'not an array'])
out['quiet'] = p.recv(0.2)
out['still'] = p.call(1, 'add', 4, 5)
]=])
    assert.are.equal("timeout", out.quiet)
    assert.are.equal(9, out.still[4])
    assert_closed_for(log, {})
    local _, logged = log:gsub("notification", "")
    assert.are.equal(2, logged, "one line for each dropped notification:\n" .. log)
  end)

  it("answers protocol past 10000 pending operations and keeps the connection", function()
    -- Were the limit lower, the first answer would be for an id up to
    -- 10000, not for 10001.
    local out, log = case([=[
p = Peer()
p.send(b''.join(msgpack.packb([0, i, 'slow', [1]]) for i in range(1, 10001)))
out['over'] = p.call(10001, 'add', 1, 2)
p.close()
]=])
    assert_error("protocol", "too many pending operations (limit 10000)", out.over)
    assert.are.equal(10001, out.over[2])
    assert_closed_for(log, {})
  end)

  it("refuses everything before a hello with the right token (section 7)", function()
    local guarded = peer.start(SERVER .. ', { token = "s3cret" }')
    finally(function() guarded:stop() end)
    local mark = #guarded:log()
    local out = guarded:python([=[
good = Peer()
out['hello'] = good.call(1, 'rpc.hello', {'version': 2, 'token': 's3cret', 'name': 'py'})
out['before'] = good.call(2, 'add', 1, 2)
def refused(first):
    p = Peer()
    p.send(first)
    return [p.recv(), p.recv()]
for name, m in [('request', [0, 5, 'add', [1, 2]]), ('call', [3, 6, 'add', [1, 2], {}]),
                ('notify', [2, 'add', [1, 2]]), ('stream', [5, 9, 0, 3, 1]),
                ('wrong', [0, 7, 'rpc.hello', [{'token': 's3cre7'}]]),
                ('none', [0, 8, 'rpc.hello', []])]:
    out[name] = refused(m)
out['again'] = good.call(3, 'rpc.hello', {'token': 'nope'})
out['after'] = good.recv()
]=])
    local hello = out.hello[4]
    assert.are.equal(1, hello.version)
    assert.are.same({ message = 16777216, depth = 64, pending = 10000, trace = 64, method = 1024 },
      setmetatable(hello.limits, nil))
    assert.are.equal(3, out.before[4])
    local first = "this server requires a hello with a token first"
    for name, id in pairs({ request = 5, call = 6, notify = 0, stream = 0, wrong = 7, none = 8 }) do
      assert.are.equal(id, out[name][1][2], name)
      assert_error("unauthenticated", nil, out[name][1])
      assert.are.equal("closed", out[name][2], name)
    end
    assert_error("unauthenticated", "wrong token in the hello", out.again)
    assert.are.equal("closed", out.after)
    assert_closed_for(guarded:log_since(mark), {
      first, first, first, first, "wrong token in the hello", "wrong token in the hello",
      "this server requires a token in the hello",
    })
    peer.check_exit(guarded:stop(), 0)
  end)

  -- Last: it stops the shared server (busted runs a file's specs in order).
  it("stops cleanly after all that, with nothing from the sanitizers", function()
    peer.check_exit(server:stop(), 0)
  end)
end)
