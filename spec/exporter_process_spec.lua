-- `hilt serve` as its own process, driven the way users drive it: through
-- hilt.connect's client tree and through `hilt ls` and `hilt call`. Calls,
-- generators, byte streams, errors, a TCP service reached through net.tcp
-- and forward, the exporter killed and restarted, SIGTERM mid-call, the
-- log stream, and configs that are wrong.
local hilt = require("hilt")
local net = require("hilt.net")
local exporter = require("spec.support.exporter")

-- A driver defined in the config itself, next to shipped ones.
local CONFIG = [[
local hilt = require("hilt")
local driver = require("hilt.driver")

local Probe = driver.class("spec.probe", {
  description = "A driver for the specs",
  options = { marker = { type = "string", doc = "file written on close" } },
})
Probe:export("echo", { doc = "Returns its arguments.", args = { "...: anything" } },
  function(self, ...) return { ... } end)
Probe:export("fail", "Raises.", function(self, msg) error(msg or "probe failed") end)
Probe:export("wait", "Sleeps.", function(self, s) hilt.sleep(s) return "woke" end)
Probe:export_generator("count", "Counts to n.", function(self, emit, n)
  for i = 1, n do emit(i) end
  return n
end)
Probe:export_stream("upper", "Upper-cases bytes.", function(self, s)
  while true do
    local d = s:read()
    if not d then break end
    s:write(d:upper())
  end
  s:close_write()
end)
function Probe:secret() return "never exported" end
function Probe:close()
  if self.options.marker then
    local f = io.open(self.options.marker, "w")
    f:write("closed")
    f:close()
  end
end

return {
  labels = { lab = "spec" },
  children = {
    dut = { type = "composite", labels = { board = "b1" }, children = {
      power = { type = "power.sim", voltage = 3.3 },
      probe = { type = "spec.probe", marker = MARKER },
    } },
    svc = { type = "net.tcp", port = PORT },
    probe = { ref = "dut.probe" },
  },
}
]]

local function config(marker, port)
  return (CONFIG:gsub("MARKER", ("%q"):format(marker)):gsub("PORT", tostring(port)))
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local s = f:read("a")
  f:close()
  return s
end

local read_all = require("spec.support.bytes").read_all

