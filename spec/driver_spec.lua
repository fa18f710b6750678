-- Drivers and client trees in one process (hilt.serve over an in-memory
-- pair): driver classes and their options, what resolves, one call at a
-- time, lifecycle hooks, generators held back by a slow reader, client
-- classes and the generic client, and configs built from tables.
local hilt = require("hilt")
local driver = require("hilt.driver")
local client = require("hilt.client")
local luascan = require("hilt.luascan")

local n = 0
-- A fresh type name per spec, since classes register by name.
local function class(spec)
  n = n + 1
  return driver.class("spec.d" .. n, spec)
end

describe("a driver class", function()
  it("checks options: defaults, types, unknown names, required ones", function()
    local C = class({ options = {
      volts = { type = "number", default = 5 },
      name = { type = "string", required = true, doc = "what to call it" },
      count = { type = "integer", default = 1,
        check = function(v) return v > 0, "must be > 0" end },
    } })
    local d = C:new({ name = "x" })
    assert.are.same({ volts = 5, name = "x", count = 1 }, d.options)
    assert.has_error(function() C:new({ name = "x", vols = 3 }) end,
      "unknown option 'vols' for " .. C.type .. " (did you mean 'volts'?)")
    assert.has_error(function() C:new({ name = 3 }) end,
      "bad option 'name' for " .. C.type .. ": string expected, got integer")
    assert.has_error(function() C:new({}) end,
      "missing option 'name' for " .. C.type .. " (what to call it)")
    assert.has_error(function() C:new({ name = "x", count = 0 }) end,
      "bad option 'count' for " .. C.type .. ": must be > 0")
    assert.has_error(function() C:new({ name = "x", count = 1.5 }) end,
      "bad option 'count' for " .. C.type .. ": integer expected, got number")
  end)

  it("refuses member names a client tree needs for itself", function()
    local C = class()
    assert.has_error(function() C:export("labels", function() end) end,
      "call: 'labels' is reserved for the client tree; choose another name")
    assert.has_error(function() C:export("_hidden", function() end) end)
    assert.has_error(function() C:export("a.b", function() end) end)
    assert.has_error(function() C:export("ok") end, "call: 'ok' needs a function")
  end)

  it("describes its members for the report, sorted", function()
    local C = class()
    C:export("on", "Turn on.", function() end)
    C:export_generator("read", { doc = "Read.", args = { "n: how many", "x" } },
      function() end)
    C:export_stream("connect", function() end)
    assert.are.same({
      { name = "connect", kind = "stream", doc = "", args = {} },
      { name = "on", kind = "call", doc = "Turn on.", args = {} },
      { name = "read", kind = "generator", doc = "Read.",
        args = { { name = "n", doc = "how many" }, { name = "x", doc = "" } } },
    }, C:new():methods())
  end)
end)

