-- hilt.json: the text each value encodes to, what JSON decodes to, round
-- trips through JSON and msgpack, and the errors a user reads.
local json = require("hilt.json")
local msgpack = require("hilt.msgpack")

local function err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  return err
end

local function nested(depth, leaf)
  local v = leaf
  for _ = 1, depth do v = { v } end
  return v
end

describe("hilt.json", function()
  describe("encode", function()
    it("writes scalars", function()
      assert.are.equal("null", json.encode(nil))
      assert.are.equal("null", json.encode(json.null))
      assert.are.equal("true", json.encode(true))
      assert.are.equal("false", json.encode(false))
      assert.are.equal("42", json.encode(42))
      assert.are.equal("-9223372036854775808", json.encode(math.mininteger))
      assert.are.equal("1.5", json.encode(1.5))
      assert.are.equal('"a\\"b\\\\c\\n"', json.encode('a"b\\c\n'))
    end)

    it("keeps a float a float, and writes the fewest digits that read back", function()
      assert.are.equal("3.0", json.encode(3.0))
      assert.are.equal("-0.0", json.encode(-0.0))
      assert.are.equal("0.1", json.encode(0.1))
      assert.are.equal("[0.1,2.5,1e300]", json.encode({ 0.1, 2.5, 1e300 }))
      -- One real that needs 17 digits makes the whole value use 17.
      assert.are.equal("[0.30000000000000004,0.10000000000000001]",
        json.encode({ 0.1 + 0.2, 0.1 }))
      for _, x in ipairs({ 0.1 + 0.2, 1 / 3, 2 ^ 53, 5e-324, 1.7976931348623157e308 }) do
        assert.are.equal(x, json.decode(json.encode(x)))
      end
    end)

    it("writes sequences as arrays and other tables as objects, keys sorted", function()
      assert.are.equal("[1,2,3]", json.encode({ 1, 2, 3 }))
      assert.are.equal('{"a":1,"b":[true,false],"c":{"d":"e"}}',
        json.encode({ c = { d = "e" }, a = 1, b = { true, false } }))
      assert.are.equal('{"1":"a","3":"c"}', json.encode({ [1] = "a", [3] = "c" }))
      assert.are.equal('{"-1":0,"0":0}', json.encode({ [0] = 0, [-1] = 0 }))
      assert.are.equal('{"1":"a","x":"y"}', json.encode({ "a", x = "y" }))
    end)

    it("writes an empty table as [] unless marked as a map", function()
      assert.are.equal("[]", json.encode({}))
      assert.are.equal("{}", json.encode(json.map()))
      assert.are.equal("{}", json.encode(msgpack.map({})))
      assert.are.equal("[]", json.encode(json.array()))
    end)

    it("follows the markers: arrays of n with nil as null, maps of any keys", function()
      assert.are.equal("[1,null,3,null]", json.encode(json.array({ 1, nil, 3 }, 4)))
      assert.are.equal("[null,null]", json.encode(msgpack.array({}, 2)))
      assert.are.equal('{"1":"a","2":"b"}', json.encode(json.map({ "a", "b" })))
      assert.are.equal("[null,1]", json.encode({ json.null, 1 }))
    end)

    it("writes UTF-8 as is and NUL as an escape", function()
      assert.are.equal('"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"',
        json.encode("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"))
      assert.are.equal('"a\\u0000b\\u001F"', json.encode("a\0b\31"))
    end)

    it("refuses what JSON cannot hold, naming it and where it is", function()
      assert.are.equal("json.encode: cannot encode a function at value.f",
        err_of(json.encode, { f = print }))
      assert.are.equal("json.encode: cannot encode NaN at value[2] "
        .. "(JSON has no NaN or infinity)", err_of(json.encode, { 1, 0 / 0 }))
      assert.are.equal("json.encode: cannot encode inf at value.x "
        .. "(JSON has no NaN or infinity)", err_of(json.encode, { x = math.huge }))
      assert.are.equal("json.encode: cannot encode -inf at value "
        .. "(JSON has no NaN or infinity)", err_of(json.encode, -math.huge))
      assert.are.equal("json.encode: cannot encode a string that is not valid "
        .. "UTF-8 at value.s (JSON strings are UTF-8 text)",
        err_of(json.encode, { s = "\xff\xfe" }))
      assert.are.equal("json.encode: cannot encode a key that is not valid "
        .. 'UTF-8 at value["\\xff"] (JSON keys are UTF-8 text)',
        err_of(json.encode, { ["\xff"] = 1 }))
      assert.are.equal("json.encode: cannot encode a thread at value",
        err_of(json.encode, coroutine.create(print)))
      assert.are.equal("json.encode: cannot encode a userdata (FILE*) at value[1]",
        err_of(json.encode, { io.stdout }))
      assert.are.equal("json.encode: cannot encode a userdata "
        .. "(hilt.msgpack.UInt64) at value", err_of(json.encode, msgpack.uint64(1)))
    end)

    it("refuses keys that are not strings or integers", function()
      local why = " (JSON keys are strings; integer keys are written in decimal)"
      assert.are.equal("json.encode: cannot encode a boolean key at value.a[true]" .. why,
        err_of(json.encode, { a = { [true] = 1 } }))
      assert.are.equal("json.encode: cannot encode a float key at value[1.5]" .. why,
        err_of(json.encode, { [1.5] = 1 }))
      assert.are.equal("json.encode: cannot encode a table key at value[<table>]" .. why,
        err_of(json.encode, { [{}] = 1 }))
      assert.matches('^json.encode: two keys are both written as "1" at value',
        err_of(json.encode, { [1] = "a", ["1"] = "b" }))
    end)

    it("refuses reference cycles, and allows a table twice side by side", function()
      local t = { name = "loop" }
      t.self = t
      assert.are.equal("json.encode: cannot encode a reference cycle at "
        .. "value.self (a table that contains itself)", err_of(json.encode, t))
      local a = { x = { 1 } }
      a.y = { a }
      assert.matches("reference cycle at value.y%[1%]", err_of(json.encode, a))
      local shared = { 1 }
      assert.are.equal("[[1],[1]]", json.encode({ shared, shared }))
    end)

    it("stops at 128 levels", function()
      assert.are.equal(("["):rep(128) .. ("]"):rep(128), json.encode(nested(127, {})))
      local err = err_of(json.encode, nested(128, {}))
      assert.matches("^json.encode: nesting deeper than 128 levels at value%.%.%.%[1%]", err)
      assert.are.equal(128, json.max_depth)
    end)

    it("reads tables raw: no __index, __pairs or __len", function()
      local proxy = setmetatable({}, {
        __index = function() return 1 end,
        __pairs = function() error("ran __pairs") end,
        __len = function() return 3 end,
      })
      assert.are.equal("[]", json.encode(proxy))
    end)

    it("checks its argument", function()
      assert.has_error(function() json.encode() end,
        "bad argument #1 to 'encode' (value expected)")
    end)
  end)

  describe("decode", function()
    it("reads scalars at the top level, null as json.null", function()
      assert.are.equal(json.null, json.decode("null"))
      assert.are.equal(msgpack.null, json.null)
      assert.is_true(json.decode("true"))
      assert.is_false(json.decode(" false "))
      assert.are.equal("x", json.decode('"x"'))
      local i = json.decode("-12")
      assert.are.equal(-12, i)
      assert.are.equal("integer", math.type(i))
      local f = json.decode("2.0")
      assert.are.equal(2.0, f)
      assert.are.equal("float", math.type(f))
      assert.are.equal(1e-7, json.decode("1E-7"))
    end)

    it("keeps 64-bit integers exact", function()
      assert.are.equal(9007199254740993, json.decode("9007199254740993"))
      assert.are.equal(2 ^ 53 + 1, json.decode(json.encode(2 ^ 53 + 1)) + 0.0)
      assert.are.equal(math.maxinteger, json.decode("9223372036854775807"))
      assert.are.equal(math.mininteger, json.decode("-9223372036854775808"))
      local v, err, code = json.decode("9223372036854775808")
      assert.is_nil(v)
      assert.are.equal("bad JSON at line 1, column 19: too big integer near "
        .. "'9223372036854775808'", err)
      assert.are.equal("malformed", code)
    end)

    it("reads escapes and UTF-8, surrogate pairs included", function()
      assert.are.equal("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
        json.decode('"\\u00e9\\u20ac\\ud83d\\ude00"'))
      assert.are.equal('"\\/\b\f\n\r\t', json.decode('"\\"\\\\\\/\\b\\f\\n\\r\\t"'))
      assert.are.equal("a\0b", json.decode('"a\\u0000b"'))
      assert.are.equal("h\xc3\xa9", json.decode('"h\xc3\xa9"'))
    end)

    it("marks arrays and objects with msgpack's markers", function()
      local v = json.decode('{"list":[1,"two",null,{"x":[]}],"empty":{}}')
      assert.are.equal("map", msgpack.kind(v))
      assert.are.equal("array", msgpack.kind(v.list))
      assert.are.equal(4, #v.list)
      assert.are.equal(json.null, v.list[3])
      assert.are.equal("map", msgpack.kind(v.empty))
      assert.are.equal("array", msgpack.kind(v.list[4].x))
      assert.are.same({ 1, "two", json.null, { x = {} } }, v.list)
    end)

    it("round-trips through encode, null, empty objects and key order aside", function()
      for _, s in ipairs({
        '{"a":[1,2.5,"x",null,true,false],"b":{},"c":[],"d":{"e":{"f":[[]]}}}',
        '[null,null]', '[{}]', '"\\u0000"', '{"":0}', "-0.0", "[1e300]",
      }) do
        assert.are.equal(s, json.encode(json.decode(s)))
      end
      assert.are.equal('{"a":1,"b":2}', json.encode(json.decode('{ "b" : 2 , "a" : 1 }')))
    end)

    it("gives msgpack the same shapes, and takes them back", function()
      local v = json.decode('{"a":[],"b":{},"c":[1,null],"d":null}')
      local back = msgpack.unpack(msgpack.pack(v), 1, { null = true })
      assert.are.equal('{"a":[],"b":{},"c":[1,null],"d":null}', json.encode(back))
      -- Without null = true msgpack drops the nil map value and counts the
      -- array's n.
      local plain = msgpack.unpack(msgpack.pack(v))
      assert.are.equal('{"a":[],"b":{},"c":[1,null]}', json.encode(plain))
    end)

    it("keeps the last of duplicate keys", function()
      assert.are.equal(2, json.decode('{"a":1,"a":2}').a)
    end)

    it("reports bad JSON with its line and column", function()
      local cases = {
        { '{"a": tru}', "bad JSON at line 1, column 9: invalid token near 'tru'", "malformed" },
        { "[1,\n 2,\n x]", "bad JSON at line 3, column 2: invalid token near 'x'", "malformed" },
        { "[1] x", "bad JSON at line 1, column 5: end of file expected near 'x'", "malformed" },
        { "[1,", "bad JSON at line 1, column 3: ']' expected near end of file", "truncated" },
        { "", "bad JSON at line 1, column 0: unexpected token near end of file", "truncated" },
        { '"\xff"', "bad JSON at line 1, column 1: unable to decode byte 0xff near '\"'", "malformed" },
        { "[NaN]", "bad JSON at line 1, column 4: invalid token near 'NaN'", "malformed" },
        { '{"a":1,}', "bad JSON at line 1, column 8: string or '}' expected near '}'", "malformed" },
        { '{"\\u0000":1}', "bad JSON at line 1, column 9: NUL byte in object key not supported near '\"\\u0000\"'", "malformed" },
      }
      for _, c in ipairs(cases) do
        local v, err, code = json.decode(c[1])
        assert.is_nil(v)
        assert.are.equal(c[2], err)
        assert.are.equal(c[3], code)
      end
    end)

    it("stops at max_depth, 128 by default", function()
      local ok = ("["):rep(128) .. ("]"):rep(128)
      assert.are.equal(ok, json.encode(json.decode(ok)))
      local v, err, code = json.decode("[" .. ok .. "]")
      assert.is_nil(v)
      assert.are.equal("bad JSON: nesting deeper than 128 levels", err)
      assert.are.equal("too_deep", code)
      v, err = json.decode('{"a":[1]}', { max_depth = 1 })
      assert.is_nil(v)
      assert.are.equal("bad JSON: nesting deeper than 1 level", err)
      assert.are.equal(1, json.decode("1", { max_depth = 0 }))
      -- jansson itself stops far deeper nesting before building anything.
      v, err, code = json.decode(("["):rep(100000))
      assert.is_nil(v)
      assert.are.equal("too_deep", code)
      assert.matches("maximum parsing depth reached", err)
    end)

    it("checks its arguments", function()
      assert.has_error(function() json.decode() end,
        "bad argument #1 to 'decode' (string expected, got no value)")
      assert.has_error(function() json.decode("1", { maxdepth = 1 }) end,
        "bad argument #2 to 'decode' (unknown option 'maxdepth')")
      assert.has_error(function() json.decode("1", { max_depth = 129 }) end,
        "bad argument #2 to 'decode' (option 'max_depth' must be an integer in 0..128)")
    end)
  end)
end)
