-- `hilt hub --eshet` against ESHET clients whose frames are built here from
-- the protocol's table (seed-semantics §1.1) with string.pack: every
-- message type, the hub's errors, and bad input that closes only the
-- connection it came on.
local hilt = require("hilt")
local net = require("hilt.net")
local msgpack = require("hilt.msgpack")
local busmod = require("hilt.bus")
local hubs = require("spec.support.hub")
local wait = require("spec.support.wait")

local mp = msgpack.pack

local function frame(payload)
  return string.pack(">BI2", 0x47, #payload) .. payload
end

-- Client-to-hub messages, by the table.
local C = {
  hello = function(timeout) return frame(string.pack(">BBI2", 0x01, 1, timeout or 0)) end,
  hello_id = function(id, timeout, version)
    return frame(string.pack(">BBI2", 0x02, version or 1, timeout or 0) .. mp(id))
  end,
  reply = function(id, v) return frame(string.pack(">BI2", 0x05, id) .. mp(v)) end,
  reply_error = function(id, v) return frame(string.pack(">BI2", 0x06, id) .. mp(v)) end,
  ping = function(id) return frame(string.pack(">BI2", 0x09, id)) end,
  action_register = function(id, p) return frame(string.pack(">BI2z", 0x10, id, p)) end,
  action_call = function(id, p, args)
    return frame(string.pack(">BI2z", 0x11, id, p) .. mp(msgpack.array(args)))
  end,
  prop_register = function(id, p) return frame(string.pack(">BI2z", 0x20, id, p)) end,
  get = function(id, p) return frame(string.pack(">BI2z", 0x23, id, p)) end,
  set = function(id, p, v) return frame(string.pack(">BI2z", 0x24, id, p) .. mp(v)) end,
  event_register = function(id, p) return frame(string.pack(">BI2z", 0x30, id, p)) end,
  event_emit = function(id, p, v) return frame(string.pack(">BI2z", 0x31, id, p) .. mp(v)) end,
  event_listen = function(id, p) return frame(string.pack(">BI2z", 0x32, id, p)) end,
  state_register = function(id, p) return frame(string.pack(">BI2z", 0x40, id, p)) end,
  state_changed = function(id, p, v) return frame(string.pack(">BI2z", 0x41, id, p) .. mp(v)) end,
  state_unknown = function(id, p) return frame(string.pack(">BI2z", 0x42, id, p)) end,
  state_observe = function(id, p) return frame(string.pack(">BI2z", 0x43, id, p)) end,
  state_observe_t = function(id, p) return frame(string.pack(">BI2z", 0x46, id, p)) end,
}

local function value_at(payload, pos)
  if pos > #payload then return nil end
  return (msgpack.unpack(payload, pos, { binary = "string" }))
end

-- Hub-to-client messages, parsed by the table.
local function parse(payload)
  local t = payload:byte(1)
  local m = { t = t }
  if t == 0x03 then
  elseif t == 0x04 then
    m.value = value_at(payload, 2)
  elseif t == 0x05 or t == 0x06 or t == 0x07 then
    m.id = string.unpack(">I2", payload, 2)
    m.value = value_at(payload, 4)
  elseif t == 0x08 then
    m.id = string.unpack(">I2", payload, 2)
  elseif t == 0x0a or t == 0x0b then
    m.id, m.ms = string.unpack(">I2I4", payload, 2)
    m.value = value_at(payload, 8)
  elseif t == 0x33 or t == 0x44 or t == 0x45 then
    local pos
    m.path, pos = string.unpack("z", payload, 2)
    m.value = value_at(payload, pos)
  else -- 0x11, 0x21, 0x22, 0x47: requests to an owner
    local pos
    m.id, m.path, pos = string.unpack(">I2z", payload, 2)
    m.value = value_at(payload, pos)
  end
  return m
end

local Client = {}
Client.__index = Client

local function client(addr)
  return setmetatable({ s = net.connect(addr), buf = "" }, Client)
end

function Client:send(bytes)
  self.s:write(bytes)
end

-- The next message from the hub, or nil when it closed the connection.
function Client:recv()
  while true do
    if #self.buf >= 3 then
      assert(self.buf:byte(1) == 0x47, "bad sync byte from the hub")
      local n = string.unpack(">I2", self.buf, 2)
      if #self.buf >= 3 + n then
        local payload = self.buf:sub(4, 3 + n)
        self.buf = self.buf:sub(4 + n)
        return parse(payload)
      end
    end
    local bytes = hilt.timeout(5, self.s.read, self.s)
    if bytes == nil then
      return nil
    end
    self.buf = self.buf .. bytes
  end
end

-- Sends a request and returns the hub's answer to it.
function Client:ask(bytes)
  self:send(bytes)
  return self:recv()
end

function Client:close()
  self.s:close()
end

local function hello(addr, id)
  local c = client(addr)
  local m = c:ask(id and C.hello_id(id, 30) or C.hello(30))
  assert.are.equal(id and 0x03 or 0x04, m.t)
  return c, m
end

describe("hilt hub --eshet", function()
  local hub, addr
  before_each(function()
    hub = hubs.start({ "--eshet", "tcp://127.0.0.1:0" })
    addr = hub.addr.eshet
  end)
  after_each(function() hub:remove() end)

  it("says hello with a new id or the client's own, and answers pings", function()
    local c, m = hello(addr)
    assert.is_string(m.value)
    assert.are.same({ t = 0x05, id = 7 }, c:ask(C.ping(7)))
    local d = hello(addr, "mac-0011")
    assert.are.same({ t = 0x05, id = 65535 }, d:ask(C.ping(65535)))
    c:close()
    d:close()
  end)

  it("forwards action calls to the owner and its replies, values or errors, unchanged", function()
    local owner = hello(addr, "owner")
    local caller = hello(addr, "caller")
    assert.are.same({ t = 0x05, id = 1 }, owner:ask(C.action_register(1, "/lab/add")))
    caller:send(C.action_call(9, "/lab/add", { 2, 3 }))
    local req = owner:recv()
    assert.are.equal(0x11, req.t)
    assert.are.equal("/lab/add", req.path)
    assert.are.same({ 2, 3 }, { req.value[1], req.value[2] })
    owner:send(C.reply(req.id, 5))
    assert.are.same({ t = 0x05, id = 9, value = 5 }, caller:recv())
    caller:send(C.action_call(10, "/lab/add", {}))
    req = owner:recv()
    owner:send(C.reply_error(req.id, { why = "no arguments" }))
    local m = caller:recv()
    assert.are.equal(0x06, m.t)
    assert.are.equal("no arguments", m.value.why)
    -- The hub's own errors.
    assert.are.same({ t = 0x06, id = 11, value = "path_not_found" },
      caller:ask(C.action_call(11, "/lab/nothing", {})))
    assert.are.same({ t = 0x06, id = 12, value = "path_already_exists" },
      caller:ask(C.action_register(12, "/lab/add")))
    assert.are.same({ t = 0x06, id = 13, value = "invalid_path" },
      caller:ask(C.action_register(13, "lab/x")))
    -- The owner goes mid-call: the caller gets client_exited.
    caller:send(C.action_call(14, "/lab/add", { 1 }))
    assert.are.equal(0x11, owner:recv().t)
    owner:close()
    assert.are.same({ t = 0x06, id = 14, value = "client_exited" }, caller:recv())
    assert.are.same({ t = 0x06, id = 15, value = "path_not_found" },
      caller:ask(C.action_call(15, "/lab/add", { 1 })))
    caller:close()
  end)

  it("gets and sets properties through their owner", function()
    local owner = hello(addr, "owner")
    local c = hello(addr, "c")
    assert.are.equal(0x05, owner:ask(C.prop_register(1, "/lab/volume")).t)
    c:send(C.get(2, "/lab/volume"))
    local req = owner:recv()
    assert.are.same({ t = 0x21, id = req.id, path = "/lab/volume" }, req)
    owner:send(C.reply(req.id, 3))
    assert.are.same({ t = 0x05, id = 2, value = 3 }, c:recv())
    c:send(C.set(3, "/lab/volume", 11))
    req = owner:recv()
    assert.are.same({ t = 0x22, id = req.id, path = "/lab/volume", value = 11 }, req)
    owner:send(C.reply(req.id, 10))
    assert.are.same({ t = 0x05, id = 3, value = 10 }, c:recv())
    owner:close()
    c:close()
  end)

  it("notifies listeners of events, listening before the owner exists", function()
    local l = hello(addr, "listener")
    local owner = hello(addr, "owner")
    assert.are.equal(0x05, l:ask(C.event_listen(1, "/lab/bell")).t)
    assert.are.equal(0x05, owner:ask(C.event_register(1, "/lab/bell")).t)
    assert.are.same({ t = 0x05, id = 2 }, owner:ask(C.event_emit(2, "/lab/bell", "ding")))
    assert.are.same({ t = 0x33, path = "/lab/bell", value = "ding" }, l:recv())
    l:close()
    owner:close()
  end)

  it("keeps states: observe, changes, Unknown, get from the hub, set to the owner", function()
    local obs = hello(addr, "observer")
    local owner = hello(addr, "owner")
    assert.are.same({ t = 0x08, id = 1 }, obs:ask(C.state_observe(1, "/lab/temp")))
    assert.are.equal(0x05, owner:ask(C.state_register(1, "/lab/temp")).t)
    assert.are.equal(0x05, owner:ask(C.state_changed(2, "/lab/temp", 20.5)).t)
    assert.are.same({ t = 0x44, path = "/lab/temp", value = 20.5 }, obs:recv())
    -- The same value again is notified again: the hub does not de-duplicate.
    owner:ask(C.state_changed(3, "/lab/temp", 20.5))
    assert.are.same({ t = 0x44, path = "/lab/temp", value = 20.5 }, obs:recv())
    assert.are.same({ t = 0x05, id = 2, value = 20.5 }, obs:ask(C.get(2, "/lab/temp")))
    local m = obs:ask(C.state_observe_t(3, "/lab/temp"))
    assert.are.equal(0x0a, m.t)
    assert.are.equal(20.5, m.value)
    assert.is_true(m.ms >= 0 and m.ms < 5000)
    obs:send(C.set(4, "/lab/temp", 30))
    local req = owner:recv()
    assert.are.same({ t = 0x47, id = req.id, path = "/lab/temp", value = 30 }, req)
    owner:send(C.reply(req.id, "heating"))
    assert.are.same({ t = 0x05, id = 4, value = "heating" }, obs:recv())
    owner:ask(C.state_unknown(4, "/lab/temp"))
    assert.are.same({ t = 0x45, path = "/lab/temp" }, obs:recv())
    assert.are.same({ t = 0x06, id = 5, value = "state_unknown" }, obs:ask(C.get(5, "/lab/temp")))
    assert.are.equal(0x0b, obs:ask(C.state_observe_t(6, "/lab/temp")).t)
    -- Only the owner reports; a second owner is refused.
    assert.are.same({ t = 0x06, id = 7, value = "not_owner" },
      obs:ask(C.state_changed(7, "/lab/temp", 1)))
    assert.are.same({ t = 0x06, id = 8, value = "path_already_exists" },
      obs:ask(C.state_register(8, "/lab/temp")))
    -- The owner goes while the state is known: observers get Unknown.
    owner:ask(C.state_changed(5, "/lab/temp", 21))
    assert.are.equal(0x44, obs:recv().t)
    owner:close()
    assert.are.same({ t = 0x45, path = "/lab/temp" }, obs:recv())
    assert.are.same({ t = 0x06, id = 9, value = "no_owner" }, obs:ask(C.set(9, "/lab/temp", 1)))
    obs:close()
  end)

  it("refuses registrations before hello, and evicts a connection whose id comes again", function()
    local c = client(addr)
    assert.are.same({ t = 0x06, id = 1, value = "unregistered" },
      c:ask(C.action_register(1, "/lab/x")))
    assert.are.equal(0x03, c:ask(C.hello_id("board-1", 30)).t)
    assert.are.equal(0x05, c:ask(C.action_register(2, "/lab/x")).t)
    local again = hello(addr, "board-1")
    assert.is_nil(c:recv())
    assert.are.equal(0x05, again:ask(C.action_register(1, "/lab/x")).t)
    c:close()
    again:close()
  end)

  it("works with hilt.bus clients on hilt's wire", function()
    local b = busmod.connect(hub.addr.wire)
    local oven = b:state_register("/lab/oven")
    b:action_register("/lab/greet", function(name) return "hello " .. name end)
    local e = hello(addr, "esp32")
    assert.are.same({ t = 0x08, id = 1 }, e:ask(C.state_observe(1, "/lab/oven")))
    oven:changed({ temp = 180 })
    assert.are.same({ t = 0x44, path = "/lab/oven", value = { temp = 180 } }, e:recv())
    assert.are.same({ t = 0x05, id = 2, value = "hello esp" },
      e:ask(C.action_call(2, "/lab/greet", { "esp" })))
    assert.are.equal(0x05, e:ask(C.state_register(3, "/lab/door")).t)
    e:ask(C.state_changed(4, "/lab/door", "open"))
    assert.are.equal("open", b:get("/lab/door"))
    local seen = {}
    b:observe("/lab/door", function(v) seen[#seen + 1] = v end)
    e:close()
    assert.is_true(wait.poll(5, function() return #seen == 1 end))
    assert.are.equal(busmod.Unknown, seen[1])
    b:close()
  end)

  it("closes only the connection that sends bad input", function()
    local good = hello(addr, "good")
    local cases = {
      { "a bad sync byte", "\x48\x00\x01\x09" },
      { "an unknown type", frame("\x0c\x00\x01") },
      { "a path without its NUL", frame("\x10\x00\x01/lab") },
      { "a value that is not msgpack", frame(string.pack(">BI2z", 0x31, 1, "/a") .. "\xc1") },
      { "bytes after the value", frame(string.pack(">BI2z", 0x31, 1, "/a") .. mp(1) .. "x") },
      { "a reply to nothing", C.reply(99, true) },
      { "a message only the hub sends", frame(string.pack(">BI2z", 0x47, 1, "/a") .. mp(1)) },
      { "hello of version 0", C.hello_id("v0", 30, 0) },
      { "an empty frame", "\x47\x00\x00" },
    }
    for _, case in ipairs(cases) do
      local bad = client(addr)
      if case[1] ~= "hello of version 0" then
        assert.are.equal(0x03, bad:ask(C.hello_id("bad", 30)).t)
      end
      bad:send(case[2])
      assert.is_nil(bad:recv(), case[1])
      bad:close()
      assert.are.equal(0x05, good:ask(C.ping(1)).t, case[1])
    end
    -- The largest frame there is (65535 bytes of payload) is taken.
    local big = string.rep("x", 65535 - 1 - 2 - 3 - 3)
    local payload = string.pack(">BI2z", 0x31, 2, "/lab/a") .. mp(big:sub(5))
    assert.are.equal(65535, #payload)
    assert.are.same({ t = 0x06, id = 2, value = "path_not_found" }, good:ask(frame(payload)))
    -- The hub's log is written when its loop next waits: poll for it.
    assert.is_true(wait.poll(5, function() return hub:log():find("bad sync byte") ~= nil end))
    assert.is_true(wait.poll(5, function() return hub:log():find("a reply to id 99") ~= nil end))
    good:close()
  end)

  it("drops a client silent past the timeout of its hello", function()
    local c = client(addr)
    assert.are.equal(0x04, c:ask(C.hello(1)).t)
    local t0 = hilt.now()
    assert.is_nil(c:recv())
    assert.is_true(hilt.now() - t0 >= 0.9)
    assert.is_true(wait.poll(5, function() return hub:log():find("silent for 1s") ~= nil end))
    c:close()
  end)
end)