-- An echo service in this process for net.tcp to reach.
local function echo_service()
  local svc = { conns = 0, streams = {} }
  svc.listener = net.listen("tcp://127.0.0.1:0", function(s)
    svc.conns = svc.conns + 1
    svc.streams[#svc.streams + 1] = s
    for data in function() return s:read() end do
      s:write(data)
    end
    s:shutdown()
  end)
  svc.port = tonumber(svc.listener:address():match(":(%d+)$"))
  function svc.close()
    svc.listener:close()
    for _, s in ipairs(svc.streams) do s:close() end
  end
  return svc
end

describe("hilt serve", function()
  local exp, svc, marker

  before_each(function()
    svc = echo_service()
    marker = os.tmpname()
    os.remove(marker)
    exp = exporter.start(config(marker, svc.port))
  end)

  after_each(function()
    exp:remove()
    svc.close()
    os.remove(marker)
    hilt.sleep(0.05)
  end)

  it("serves its tree to hilt.connect: calls, items, bytes, labels", function()
    local lab = hilt.connect(exp.addr)
    assert.are.equal("on", lab.dut.power:on())
    assert.are.equal("on", lab.dut.power:state())
    assert.are.same({ 1, "two", { 3 } }, lab.dut.probe:echo(1, "two", { 3 }))
    local items = {}
    for i in lab.probe:count(5) do items[#items + 1] = i end
    assert.are.same({ 1, 2, 3, 4, 5 }, items)
    local s = lab.probe:upper()
    s:write("hello ")
    s:write("world")
    s:close_write()
    assert.are.equal("HELLO WORLD", read_all(s))
    s:close()

    assert.are.equal(lab.dut.probe, lab.probe)
    assert.are.equal("spec", lab.labels.lab)
    assert.are.equal("b1", lab.dut.labels.board)
    assert.are.equal("Simulated power supply", lab.dut.power.description)
    assert.matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$", lab.dut.power.uuid)
    assert.are.equal("power.sim", lab.dut.power.type)
    local echo
    for _, m in ipairs(lab.dut.probe.methods) do
      if m.name == "echo" then echo = m end
    end
    assert.are.equal("Returns its arguments.", echo.doc)
    assert.are.equal("...", echo.args[1].name)
    lab:close()
    hilt.sleep(0.05)
    assert.matches("call dut.probe.echo ok [%d.]+ ms trace=#%d+", exp:log())
  end)

  it("fails a call whose driver raises, and only that call", function()
    local lab = hilt.connect(exp.addr)
    local ok, err = pcall(lab.probe.fail, lab.probe, "the relay is stuck")
    assert.is_false(ok)
    assert.are.equal("failed", err.code)
    assert.matches("the relay is stuck", err.message)
    assert.matches("lab.lua:%d+", err.traceback)
    assert.are.same({ "still here" }, lab.probe:echo("still here"))
    -- Plain methods of a driver never resolve from the wire.
    ok, err = pcall(lab.probe.call, lab.probe, "secret")
    assert.is_false(ok)
    assert.are.equal("not_found", err.code)
    lab:close()
    hilt.sleep(0.05)
    assert.matches("call dut.probe.fail failed [%d.]+ ms trace=#%d+: [^\n]*the relay is stuck",
      exp:log())
  end)

  it("is listed by hilt ls", function()
    local r = exporter.cli({ "ls", exp.addr })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("exporter lab at unix://", r.stdout)
    assert.matches("\n  dut %(composite%)  {board=b1}", r.stdout)
    assert.matches("\n    power %(power.sim%)  Simulated power supply", r.stdout)
    assert.matches("echo%(...%) +Returns its arguments%.", r.stdout)
    assert.matches("count%(%) %[items%] +Counts to n%.", r.stdout)
    assert.matches("upper%(%) %[bytes%] +Upper%-cases bytes%.", r.stdout)
    assert.matches("\n  probe %-> dut%.probe", r.stdout)
    assert.is_nil(r.stdout:find("secret", 1, true))
  end)

  it("is called by hilt call, whose exit status tells the outcome", function()
    local r = exporter.cli({ "call", exp.addr, "dut.power.on" })
    assert.are.same({ 0, "on\n" }, { r.code, r.stdout })
    r = exporter.cli({ "call", exp.addr, "probe/echo", "1", '"x y"', "{a=1}", "word" })
    assert.are.same({ 0, '{ 1, "x y", { a = 1 }, "word" }\n' }, { r.code, r.stdout })
    r = exporter.cli({ "call", exp.addr, "probe.count", "3" })
    assert.are.same({ 0, "1\n2\n3\n" }, { r.code, r.stdout })
    r = exporter.cli({ "call", exp.addr, "probe.upper" }, { input = "bytes both ways\n" })
    assert.are.same({ 0, "BYTES BOTH WAYS\n" }, { r.code, r.stdout })

    r = exporter.cli({ "call", exp.addr, "probe.fail", "no luck" })
    assert.are.equal(1, r.code)
    assert.matches("hilt call: probe.fail: .*no luck.*%(failed%)", r.stderr)
    r = exporter.cli({ "call", exp.addr, "probe.nosuch" })
    assert.are.equal(2, r.code)
    assert.matches("dut.probe has no method 'nosuch' %(methods: count, echo, fail, upper, wait%)",
      r.stderr)
    r = exporter.cli({ "call", exp.addr, "board.power.on" })
    assert.are.equal(2, r.code)
    assert.matches("no node 'board' at the top %(children there: dut, probe, svc%)", r.stderr)
    r = exporter.cli({ "call", "unix://" .. exp.dir .. "/none.sock", "dut.power.on" })
    assert.are.equal(3, r.code)
    assert.matches("cannot connect to unix://.*none%.sock", r.stderr)
    r = exporter.cli({ "call", exp.addr })
    assert.are.equal(2, r.code)
    assert.matches("usage: hilt call", r.stderr)
  end)

  it("reaches a TCP service through net.tcp and forward, bytes intact", function()
    local lab = hilt.connect(exp.addr)
    assert.are.equal("tcp://127.0.0.1:" .. svc.port, lab.svc:target())
    local fwd = lab.svc:forward()
    local chunks = {}
    for i = 1, 256 do
      chunks[i] = ("%04d"):format(i):rep(1024)  -- 4 KiB, numbered
    end
    local data = table.concat(chunks)  -- 1 MiB
    local results = {}
    local tasks = {}
    for c = 1, 3 do
      tasks[c] = hilt.spawn(function()
        local s <close> = net.connect(fwd:address())
        local writer = hilt.spawn(function()
          for i = 1, #data, 65536 do
            s:write(data:sub(i, i + 65535))
          end
          s:shutdown()
        end)
        results[c] = read_all(s)
        writer:join()
      end)
    end
    hilt.wait_all(tasks)
    for c = 1, 3 do
      assert.are.equal(#data, #results[c])
      assert.is_true(results[c] == data, "bytes differ on connection " .. c)
    end
    assert.are.equal(3, svc.conns)
    fwd:close()
    lab:close()
  end)

  it("fails calls in flight unavailable when killed; the next call reconnects", function()
    local lab = hilt.connect(exp.addr)
    assert.are.equal("off", lab.dut.power:state())
    local pending = hilt.spawn(function() return pcall(lab.probe.wait, lab.probe, 30) end)
    hilt.sleep(0.1)
    local t0 = hilt.now()
    exp:stop("kill")
    local ok, err = pending:join()
    assert.is_false(ok)
    assert.are.equal("unavailable", err.code)
    assert.is_true(hilt.now() - t0 < 2)

    ok, err = pcall(lab.dut.power.state, lab.dut.power)
    assert.is_false(ok)
    assert.are.equal("unavailable", err.code)
    assert.matches("cannot connect to unix://", err.message)

    exp:restart()
    assert.are.equal("off", lab.dut.power:state())
    assert.are.same({ "back" }, lab.probe:echo("back"))
    lab:close()
  end)

  it("ends calls in flight unavailable on SIGTERM and closes its drivers", function()
    local lab = hilt.connect(exp.addr)
    local pending = hilt.spawn(function() return pcall(lab.probe.wait, lab.probe, 30) end)
    local items = {}
    local streaming = hilt.spawn(function()
      return pcall(function()
        for i in lab.probe:count(1000000) do
          items[#items + 1] = i
          hilt.sleep(0.01)
        end
      end)
    end)
    hilt.sleep(0.2)
    local r = exp:stop("term")
    assert.are.equal(0, r.code, r.err)
    local ok, err = pending:join()
    assert.is_false(ok)
    assert.are.equal("unavailable", err.code)
    assert.matches("shutting down %(SIGTERM%)", err.message)
    ok, err = streaming:join()
    assert.is_false(ok)
    assert.are.equal("unavailable", err.code)
    assert.is_true(#items > 0)
    assert.are.equal("closed", read_file(marker))
    assert.matches("shutting down %(SIGTERM%), 2 calls in flight", r.err)
    lab:close()
  end)

  it("streams its log to clients", function()
    local lab = hilt.connect(exp.addr)
    local logs = lab:logs()
    local first = logs:recv()
    assert.are.equal("log stream started", first.message)
    lab.dut.power:on()
    pcall(lab.probe.fail, lab.probe, "logged failure")
    local seen = {}
    while not (seen.on and seen.fail) do
      local rec = logs:recv()
      if rec.message:match("^call dut%.power%.on ok") then
        seen.on = rec
      elseif rec.message:match("^call dut%.probe%.fail failed") then
        seen.fail = rec
      end
    end
    assert.are.equal("info", seen.on.level)
    assert.are.equal("exporter", seen.on.source)
    assert.are.equal("warn", seen.fail.level)
    assert.is_number(seen.on.time)
    logs:close()

    -- hilt call --logs shows the exporter's records of its call.
    local r = exporter.cli({ "call", "--logs", exp.addr, "dut.power.off" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("exporter dut%.power: output off", r.stderr)
    assert.matches("exporter: call dut%.power%.off ok", r.stderr)
    lab:close()
  end)
end)

describe("hilt serve with a bad config", function()
  local dir

  before_each(function()
    dir = exporter.tmpdir()
  end)

  after_each(function()
    os.execute("rm -rf " .. dir)
  end)

  local function serve(source)
    exporter.write(dir .. "/lab.lua", source)
    return exporter.cli({ "serve", dir .. "/lab.lua", "--listen",
      "unix://" .. dir .. "/lab.sock" })
  end

  local function fails_with(expected, source)
    local r = serve(source)
    assert.are.equal(1, r.code, r.stdout .. r.stderr)
    assert.are.equal("", r.stdout)
    assert.are.equal("hilt serve: " .. dir .. "/lab.lua:" .. expected .. "\n", r.stderr)
  end

  it("names an unknown driver type, with file and line", function()
    fails_with("4: node dut.power: unknown driver type 'power.sm' (did you "
      .. "mean 'power.sim'? shipped: composite, console.sim, console.tcp, net.tcp, "
      .. "net.unix, power.command, power.sim, serial, shell; or a Lua module that "
      .. "defines it)", [[
return {
  children = {
    dut = { children = {
      power = { type = "power.sm" },
    } },
  },
}
]])
  end)

  it("names a bad option, with file and line", function()
    fails_with("4: node power: unknown option 'voltag' for power.sim (did you mean 'voltage'?)", [[
return {
  children = {
    power = { type = "power.sim",
      voltag = 5 },
  },
}
]])
    fails_with("2: node power: bad option 'voltage' for power.sim: number expected, got string", [[
return { children = {
  power = { type = "power.sim", voltage = "high" },
} }
]])
    fails_with("3: node sh: missing option 'commands' for shell (name = \"command\" "
      .. "or { cmd = , timeout = , description = })", [[
return { children = {
  power = { type = "power.sim" },
  sh = { type = "shell" },
} }
]])
  end)

  it("names a duplicate name, with file and line", function()
    fails_with("4: duplicate name 'power' (first given at line 2; Lua keeps only the last)", [[
return { children = {
  power = { type = "power.sim" },
  other = { type = "power.sim" },
  power = { type = "power.sim", voltage = 3 },
} }
]])
    fails_with("2: duplicate name 'on' in node power: power.sim exports a method of that name", [[
return { children = {
  power = { type = "power.sim", children = { on = { type = "composite" } } },
} }
]])
  end)

  it("names a dangling ref, with file and line", function()
    fails_with("4: node alias: dangling ref 'dut.pwr': dut has no child 'pwr' (it has: power)", [[
return { children = {
  dut = { children = { power = { type = "power.sim" } } },
  other = { type = "composite" },
  alias = { ref = "dut.pwr" },
} }
]])
  end)

  it("names a syntax error and a config that returns no table", function()
    local r = serve("return { children = {\n")
    assert.are.equal(1, r.code)
    assert.matches("^hilt serve: [^\n]*/lab%.lua:2: [^\n]*near <eof>\n$", r.stderr)
    r = serve("return 42\n")
    assert.are.equal(1, r.code)
    assert.matches("a config must return the driver tree as a table, got number", r.stderr)
  end)
end)
