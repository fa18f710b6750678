-- hilt.bus against `hilt hub` over hilt's wire, with owners and observers
-- in processes of their own: what a dying owner does to observers, the
-- replay after the hub restarts, client ids, idle timeouts and pings.
local hilt = require("hilt")
local busmod = require("hilt.bus")
local rpc = require("hilt.rpc")
local hubs = require("spec.support.hub")
local wait = require("spec.support.wait")

local FAST = { reconnect_delay = 0.05 }

local function fast(extra)
  local o = {}
  for k, v in pairs(FAST) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return err.message
end

local OWNER = [[
local hilt = require("hilt")
local bus = require("hilt.bus").connect(arg[1])
local oven = bus:state_register("/lab/oven", { set = function(v)
  return "asked " .. tostring(v) end })
oven:changed(180)
bus:action_register("/lab/double", function(x) return 2 * x end)
bus:prop_register("/lab/mode", { get = function() return "auto" end })
local bell = bus:event_register("/lab/bell")
print("ready")
io.stdout:flush()
bell:emit("ding")
hilt.sleep(math.huge)
]]

describe("hilt.bus over hilt hub", function()
  local hub
  before_each(function() hub = hubs.start() end)
  after_each(function() hub:remove() end)

  it("reaches actions, properties, events and states owned by another process", function()
    local b = busmod.connect(hub.addr.wire)
    local rings = b:listen("/lab/bell")
    local owner = hubs.script(hub, OWNER)
    assert.are.equal(180, b:get("/lab/oven"))
    assert.are.equal("asked 5", b:set("/lab/oven", 5))
    assert.are.equal(42, b:call("/lab/double", 21))
    assert.are.equal("auto", b:get("/lab/mode"))
    assert.are.equal("ding", rings())
    assert.are.equal("path_not_found", err_of(b.call, b, "/lab/nothing"))
    assert.are.equal("path_is_wrong_type", err_of(b.call, b, "/lab/oven"))
    assert.are.same({ "dir", { { "bell", "event" }, { "double", "action" },
      { "mode", "prop" }, { "oven", "state" } } }, b:call("/meta/ls", "/lab"))
    owner:kill("kill")
    owner:wait()
    owner:close()
    b:close()
  end)

  it("turns an owner's states Unknown for observers when its process is killed", function()
    local b = busmod.connect(hub.addr.wire)
    local owner = hubs.script(hub, OWNER)
    local seen = {}
    local first = b:observe("/lab/oven", function(v) seen[#seen + 1] = v end)
    assert.are.equal(180, first)
    owner:kill("kill")
    owner:wait()
    owner:close()
    assert.is_true(wait.poll(5, function() return #seen == 1 end))
    assert.are.equal(busmod.Unknown, seen[1])
    assert.are.equal("state_unknown", err_of(b.get, b, "/lab/oven"))
    assert.are.equal("path_not_found", err_of(b.call, b, "/lab/double", 1))
    b:close()
  end)

  it("replays registrations, last values and observations when the hub comes back", function()
    local owner = busmod.connect(hub.addr.wire, fast())
    local watcher = busmod.connect(hub.addr.wire, fast())
    local temp = owner:state_register("/lab/temp")
    temp:changed(20)
    owner:action_register("/lab/ping", function() return "pong" end)
    local values = watcher:observe("/lab/temp")
    assert.are.equal(20, values())
    hub:stop()
    assert.are.equal(busmod.Unknown, values())
    assert.is_false(watcher.connected)
    hub:restart()
    assert.are.equal(20, values())
    assert.is_true(owner:wait_connected(5))
    assert.are.equal("pong", watcher:call("/lab/ping"))
    temp:changed(21)
    assert.are.equal(21, values())
    owner:close()
    watcher:close()
  end)

  it("evicts an older connection with the same client id", function()
    local a = busmod.connect(hub.addr.wire, fast({ client_id = "bench-7" }))
    a:action_register("/lab/who", function() return "a" end)
    local other = busmod.connect(hub.addr.wire)
    assert.are.equal("a", other:call("/lab/who"))
    -- A second client with the id: the hub drops the first and all it held.
    local b = busmod.connect(hub.addr.wire, { client_id = "bench-7" })
    assert.is_true(b:wait_connected(5))
    assert.are.equal("bench-7", b:client_id())
    b:action_register("/lab/me", function() return "b" end)
    assert.are.equal("b", other:call("/lab/me"))
    assert.are.equal("path_not_found", err_of(other.call, other, "/lab/who"))
    -- The evicted client was told, and stays away rather than fight.
    assert.is_true(wait.poll(5, function() return not a.connected end))
    hilt.sleep(0.2)
    assert.are.equal("b", other:call("/lab/me"))
    assert.matches("evicted: replaced by a new connection", err_of(a.call, a, "/lab/me"))
    a:close()
    b:close()
    other:close()
  end)

  it("names the hub when it cannot be reached", function()
    local b = busmod.connect("unix://" .. hub.dir .. "/nothing.sock")
    local ok, err = pcall(b.call, b, "/lab/x")
    assert.is_false(ok)
    assert.are.equal("unavailable", err.code)
    assert.matches("nothing.sock", err.message)
    local up, why = b:wait_connected(0.2)
    assert.is_nil(up)
    assert.matches("no hub at", why)
    b:close()
  end)

  it("answers the ping and drops a client silent past its timeout", function()
    -- A raw wire client: hello with a 1 s timeout, then silence.
    local conn = rpc.connect(hub.addr.wire)
    assert.is_string(conn:call("bus/hello", nil, 1))
    assert.is_nil(conn:call("bus/ping"))
    local t0 = hilt.now()
    assert.is_true(wait.poll(5, function() return conn:status() == "closed" end))
    assert.is_true(hilt.now() - t0 >= 0.9)
    conn:close()
    -- A bus client pinging every 0.2 s stays.
    local b = busmod.connect(hub.addr.wire, fast({ idle_ping = 0.2, server_timeout = 1 }))
    b:observe("/lab/anything", function() end)
    local id = b:client_id()
    hilt.sleep(2.5)
    assert.is_true(b.connected)
    assert.are.equal(id, b:client_id())
    assert.is_true(wait.poll(5, function() return hub:log():find("silent for 1s") ~= nil end))
    b:close()
  end)

  it("refuses registrations before hello, as ESHET's hub", function()
    local conn = rpc.connect(hub.addr.wire)
    local ok, err = pcall(conn.call, conn, "bus/action_register", "/lab/x")
    assert.is_false(ok)
    assert.are.equal("unregistered", err.message)
    conn:close()
  end)
end)

describe("hilt.bus channels at hilt hub", function()
  it("creates channels, dispatches to one listener, broadcasts to all, listens and watches", function()
    local hub = hubs.start()
    local a = busmod.connect(hub.addr.wire)
    local b = busmod.connect(hub.addr.wire)
    local ch = a:channels():create()
    local one, two = ch:add_listener(), ch:add_listener()
    assert.are.same({ one, two }, ch:listeners())
    local same = b:channels():get(ch.id)
    assert.are.equal(1, same:dispatch(one, "job", { n = 1 }))
    same:broadcast("all", "hi")
    local got = {}
    for msg in ch:listen(one) do
      got[#got + 1] = msg.type
      if #got == 2 then break end
    end
    assert.are.same({ "job", "all" }, got)
    local first = ch:listen(two)()
    assert.are.same({ "all", "hi", 2 }, { first.type, first.payload, first.id })
    -- A watcher sees later broadcasts, and goes with its stream.
    local w, wid = b:channels():get(ch.id):watch()
    assert.is_string(wid)
    ch:broadcast("later", 3)
    assert.are.equal("later", w().type)
    w:close()
    assert.is_true(wait.poll(5, function() return #ch:listeners() == 2 end))
    local ok, err = pcall(b:channels().get, b:channels(), "nope")
    assert.is_false(ok)
    assert.matches("no channel 'nope'", tostring(err))
    a:channels():remove(ch.id)
    assert.are.same({}, b:channels():ids())
    a:close()
    b:close()
    hub:remove()
  end)
end)

describe("hilt.bus pings", function()
  it("drops a hub that does not answer a ping, and reconnects", function()
    local hellos = 0
    local srv = rpc.serve("tcp://127.0.0.1:0", { bus = {
      hello = function() hellos = hellos + 1 return "c" .. hellos end,
      state_observe = function() return { known = true, value = 1 } end,
      ping = function() hilt.sleep(math.huge) end,
    } })
    local b = busmod.connect(srv:address(), fast({ idle_ping = 0.1, ping_timeout = 0.2 }))
    local values = b:observe("/x")
    assert.are.equal(1, values())
    assert.are.equal(busmod.Unknown, values())
    assert.are.equal(1, values())
    assert.is_true(hellos >= 2)
    b:close()
    srv:close()
    hilt.sleep(0.05)
  end)
end)

describe("hilt.bus replaying", function()
  -- The replay waits on the hub; a notification that arrives meanwhile
  -- runs a callback that changes one of this client's states, before the
  -- client counts as connected. The hub must still hear of it, and the
  -- older answer to the observe must not follow the change.
  it("sends what changes while it replays to a new connection", function()
    local got, conns = {}, {}
    local srv = rpc.serve("tcp://127.0.0.1:0", { bus = {
      hello = function() return "c" end,
      state_register = function() end,
      state_changed = function(_, v) got[#got + 1] = v end,
      state_observe = function(path)
        local conn = rpc.caller()
        conns[#conns + 1] = conn
        if #conns > 1 then
          conn:notify("bus/state", path, true, 6)
          hilt.sleep(0.05)
        end
        return { known = true, value = #conns + 4 }
      end,
    } })
    local b = busmod.connect(srv:address(), FAST)
    local out = b:state_register("/out")
    out:changed(1)
    -- As a hilt.rx Value does, the callback acts only on a change.
    local last
    assert.are.equal(5, b:observe("/in", function(v)
      if v ~= busmod.Unknown and v ~= last then
        last = v
        out:changed(v * 10)
      end
    end))
    conns[1]:close()
    assert.is_true(wait.poll(2, function() return #conns == 2 end))
    assert.is_true(b:wait_connected(2))
    assert.is_true(wait.poll(2, function() return got[#got] == 60 end))
    assert.are.same({ 1, 1, 60 }, got)
    b:close()
    srv:close()
    hilt.sleep(0.05)
  end)
end)
