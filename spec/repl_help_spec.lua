-- hilt.repl.help: the REPL's `help`, as a user at the prompt reads it.
local hilt = require("hilt")
local busmod = require("hilt.bus")
local helpmod = require("hilt.repl.help")

-- A help bound to env whose output is collected; returns help and a
-- function giving what was written so far.
local function captured(env)
  local out = {}
  local help = helpmod.new(env, { write = function(s) out[#out + 1] = s end })
  return help, function() return table.concat(out) end
end

local function plain(s)
  return (s:gsub("%p", "%%%0"))
end

describe("hilt.repl.help", function()
  it("help() tells what lab and bus are, the keys and the hilt functions", function()
    local lab = hilt.serve("examples/lab.lua")
    local bus = busmod.connect()
    local help, text = captured({ lab = lab, bus = bus,
      __repl_history = "/home/me/.hilt_history" })
    assert.are.equal(0, select("#", help()))
    local s = text()
    assert.matches("\n$", s)
    assert.matches("A lab with nothing real in it", s, 1, true)
    for _, line in ipairs({ ".dut    dut (composite)", ".host   host (shell)",
        ".power  dut.power (power.sim)", "the embedded hub", "help(bus)",
        "Tab", "Ctrl-C    cancel the running line", "Ctrl-D    exit",
        "=expr     print the value of expr", "kept in /home/me/.hilt_history",
        "hilt.sleep(s)", "hilt.spawn(fn, ...)" }) do
      assert.matches(plain(line), s)
    end
    -- Every function of the hilt module is named somewhere.
    for name, v in pairs(hilt) do
      if type(v) == "function" then
        assert.matches("%f[%w_]" .. name .. "%f[^%w_]", s)
      end
    end
    bus:close()
    lab:close()
  end)

  it("help() says when nothing is bound, and names a remote hub", function()
    local help, text = captured({})
    help()
    assert.matches("lab   not connected", text(), 1, true)
    assert.matches("bus   not connected", text(), 1, true)
    assert.matches("kept for this session only", text(), 1, true)
    help, text = captured({ bus = { addr = "tcp://hub:7421" } })
    help()
    assert.matches("bus   the hub at tcp://hub:7421", text(), 1, true)
  end)

  it("help(node) shows a driver node's methods with their docs", function()
    local lab = hilt.serve("examples/lab.lua")
    local help, text = captured({ lab = lab })
    help(lab.dut.power)
    local s = text()
    assert.are.equal(lab.dut.power:help() .. "\n", s)
    assert.matches("on()  Turn the output on.", s, 1, true)
    assert.matches("cycle(wait)", s, 1, true)
    assert.matches("wait: seconds to stay off", s, 1, true)
    lab:close()
  end)

  it("help(bus) lists the bus client's methods, one line each", function()
    local bus = busmod.connect()
    local help, text = captured({ bus = bus })
    help(bus)
    local s = text()
    assert.matches("embedded hub", s, 1, true)
    for _, m in ipairs({ "call", "get", "set", "observe", "listen", "emit",
        "action_register", "state_register", "close" }) do
      assert.matches("\n  bus:" .. m .. "%(.-%)  +%a", s)
    end
    bus:close()
  end)

  it("help(table) lists its fields with their types, sorted", function()
    local help, text = captured({})
    help({ volts = 5.1, name = "dut", on = function() end, limits = {} })
    assert.are.equal(table.concat({
      "a table with 4 fields",
      "  limits  table",
      "  name    string   \"dut\"",
      "  on      function",
      "  volts   number   5.1",
    }, "\n") .. "\n", text())
  end)

  it("help(table) shows an object's methods without calling __index functions", function()
    local help, text = captured({})
    help(hilt.queue())
    assert.matches("methods: .*get, .*put", text())
    help, text = captured({})
    help(setmetatable({ x = 1 }, { __index = function() error("called") end }))
    assert.matches("^a table with 1 field\n  x  number   1\n$", text())
  end)

  it("help(function) says where a Lua function is defined", function()
    local function heat(oven, degrees, ...) return oven, degrees, ... end
    local help, text = captured({})
    help(heat)
    local info = debug.getinfo(heat, "S")
    assert.are.equal(("a function(oven, degrees, ...), defined at %s:%d\n")
      :format(info.short_src, info.linedefined), text())
    help, text = captured({})
    help(print)
    assert.are.equal("a C function\n", text())
  end)

  it("help(value) names other values", function()
    local help, text = captured({})
    help(42)
    help("/lab/oven")
    help(nil)
    assert.are.equal('a number: 42\na string: "/lab/oven"\nnil\n', text())
  end)
end)
