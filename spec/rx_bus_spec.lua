-- hilt.rx's bus bridges: on the embedded hub, and against a `hilt hub`
-- process with an owner in another process, through a hub restart.
local hilt = require("hilt")
local rx = require("hilt.rx")
local busmod = require("hilt.bus")
local hubs = require("spec.support.hub")
local wait = require("spec.support.wait")

local function drain()
  for _ = 1, 20 do hilt.yield() end
end

describe("hilt.rx bridges", function()
  after_each(function()
    rx.close_all()
    rx.use_bus(nil)
  end)

  it("observes states as Values and listens to events as Events", function()
    local bus = busmod.connect()
    local st = bus:state_register("/rx/temp")
    local temp = rx.observe("/rx/temp", { bus = bus })
    -- Unknown while unknown: never NoValue.
    assert.are.equal(rx.Unknown, temp.value)
    st:changed(21)
    assert.is_true(wait.poll(1, function() return temp.value == 21 end))
    st:unknown()
    assert.is_true(wait.poll(1, function() return temp.value == rx.Unknown end))
    local ev = bus:event_register("/rx/bell")
    local rings = {}
    rx.listen("/rx/bell", { bus = bus }):on_event(function(v) rings[#rings + 1] = v end)
    ev:emit("ding")
    ev:emit("dong")
    assert.is_true(wait.poll(1, function() return #rings == 2 end))
    assert.are.same({ "ding", "dong" }, rings)
    bus:close()
  end)

  it("calls an action whenever the inputs change, never with NoValue or Unknown", function()
    local bus = busmod.connect()
    rx.use_bus(bus)
    local calls = {}
    bus:action_register("/rx/heater", function(on, level)
      calls[#calls + 1] = tostring(on) .. ":" .. tostring(level.watts)
    end)
    local on = rx.value()
    local level = rx.value({ watts = rx.Unknown })
    local rule = rx.call("/rx/heater", on, level)
    assert.are.equal(1, rx.rules())
    on.value = true
    level.value = { watts = 500 }
    on.value = false
    drain()
    assert.are.same({ "true:500", "false:500" }, calls)
    rule:close()
    on.value = true
    drain()
    assert.are.equal(2, #calls)
    assert.are.equal(0, rx.rules())
    bus:close()
  end)

  it("calls an action once per emission when an input is an Event", function()
    local bus = busmod.connect()
    local got = {}
    bus:action_register("/rx/log", function(msg, n) got[#got + 1] = msg .. n end)
    local e = rx.event()
    local n = rx.value(1)
    rx.call_with({ bus = bus, strategy = rx.serially() }, "/rx/log", e, n)
    drain()
    assert.are.same({}, got)  -- no emission yet
    e:emit("a")
    n.value = 2
    e:emit("b")
    drain()
    assert.are.same({ "a1", "b2" }, got)
    rx.close_all()
    bus:close()
  end)

  it("registers Values as states, settable or with a set callback", function()
    local bus = busmod.connect()
    rx.use_bus(bus)
    local mode = rx.value("auto")
    rx.state_register("/rx/mode", mode, { settable = true })
    local seen = bus:observe("/rx/mode")
    assert.are.equal("auto", seen())
    mode.value = "manual"
    assert.are.equal("manual", seen())
    mode.value = rx.NoValue
    assert.are.equal(rx.Unknown, seen())
    bus:set("/rx/mode", "eco")
    assert.are.equal("eco", mode.value)
    assert.are.equal("eco", seen())
    local target = rx.value(20)
    local _, asked = rx.state_register_set_event("/rx/target", target)
    local requests = {}
    asked:on_event(function(v) requests[#requests + 1] = v end)
    bus:set("/rx/target", 25)
    assert.are.same({ 25 }, requests)
    assert.are.equal(20, target.value)
    rx.close_all()
    bus:close()
  end)

  it("registers Events and sets states and properties from rules", function()
    local bus = busmod.connect()
    rx.use_bus(bus)
    local e = rx.event()
    rx.event_register("/rx/alarm", e)
    local heard = bus:listen("/rx/alarm")
    e:emit("hot")
    e:emit("very hot")
    assert.are.equal("hot", heard())
    assert.are.equal("very hot", heard())
    local asked = {}
    bus:prop_register("/rx/fan", { get = function() return 0 end,
      set = function(v) asked[#asked + 1] = v end })
    local speed = rx.value(rx.Unknown)
    rx.set("/rx/fan", rx.fn(function(s)
      if s == rx.Unknown then return s end
      return s * 10
    end, speed))
    speed.value = 3
    speed.value = 5
    drain()
    assert.are.same({ 30, 50 }, asked)
    rx.close_all()
    bus:close()
  end)

  it("keeps a rules file running while it has rules", function()
    local proc = require("spec.support.proc")
    local r = proc.run({ "-e", [[
      local hilt = require("hilt")
      local rx = hilt.rx
      local tick = rx.value(0)
      local rule = rx.call("/x/tock", tick)
      hilt.bus.connect():action_register("/x/tock", function(n)
        print("tock " .. n)
        if n == 2 then rule:close() end
      end)
      hilt.spawn(function()
        for i = 1, 2 do hilt.sleep(0.02) tick.value = i end
      end)
    ]] })
    assert.are.equal(0, r.code, r.err)
    assert.matches("tock 0\ntock 1\ntock 2\n", r.out)
  end)

  describe("against hilt hub", function()
    local hub
    before_each(function() hub = hubs.start() end)
    after_each(function() hub:remove() end)

    local OWNER = [[
local hilt = require("hilt")
local bus = require("hilt.bus").connect(arg[1], { reconnect_delay = 0.05 })
local temp = bus:state_register("/lab/oven/temp")
temp:changed(20)
local cut = bus:state_register("/lab/oven/power")
cut:changed("on")
bus:action_register("/lab/oven/cut", function()
  cut:changed("off")
  return "cut"
end)
bus:action_register("/lab/oven/heat", function(t) temp:changed(t) end)
print("ready")
io.stdout:flush()
hilt.sleep(math.huge)
]]

    -- The oven's rule, through a hub restart.
    local function rule_through_restart(bus)
      rx.use_bus(bus)
      local temp = rx.observe("/lab/oven/temp")
      assert.are.equal(20, temp.value)
      local too_hot = rx.no_repeat(rx.fn(function(t)
        return t ~= rx.Unknown and t > 250
      end, temp))
      -- Cut the power when too hot; and publish the verdict as a state.
      rx.call("/lab/oven/cut", rx.filter(rx.value_to_event(too_hot),
        function(hot) return hot end))
      rx.state_register("/lab/oven/too_hot", too_hot)
      local power = bus:observe("/lab/oven/power")
      assert.are.equal("on", power())
      bus:call("/lab/oven/heat", 300)
      assert.are.equal("off", power())
      assert.is_true(wait.poll(5, function() return bus:get("/lab/oven/too_hot") == true end))
      -- The hub restarts: the Value goes Unknown, then comes back, and the
      -- registered state is there again.
      hub:stop()
      assert.is_true(wait.poll(5, function() return temp.value == rx.Unknown end))
      hub:restart()
      assert.is_true(bus:wait_connected(5))
      assert.is_true(wait.poll(5, function() return temp.value == 300 end))
      assert.is_true(wait.poll(5, function()
        local ok, v = pcall(bus.get, bus, "/lab/oven/too_hot")
        return ok and v == true
      end))
    end

    it("runs a rule across processes and through a hub restart", function()
      local owner = hubs.script(hub, OWNER)
      local bus = busmod.connect(hub.addr.wire, { reconnect_delay = 0.05 })
      -- Cleaned up even when an assertion fails, so that nothing of this
      -- spec outlives it to fail the next ones.
      local ok, err = pcall(rule_through_restart, bus)
      rx.close_all()
      pcall(owner.kill, owner, "kill")
      owner:wait()
      owner:close()
      bus:close()
      if not ok then
        error(err, 0)
      end
    end)
  end)
end)