describe("hilt.serve", function()
  it("serves a driver: only exported members resolve, errors fail one call", function()
    local C = class({ description = "test driver" })
    C:export("add", function(self, a, b) return a + b end)
    C:export("boom", function() error("it broke") end)
    function C:helper() return "local only" end
    local d = C:new()
    local lab = hilt.serve(d)
    assert.are.equal(5, lab:add(2, 3))
    local ok, err = pcall(lab.boom, lab)
    assert.is_false(ok)
    assert.are.equal("failed", err.code)
    assert.matches("it broke", err.message)
    assert.are.equal(7, lab:add(3, 4))
    ok, err = pcall(lab.call, lab, "helper")
    assert.are.equal("not_found", err.code)
    ok, err = pcall(lab.call, lab, "init")
    assert.are.equal("not_found", err.code)
    assert.are.equal("test driver", lab.description)
    assert.are.equal(d.uuid, lab.uuid)
    lab:close()
  end)

  it("runs calls into a serial driver one at a time, others at once", function()
    local function make(serial)
      local C = class({ serial = serial })
      C:export("work", function(self)
        self.running = (self.running or 0) + 1
        self.peak = math.max(self.peak or 0, self.running)
        hilt.sleep(0.02)
        self.running = self.running - 1
        return self.peak
      end)
      return C:new()
    end
    for _, serial in ipairs({ true, false }) do
      local d = make(serial)
      local lab = hilt.serve(d)
      local tasks = {}
      for i = 1, 5 do
        tasks[i] = hilt.spawn(function() return lab:work() end)
      end
      hilt.wait_all(tasks)
      assert.are.equal(serial and 1 or 5, d.peak)
      lab:close()
    end
  end)

  it("opens children before parents, closes in reverse, resets all", function()
    local events = {}
    local C = class()
    function C:open() events[#events + 1] = "open " .. self.path end
    function C:close() events[#events + 1] = "close " .. self.path end
    function C:reset() events[#events + 1] = "reset " .. self.path end
    local lab = hilt.serve({ type = C.type, children = {
      a = { type = C.type, children = { b = { type = C.type } } },
    } })
    assert.are.same({ "open a.b", "open a", "open " }, events)
    events = {}
    assert.is_true(lab:reset())
    assert.are.same({ "reset ", "reset a", "reset a.b" }, events)
    events = {}
    lab:close()
    assert.are.same({ "close ", "close a", "close a.b" }, events)
  end)

  it("refuses to start when a driver cannot open, closing those open", function()
    local closed = {}
    local Good, Bad = class(), class()
    function Good:close() closed[#closed + 1] = self.path end
    function Bad:open() error("no such device /dev/ttyUSB9") end
    local ok, err = pcall(hilt.serve, { children = {
      good = { type = Good.type }, bad = { type = Bad.type },
    } })
    assert.is_false(ok)
    assert.matches("cannot open bad %(" .. Bad.type:gsub("%.", "%%.")
      .. "%): .*no such device /dev/ttyUSB9", err.message)
    assert.are.same({ "good" }, closed)
  end)

  it("holds a generator back to the reader's pace", function()
    local C = class()
    local produced = 0
    C:export_generator("numbers", function(self, emit)
      for i = 1, 10000 do
        produced = i
        emit(i)
      end
    end)
    local lab = hilt.serve(C:new())
    local s = lab:numbers()
    for i = 1, 10 do
      assert.are.equal(i, s:recv())
      hilt.sleep(0.005)
    end
    -- The window is 64 items: the producer is at most that far ahead.
    assert.is_true(produced <= 10 + 64 + 1, "produced " .. produced)
    s:close()
    lab:close()
  end)

  it("gives drivers' own exports, such as shell's commands", function()
    local lab = hilt.serve({ children = { sh = { type = "shell", commands = {
      greet = "echo hello",
      fail = { cmd = "echo oops >&2; exit 3", description = "Fails" },
    } } } })
    local r = lab.sh:greet("world", "it's me")
    assert.are.same({ 0, "hello world it's me\n", "" }, { r.code, r.stdout, r.stderr })
    r = lab.sh:fail()
    assert.are.same({ 3, "oops\n" }, { r.code, r.stderr })
    local lines = {}
    for item in lab.sh:greet_lines() do lines[#lines + 1] = item end
    assert.are.same({ { stream = "stdout", line = "hello" } }, lines)
    assert.are.equal("hello\n", lab.sh:check("greet"))
    local ok, err = pcall(lab.sh.check, lab.sh, "fail")
    assert.is_false(ok)
    assert.matches("sh.fail exited 3: oops", err.message)
    lab:close()
  end)
end)

describe("a client tree", function()
  it("uses a driver's client class and falls back to the generic one", function()
    local lab = hilt.serve({ children = {
      power = { type = "power.sim" },
      odd = { type = class({ client = "no.such.client" }).type },
    } })
    -- power's class adds cycle(wait) and wait_state on top of the exports.
    lab.power:on()
    assert.is_true(lab.power:wait_state("on", 1))
    assert.are.equal("on", lab.power:cycle(0.01))
    assert.is_function(lab.odd.call)
    assert.matches("client odd", tostring(lab.odd))
    lab:close()
  end)

  it("takes client classes made in a script", function()
    local C = class({ client = "spec.counter" })
    C:export("get", function(self) self.n = (self.n or 0) + 1 return self.n end)
    local Counter = client.class("spec.counter")
    function Counter:twice() self:get() return self:get() end
    local lab = hilt.serve(C:new())
    assert.are.equal(2, lab:twice())
    assert.are.equal(3, lab:get())
    lab:close()
  end)

  it("shares a node between a ref and its target", function()
    local lab = hilt.serve({ children = {
      dut = { children = { power = { type = "power.sim" } } },
      power = { ref = "dut.power" },
      again = { ref = "power" },
    } })
    assert.are.equal(lab.dut.power, lab.power)
    assert.are.equal(lab.dut.power, lab.again)
    lab.power:on()
    assert.are.equal("on", lab.dut.power:state())
    assert.matches("dut.power %(power.sim%)", lab:help())
    lab:close()
  end)

  it("fails calls once closed", function()
    local lab = hilt.serve({ children = { power = { type = "power.sim" } } })
    lab:close()
    local ok, err = pcall(lab.power.on, lab.power)
    assert.is_false(ok)
    assert.are.equal("unavailable", err.code)
  end)
end)

describe("hilt.luascan", function()
  it("finds the lines of nested fields, named locals and positions", function()
    local fields, dups = luascan.scan([=[
local power = {
  type = "power.sim", -- a comment with { braces }
}
return {
  children = {
    power = power,
    list = { "a", [[long
string]], { x = 1 } },
    ["quoted key"] = { y = 2 },
  },
}
]=])
    assert.are.same({}, dups)
    assert.are.equal(2, luascan.find(fields, { "children", "power", "type" }))
    assert.are.equal(6, luascan.find(fields, { "children", "power" }))
    assert.are.equal(8, luascan.find(fields, { "children", "list", 3, "x" }))
    assert.are.equal(9, luascan.find(fields, { "children", "quoted key", "y" }))
    assert.is_nil(luascan.find(fields, { "nowhere" }))
  end)

  it("reports keys given twice in one table", function()
    local _, dups = luascan.scan('return { a = 1,\n b = { a = 2 },\n a = 3 }')
    assert.are.equal(1, #dups)
    assert.are.same({ path = { "a" }, line = 3, first = 1 }, dups[1])
  end)
end)

describe("hilt.connect", function()
  it("refuses a report that is not a driver tree, saying why", function()
    local rpc = require("hilt.rpc")
    local reports = {
      { 42, "no nodes" },
      { { nodes = { { uuid = 1, path = "", name = "" } } }, "uuid, path and name must be strings" },
      { { nodes = { { uuid = "r", path = "", name = "" },
                    { uuid = "c", path = "x", name = "x", parent = "nope" } } },
        "node 2: its parent is not listed before it" },
      { { nodes = { { uuid = "r", path = "", name = "", methods = { { name = "x y", kind = "call" } } } } },
        "a method needs a name and a kind" },
    }
    local dir = os.tmpname()
    os.remove(dir)
    for _, case in ipairs(reports) do
      local srv = rpc.serve("unix://" .. dir, { ["hilt.report"] = function() return case[1] end })
      local ok, err = pcall(hilt.connect, "unix://" .. dir)
      srv:close()
      assert.is_false(ok)
      assert.are.equal("protocol", err.code)
      assert.matches(case[2], err.message, 1, true)
      hilt.sleep(0.02)
    end
  end)
end)
