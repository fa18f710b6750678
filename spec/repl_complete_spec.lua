-- hilt.repl.complete: what Tab offers at the REPL's prompt, for Lua names,
-- field chains, methods, a served driver tree and the embedded hub's paths.
local hilt = require("hilt")
local busmod = require("hilt.bus")
local complete = require("hilt.repl.complete")

local function env_with(fields)
  return setmetatable(fields or {}, { __index = _G })
end

local function words_of(env, before)
  return complete.new({ env = env }):candidates(before)
end

local function contains(list, word)
  for _, w in ipairs(list) do
    if w == word then
      return true
    end
  end
  return false
end

describe("hilt.repl.complete", function()
  describe("Lua names", function()
    it("offers globals, the REPL's own and _G's, and keywords", function()
      local env = env_with({ printer = {} })
      local words, start = words_of(env, "pri")
      assert.are.same({ "print", "printer" }, words)
      assert.are.equal(1, start)
      words, start = words_of(env, "x = wh")
      assert.are.same({ "while" }, words)
      assert.are.equal(5, start)
      assert.are.same({ "load", "loadfile", "local" }, (words_of(env, "lo")))
    end)

    it("offers nothing inside a comment, after a number or after a call", function()
      local env = env_with()
      for _, before in ipairs({ "-- pri", "x = 3.", "x = 0x1f", "f().x", "t[1].",
          "print(1)" }) do
        local words, start = words_of(env, before)
        assert.are.same({}, words, before)
        assert.are.equal(#before + 1, start, before)
      end
    end)

    it("completes after the concatenation operator", function()
      local words, start = words_of(env_with(), 'a..pri')
      assert.are.same({ "print" }, words)
      assert.are.equal(4, start)
    end)
  end)

  describe("fields", function()
    it("walks a field chain and offers the last word's completions", function()
      local env = env_with({ cfg = { supply = { volts = 5, vmax = 6, amps = 1 } } })
      local words, start = words_of(env, "cfg.supply.v")
      assert.are.same({ "vmax", "volts" }, words)
      assert.are.equal(12, start)
      words, start = words_of(env, "string.fo")
      assert.are.same({ "format" }, words)
      assert.are.equal(8, start)
      assert.are.same({}, (words_of(env, "cfg.nothing.v")))
    end)

    it("follows __index tables, and hides _ names until _ is typed", function()
      local base = { inherited = 1, _hidden_base = 2 }
      local obj = setmetatable({ own = 1, _private = 2 }, { __index = base })
      local env = env_with({ obj = obj })
      assert.are.same({ "inherited", "own" }, (words_of(env, "obj.")))
      assert.are.same({ "_hidden_base", "_private" }, (words_of(env, "obj._")))
    end)

    it("offers only identifier keys that are not keywords", function()
      local env = env_with({ t = { ok = 1, ["not a name"] = 2, ["end"] = 3, [1] = 4 } })
      assert.are.same({ "ok" }, (words_of(env, "t.")))
    end)

    it("offers only functions after ':'", function()
      local obj = setmetatable({ level = 3 }, { __index = {
        read = function() end, write = function() end, unit = "V" } })
      local env = env_with({ obj = obj })
      assert.are.same({ "read", "write" }, (words_of(env, "obj:")))
      local words, start = words_of(env, "x = obj:wr")
      assert.are.same({ "write" }, words)
      assert.are.equal(9, start)
    end)

    it("never calls an __index function or a __pairs metamethod", function()
      local function trap()
        error("an __index function was called")
      end
      local Class = { __index = trap }
      function Class.measure() end
      local obj = setmetatable({ visible = 1 }, Class)
      local sealed = setmetatable({ kept = 1 }, { __pairs = trap, __index = trap })
      local env = env_with({ obj = obj, sealed = sealed })
      -- A metatable whose __index is a function is taken to be a class:
      -- its own functions are offered as methods.
      assert.are.same({ "measure", "visible" }, (words_of(env, "obj.")))
      assert.are.same({ "measure" }, (words_of(env, "obj:")))
      assert.are.same({}, (words_of(env, "obj.missing.")))
      assert.are.same({ "kept" }, (words_of(env, "sealed.")))
      local busy = setmetatable({}, { __index = trap })
      assert.are.same({}, (words_of(setmetatable({}, { __index = busy }), "obj.")))
    end)

    it("offers the string library's functions as a string's methods", function()
      local env = env_with({ name = "oven" })
      assert.are.same({ "upper" }, (words_of(env, 'x = ("x"):up')))
      assert.are.same({ "rep", "reverse" }, (words_of(env, "x = 'x':re")))
      local words = words_of(env, "name:")
      assert.is_true(contains(words, "format") and contains(words, "gsub"))
    end)
  end)

  describe("a driver tree", function()
    it("offers a node's children, report methods and client methods", function()
      local lab = hilt.serve("examples/lab.lua")
      local env = env_with({ lab = lab })
      local root = words_of(env, "lab.")
      for name in pairs(lab.children) do
        assert.is_true(contains(root, name), name)
      end
      for _, w in ipairs({ "dut", "host", "power", "help", "call", "stream",
          "description", "children" }) do
        assert.is_true(contains(root, w), w)
      end
      for _, w in ipairs({ "_session", "_wire", "_members" }) do
        assert.is_false(contains(root, w), w)
      end
      local words, start = words_of(env, "lab.dut.po")
      assert.are.same({ "power" }, words)
      assert.are.equal(9, start)
      local dut = words_of(env, "lab.dut.")
      for _, w in ipairs({ "console", "power", "ssh", "help" }) do
        assert.is_true(contains(dut, w), w)
      end
      local methods = words_of(env, "lab.dut.power:")
      for _, m in ipairs(lab.dut.power.methods) do
        assert.is_true(contains(methods, m.name), m.name)
      end
      assert.is_true(contains(methods, "help"))
      assert.is_false(contains(methods, "description"))
      assert.is_false(contains(methods, "children"))
      lab:close()
    end)

    it("completes a tree of hundreds of nodes well under a millisecond", function()
      local children = {}
      for i = 1, 300 do
        children["node" .. i] = { type = "composite" }
      end
      local lab = hilt.serve({ type = "composite", children = children })
      local c = complete.new({ env = env_with({ lab = lab }) })
      assert.are.equal(300, #c:candidates("lab.node"))
      local runs = 50
      local t0 = hilt.now()
      for _ = 1, runs do
        c:candidates("lab.")
      end
      local each = (hilt.now() - t0) / runs
      lab:close()
      assert.is_true(each < 0.002, ("%.6f s per completion"):format(each))
    end)
  end)

  describe("bus paths", function()
    local function oven_bus()
      local bus = busmod.connect()
      bus:state_register("/lab/oven/temp")
      bus:action_register("/lab/oven/heat", function() end)
      bus:event_register("/lab/fridge")
      return bus
    end

    it("lists a directory once prepared, directories ending in '/'", function()
      local bus = oven_bus()
      local c = complete.new({ env = env_with({ bus = bus }), bus = function() return bus end })
      local before = 'bus:get("/lab/'
      assert.are.same({}, (c:candidates(before)))
      c:prepare(before)
      local words, start = c:candidates(before)
      assert.are.same({ "/lab/fridge", "/lab/oven/" }, words)
      assert.are.equal(10, start)
      c:prepare('bus:get("/lab/oven/h')
      assert.are.same({ "/lab/oven/heat" }, (c:candidates('bus:get("/lab/oven/h')))
      c:prepare("bus:observe('/")
      words, start = c:candidates("bus:observe('/")
      assert.is_true(contains(words, "/lab/"))
      assert.are.equal(14, start)
      assert.are.equal("en/", (c:complete('x = "/lab/ov')))
      bus:close()
    end)

    it("offers nothing for a missing directory, a failing bus or no bus", function()
      local bus = oven_bus()
      local c = complete.new({ bus = function() return bus end })
      c:prepare('bus:get("/nope/')
      assert.are.same({}, (c:candidates('bus:get("/nope/')))
      c:prepare('bus:get("/lab/oven/temp/')
      assert.are.same({}, (c:candidates('bus:get("/lab/oven/temp/')))
      bus:close()
      local failing = { call = function() error("hub gone") end }
      for _, get in ipairs({ function() return failing end, function() return nil end,
          function() error("no bus here") end }) do
        local quiet = complete.new({ bus = get })
        quiet:prepare('bus:get("/lab/')
        assert.are.same({}, (quiet:candidates('bus:get("/lab/')))
      end
    end)

    it("leaves strings that are not paths alone", function()
      local bus = oven_bus()
      local c = complete.new({ bus = function() return bus end })
      for _, before in ipairs({ 'print("lab/', 'print("/lab//', 'x = [[/lab/' }) do
        c:prepare(before)
        assert.are.same({}, (c:candidates(before)), before)
      end
      bus:close()
    end)

    it("keeps a listing for ttl seconds, then asks the hub again", function()
      local bus = oven_bus()
      local c = complete.new({ bus = function() return bus end, ttl = 0.05 })
      local before = 'bus:get("/lab/oven/'
      c:prepare(before)
      assert.are.same({ "/lab/oven/heat", "/lab/oven/temp" }, (c:candidates(before)))
      bus:state_register("/lab/oven/door")
      c:prepare(before)
      assert.are.same({ "/lab/oven/heat", "/lab/oven/temp" }, (c:candidates(before)))
      hilt.sleep(0.06)
      c:prepare(before)
      assert.are.same({ "/lab/oven/door", "/lab/oven/heat", "/lab/oven/temp" },
        (c:candidates(before)))
      bus:close()
    end)
  end)

  describe("complete()", function()
    local env = env_with({ zoo = { ant = 1, bee = 1, cat = 1, dog = 1, eel = 1 },
      alpha_one = 1, alpha_two = 2 })
    local c = complete.new({ env = env })

    it("inserts what every candidate has beyond what is typed", function()
      assert.are.same({ "ha_", nil }, { c:complete("alp") })
      assert.are.same({ "t", nil }, { c:complete("zoo.an") })
      assert.are.same({ "", nil }, { c:complete("zoo.ant") })
      assert.are.same({ "", nil }, { c:complete("zoo.yak") })
    end)

    it("lists several candidates in columns when nothing can be inserted", function()
      assert.are.same({ "", "alpha_one  alpha_two\n" }, { c:complete("alpha_") })
      assert.are.same({ "", "ant  bee  cat  dog  eel\n" }, { c:complete("zoo.") })
      assert.are.same({ "", "ant  cat  eel\nbee  dog\n" }, { c:complete("zoo.", 20) })
      assert.are.same({ "", "ant\nbee\ncat\ndog\neel\n" }, { c:complete("zoo.", 4) })
    end)
  end)
end)
