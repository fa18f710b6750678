-- hilt.msgpack: the bytes on the wire for every kind and limit, round
-- trips, the markers and the errors a user reads (streaming is in
-- msgpack_stream_spec.lua).
local msgpack = require("hilt.msgpack")

local support = require("spec.support.msgpack")
local hex, unhex, decode = support.hex, support.unhex, support.decode
local nested, err_of = support.nested, support.err_of

describe("hilt.msgpack", function()
  describe("integers", function()
    local cases = {
      { 0, "00" }, { 1, "01" }, { 127, "7f" }, { 128, "cc80" },
      { 255, "ccff" }, { 256, "cd0100" }, { 65535, "cdffff" },
      { 65536, "ce00010000" }, { 4294967295, "ceffffffff" },
      { 4294967296, "cf0000000100000000" },
      { math.maxinteger, "cf7fffffffffffffff" },
      { -1, "ff" }, { -32, "e0" }, { -33, "d0df" }, { -128, "d080" },
      { -129, "d1ff7f" }, { -32768, "d18000" }, { -32769, "d2ffff7fff" },
      { -2147483648, "d280000000" }, { -2147483649, "d3ffffffff7fffffff" },
      { math.mininteger, "d38000000000000000" },
    }

    it("pack in the smallest form and come back as the same integers", function()
      for _, c in ipairs(cases) do
        assert.are.equal(c[2], hex(msgpack.pack(c[1])))
        local back = decode(unhex(c[2]))
        assert.are.equal(c[1], back)
        assert.are.equal("integer", math.type(back))
      end
    end)

    it("decode the wider forms other packers write", function()
      assert.are.equal(1, decode(unhex("cc01")))
      assert.are.equal(1, decode(unhex("cf0000000000000001")))
      assert.are.equal(-1, decode(unhex("d0ff")))
      assert.are.equal(-1, decode(unhex("d3ffffffffffffffff")))
      assert.are.equal(100, decode(unhex("d064")))
    end)
  end)

  describe("uint64 above 2^63-1", function()
    it("decodes to a UInt64 with the exact decimal", function()
      local u = decode(unhex("cfffffffffffffffff"))
      assert.are.equal("18446744073709551615", tostring(u))
      assert.are.equal("uint64", msgpack.kind(u))
      assert.are.equal("9223372036854775808",
        tostring(decode(unhex("cf8000000000000000"))))
    end)

    it("compares with ==, < and <=", function()
      local max = decode(unhex("cfffffffffffffffff"))
      assert.is_true(max == msgpack.uint64("18446744073709551615"))
      assert.is_false(max == msgpack.uint64("18446744073709551614"))
      assert.is_true(msgpack.uint64(5) < max)
      assert.is_true(max <= max)
    end)

    it("packs back to the same bytes", function()
      local bytes = unhex("cfffffffffffffffff")
      assert.are.equal(bytes, msgpack.pack(decode(bytes)))
      assert.are.equal(bytes, msgpack.pack(msgpack.uint64("18446744073709551615")))
      assert.are.equal("cf8000000000000000",
        hex(msgpack.pack(msgpack.uint64("9223372036854775808"))))
      assert.are.equal("05", hex(msgpack.pack(msgpack.uint64(5))))
      assert.are.equal("91cfffffffffffffffff",
        hex(msgpack.pack({ msgpack.uint64("18446744073709551615") })))
    end)

    it("is made from integers, decimal strings and other UInt64s", function()
      assert.are.equal("0", tostring(msgpack.uint64(0)))
      assert.are.equal("9223372036854775807", tostring(msgpack.uint64(math.maxinteger)))
      local u = msgpack.uint64("42")
      assert.are.equal(u, msgpack.uint64(u))
    end)

    it("rejects what is not an unsigned 64-bit integer", function()
      assert.has_error(function() msgpack.uint64(-1) end,
        "bad argument #1 to 'uint64' (must be >= 0)")
      for _, bad in ipairs({ "18446744073709551616", "-1", "12a", "", " 1" }) do
        assert.has_error(function() msgpack.uint64(bad) end,
          "bad argument #1 to 'uint64' (not a decimal integer in 0..18446744073709551615)")
      end
      assert.has_error(function() msgpack.uint64({}) end)
    end)
  end)

  describe("floats", function()
    it("pack as float64", function()
      assert.are.equal("cb3ff8000000000000", hex(msgpack.pack(1.5)))
      assert.are.equal("cb4008000000000000", hex(msgpack.pack(3.0)))
      assert.are.equal("cb0000000000000000", hex(msgpack.pack(0.0)))
      assert.are.equal("cb8000000000000000", hex(msgpack.pack(-0.0)))
      assert.are.equal("cb7ff0000000000000", hex(msgpack.pack(math.huge)))
    end)

    it("come back as floats, including -0, infinities and NaN", function()
      for _, x in ipairs({ 1.5, 3.0, 2 ^ 53, -1e300, math.huge, -math.huge, 0.1 }) do
        local back = decode(msgpack.pack(x))
        assert.are.equal(x, back)
        assert.are.equal("float", math.type(back))
      end
      assert.are.equal(-math.huge, 1 / decode(msgpack.pack(-0.0)))
      local nan = decode(msgpack.pack(0 / 0))
      assert.is_true(nan ~= nan)
    end)

    it("decode float32 to a Lua float", function()
      local x = decode(unhex("ca3fc00000"))
      assert.are.equal(1.5, x)
      assert.are.equal("float", math.type(x))
    end)

    it("pack as float32 when marked with msgpack.float32", function()
      assert.are.equal("ca3fc00000", hex(msgpack.pack(msgpack.float32(1.5))))
      local f = msgpack.float32(0.1)
      assert.are_not.equal(0.1, f.value)
      assert.are.equal(f.value, decode(msgpack.pack(f)))
      assert.are.equal("float32", msgpack.kind(f))
      assert.are.equal(msgpack.float32(2), msgpack.float32(2.0))
      assert.matches("^msgpack.float32%(", tostring(f))
    end)
  end)

  describe("nil and booleans", function()
    it("pack as c0, c2, c3", function()
      assert.are.equal("c0", hex(msgpack.pack(nil)))
      assert.are.equal("c2", hex(msgpack.pack(false)))
      assert.are.equal("c3", hex(msgpack.pack(true)))
      assert.is_nil(decode(unhex("c0")))
      assert.is_false(decode(unhex("c2")))
      assert.is_true(decode(unhex("c3")))
    end)
  end)

  describe("strings", function()
    it("pack as str with the smallest header", function()
      assert.are.equal("a0", hex(msgpack.pack("")))
      assert.are.equal("a3616263", hex(msgpack.pack("abc")))
      assert.are.equal("bf", hex(msgpack.pack(("x"):rep(31))):sub(1, 2))
      assert.are.equal("d920", hex(msgpack.pack(("x"):rep(32))):sub(1, 4))
      assert.are.equal("d9ff", hex(msgpack.pack(("x"):rep(255))):sub(1, 4))
      assert.are.equal("da0100", hex(msgpack.pack(("x"):rep(256))):sub(1, 6))
      assert.are.equal("daffff", hex(msgpack.pack(("x"):rep(65535))):sub(1, 6))
      assert.are.equal("db00010000", hex(msgpack.pack(("x"):rep(65536))):sub(1, 10))
    end)

    it("round-trip any bytes, of any length", function()
      for _, s in ipairs({ "", "a\0b", "\xff\xfe not utf-8", ("x"):rep(40),
                           ("y"):rep(70000) }) do
        assert.are.equal(s, decode(msgpack.pack(s)))
      end
      assert.are.equal("abc", decode(unhex("d903616263")))
      assert.are.equal("abc", decode(unhex("da0003616263")))
    end)
  end)

  describe("binary", function()
    it("packs msgpack.binary as bin", function()
      assert.are.equal("c4026162", hex(msgpack.pack(msgpack.binary("ab"))))
      assert.are.equal("c400", hex(msgpack.pack(msgpack.binary(""))))
      assert.are.equal("c50100", hex(msgpack.pack(msgpack.binary(("x"):rep(256)))):sub(1, 6))
      assert.are.equal("c600010000", hex(msgpack.pack(msgpack.binary(("x"):rep(65536)))):sub(1, 10))
    end)

    it("decodes bin to a Binary", function()
      local b = decode(unhex("c4026162"))
      assert.is_true(msgpack.is_binary(b))
      assert.are.equal("binary", msgpack.kind(b))
      assert.are.equal("ab", tostring(b))
      assert.are.equal("ab", b.data)
      assert.are.equal(2, #b)
      assert.are.equal(msgpack.binary("ab"), b)
      assert.are_not.equal(msgpack.binary("ac"), b)
      assert.are.equal("abc", b .. "c")
      assert.are.equal("xab", "x" .. b)
      assert.are.equal("abc", msgpack.binary("a") .. msgpack.binary("bc"))
      assert.are.equal("c4026162", hex(msgpack.pack(b)))
    end)

    it("decodes bin to a plain string with binary = \"string\"", function()
      assert.are.equal("ab", decode(unhex("c4026162"), { binary = "string" }))
      local t = decode(unhex("91c40178"), { binary = "string" })
      assert.are.equal("x", t[1])
    end)

    it("tells Binary from other values", function()
      assert.is_false(msgpack.is_binary("ab"))
      assert.is_false(msgpack.is_binary({ data = "ab" }))
      assert.is_false(msgpack.is_binary(nil))
      local b = msgpack.binary("z")
      assert.are.equal(b, msgpack.binary(b))
      assert.has_error(function() msgpack.binary(5) end,
        "bad argument #1 to 'binary' (string expected, got number)")
    end)
  end)

  describe("ext", function()
    it("packs with the smallest header", function()
      assert.are.equal("d40578", hex(msgpack.pack(msgpack.ext(5, "x"))))
      assert.are.equal("d505" .. ("78"):rep(2), hex(msgpack.pack(msgpack.ext(5, "xx"))))
      assert.are.equal("d605" .. ("78"):rep(4), hex(msgpack.pack(msgpack.ext(5, ("x"):rep(4)))))
      assert.are.equal("d705" .. ("78"):rep(8), hex(msgpack.pack(msgpack.ext(5, ("x"):rep(8)))))
      assert.are.equal("d805" .. ("78"):rep(16), hex(msgpack.pack(msgpack.ext(5, ("x"):rep(16)))))
      assert.are.equal("c7030561 6263", hex(msgpack.pack(msgpack.ext(5, "abc"))):gsub("^(c7030561)", "%1 "))
      assert.are.equal("c70005", hex(msgpack.pack(msgpack.ext(5, ""))))
      assert.are.equal("c8010005", hex(msgpack.pack(msgpack.ext(5, ("x"):rep(256)))):sub(1, 8))
    end)

    it("decodes to an Ext with type and data", function()
      local e = decode(unhex("c703056162 63"))
      assert.are.equal(5, e.type)
      assert.are.equal("abc", e.data)
      assert.are.equal("ext", msgpack.kind(e))
      assert.are.equal(msgpack.ext(5, "abc"), e)
      assert.are_not.equal(msgpack.ext(6, "abc"), e)
      assert.are.equal("msgpack.ext(5, 3 bytes)", tostring(e))
      -- The timestamp extension (-1) comes back as any other.
      local ts = decode(unhex("d6ff00000001"))
      assert.are.equal(-1, ts.type)
      assert.are.equal("\0\0\0\1", ts.data)
      assert.are.equal("d6ff00000001", hex(msgpack.pack(ts)))
    end)

    it("checks its type", function()
      assert.has_error(function() msgpack.ext(128, "") end,
        "bad argument #1 to 'ext' (ext type must be in -128..127)")
      assert.has_error(function() msgpack.ext(-129, "") end,
        "bad argument #1 to 'ext' (ext type must be in -128..127)")
      assert.has_error(function() msgpack.ext(1, 2) end,
        "bad argument #2 to 'ext' (string expected, got number)")
    end)
  end)

  describe("arrays", function()
    it("pack tables with keys 1..n", function()
      assert.are.equal("93010203", hex(msgpack.pack({ 1, 2, 3 })))
      assert.are.equal("9291a0" .. "90", hex(msgpack.pack({ { "" }, {} })))
      local t16 = {}
      for i = 1, 16 do t16[i] = i end
      assert.are.equal("dc0010", hex(msgpack.pack(t16)):sub(1, 6))
      local big = {}
      for i = 1, 65536 do big[i] = 0 end
      assert.are.equal("dd00010000", hex(msgpack.pack(big)):sub(1, 10))
      assert.are.same(big, decode(msgpack.pack(big)))
    end)

    it("pack an empty table as an empty array", function()
      assert.are.equal("90", hex(msgpack.pack({})))
      assert.are.equal("array", msgpack.kind({}))
      assert.are.equal("80", hex(msgpack.pack({}, { empty = "map" })))
      assert.are.equal("map", msgpack.kind({}, { empty = "map" }))
    end)

    it("pack nil holes when at least half of 1..max is present", function()
      assert.are.equal("9301c003", hex(msgpack.pack({ 1, nil, 3 })))
      assert.are.equal("92c0a178", hex(msgpack.pack({ [2] = "x" })))
      assert.are.equal("940102c004", hex(msgpack.pack({ [1] = 1, [2] = 2, [4] = 4 })))
      -- Sparser than that, the table is a map.
      assert.are.equal("8105a178", hex(msgpack.pack({ [5] = "x" })))
      assert.are.equal("map", msgpack.kind({ [1] = 1, [5] = 5 }))
      -- Keys added out of order still make an array.
      local t = {}
      for i = 10, 1, -1 do t[i] = i end
      assert.are.equal("9a0102030405060708090a", hex(msgpack.pack(t)))
    end)

    it("pack as arrays of n elements when marked with msgpack.array", function()
      assert.are.equal("93c0c0c0", hex(msgpack.pack(msgpack.array({}, 3))))
      assert.are.equal("9301c003", hex(msgpack.pack(msgpack.array({ 1, nil, 3 }, 3))))
      assert.are.equal("92c0c0", hex(msgpack.pack(msgpack.array({ n = 2 }))))
      assert.are.equal("92c0a178", hex(msgpack.pack(msgpack.array({ [2] = "x" }, 2))))
      assert.are.equal("90", hex(msgpack.pack(msgpack.array())))
      -- Elements past n, and keys that are not 1..n, are left out.
      assert.are.equal("9101", hex(msgpack.pack(msgpack.array({ 1, 2, x = 3 }, 1))))
      -- table.pack's n makes an array of it once marked.
      assert.are.equal("map", msgpack.kind(table.pack(1, nil, 3)))
      assert.are.equal("9301c003", hex(msgpack.pack(msgpack.array(table.pack(1, nil, 3)))))
      assert.are.equal("array", msgpack.kind(msgpack.array({ [9] = 1 })))
    end)

    it("decode with the Array marker, and n when they hold nil", function()
      local t = decode(unhex("93c0c0c0"))
      assert.are.equal(3, t.n)
      assert.are.equal("array", msgpack.kind(t))
      assert.are.equal(getmetatable(msgpack.array()), getmetatable(t))
      t = decode(unhex("92c001"))
      assert.are.same({ n = 2, [2] = 1 }, t)
      t = decode(unhex("93010203"))
      assert.is_nil(t.n)
      assert.are.same({ 1, 2, 3 }, t)
      assert.are.equal(getmetatable(msgpack.array()), getmetatable(decode(unhex("90"))))
    end)
  end)

  describe("maps", function()
    it("pack tables with other keys", function()
      assert.are.equal("81a16101", hex(msgpack.pack({ a = 1 })))
      assert.are.equal("81c301", hex(msgpack.pack({ [true] = 1 })))
      assert.are.equal("81cb3ff8000000000000a178", hex(msgpack.pack({ [1.5] = "x" })))
      assert.are.equal("81ffa178", hex(msgpack.pack({ [-1] = "x" })))
      assert.are.equal("8100a178", hex(msgpack.pack({ [0] = "x" })))
      local mixed = decode(msgpack.pack({ 1, x = 2 }))
      assert.are.equal("map", msgpack.kind(mixed))
      assert.are.same({ 1, x = 2 }, mixed)
    end)

    it("use map16 and map32 headers for more than 15 entries", function()
      local t = {}
      for i = 1, 16 do t["k" .. i] = i end
      local bytes = msgpack.pack(t)
      assert.are.equal("de0010", hex(bytes):sub(1, 6))
      assert.are.same(t, decode(bytes))
      local big = {}
      for i = 1, 65536 do big["k" .. i] = i end
      bytes = msgpack.pack(big)
      assert.are.equal("df00010000", hex(bytes):sub(1, 10))
      assert.are.same(big, decode(bytes))
    end)

    it("pack as maps when marked with msgpack.map", function()
      assert.are.equal("80", hex(msgpack.pack(msgpack.map())))
      assert.are.equal("80", hex(msgpack.pack(msgpack.map({}))))
      assert.are.equal("8201010202", hex(msgpack.pack(msgpack.map({ 1, 2 }))))
      assert.are.equal("map", msgpack.kind(msgpack.map({ 1 })))
      -- A table may switch between the two markers.
      local t = msgpack.map({ 1 })
      assert.are.equal("9101", hex(msgpack.pack(msgpack.array(t))))
      assert.are.equal("810101", hex(msgpack.pack(msgpack.map(t))))
    end)

    it("decode with the Map marker, so empty and 1..n maps stay maps", function()
      local empty = decode(unhex("80"))
      assert.are.equal("map", msgpack.kind(empty))
      assert.are.equal("80", hex(msgpack.pack(empty)))
      local seq = decode(unhex("8101a161"))
      assert.are.same({ "a" }, seq)
      assert.are.equal("8101a161", hex(msgpack.pack(seq)))
    end)

    it("drop nil values, unless unpacked with null = true", function()
      local bytes = unhex("82a178c0a17901")
      assert.are.same({ y = 1 }, decode(bytes))
      local t = decode(bytes, { null = true })
      assert.are.equal(msgpack.null, t.x)
      assert.are.equal(1, t.y)
      assert.are.equal(#bytes, #msgpack.pack(t))
      assert.are.same(t, decode(msgpack.pack(t), { null = true }))
      -- Every nil becomes msgpack.null, keys and array elements too.
      local a = decode(unhex("93c001c0"), { null = true })
      assert.are.same({ msgpack.null, 1, msgpack.null }, a)
      assert.are.equal("93c001c0", hex(msgpack.pack(a)))
      local k = decode(unhex("81c001"), { null = true })
      assert.are.equal(1, k[msgpack.null])
      assert.are.equal("81c001", hex(msgpack.pack(k)))
      assert.are.equal(msgpack.null, decode(unhex("c0"), { null = true }))
      assert.are.equal("c0", hex(msgpack.pack(msgpack.null)))
      assert.are.equal("nil", msgpack.kind(msgpack.null))
      assert.has_error(function() msgpack.unpack("\xc0", 1, { null = 1 }) end,
        "bad argument #3 to 'unpack' (option 'null' must be a boolean)")
    end)

    it("keep the last of duplicate keys", function()
      assert.are.same({ a = 2 }, decode(unhex("82a16101a16102")))
    end)

    it("accept container keys", function()
      local t = decode(unhex("819001"))
      local k = next(t)
      assert.are.equal("table", type(k))
      assert.are.equal(1, t[k])
    end)

    it("refuse nil and NaN keys, which a Lua table cannot hold", function()
      assert.has_error(function() msgpack.unpack(unhex("81c001")) end,
        "msgpack.unpack: map has a nil key, which a Lua table cannot hold, at value")
      assert.has_error(function() msgpack.unpack(unhex("920181c001")) end,
        "msgpack.unpack: map has a nil key, which a Lua table cannot hold, at value[2]")
      assert.has_error(function() msgpack.unpack(unhex("81a17881cb7ff800000000000001")) end,
        "msgpack.unpack: map has a NaN key, which a Lua table cannot hold, at value.x")
      assert.has_error(function() msgpack.unpack(unhex("81ca7fc0000001")) end,
        "msgpack.unpack: map has a NaN key, which a Lua table cannot hold, at value")
    end)
  end)

  describe("markers", function()
    it("only go on tables without another metatable", function()
      assert.has_error(function() msgpack.array(setmetatable({}, {})) end,
        "bad argument #1 to 'array' (table already has a metatable)")
      assert.has_error(function() msgpack.map(setmetatable({}, {})) end,
        "bad argument #1 to 'map' (table already has a metatable)")
      assert.has_error(function() msgpack.array({}, -1) end,
        "bad argument #2 to 'array' (length must be in 0..4294967295)")
      assert.has_error(function() msgpack.array(5) end,
        "bad argument #1 to 'array' (table expected, got number)")
    end)

    it("are checked again when packed", function()
      local a = msgpack.array({})
      a.n = "three"
      assert.has_error(function() msgpack.pack({ list = a }) end,
        "msgpack.pack: cannot pack a msgpack.array with a bad n at value.list (n must be an integer in 0..4294967295)")
      local b = msgpack.binary("x")
      b.data = 5
      assert.has_error(function() msgpack.pack(b) end,
        "msgpack.pack: cannot pack a broken msgpack.binary at value (its data is not a string)")
      local e = msgpack.ext(1, "x")
      e.type = 300
      assert.has_error(function() msgpack.pack({ e }) end,
        "msgpack.pack: cannot pack a broken msgpack.ext at value[1] (it needs an integer type in -128..127 and string data)")
      local f = msgpack.float32(1)
      f.value = "x"
      assert.has_error(function() msgpack.pack(f) end,
        "msgpack.pack: cannot pack a broken msgpack.float32 at value (its value is not a number)")
    end)

    it("leave other metatables alone: such tables pack by their raw contents", function()
      local proxy = setmetatable({}, { __index = function() return 1 end, __len = function() return 3 end })
      assert.are.equal("90", hex(msgpack.pack(proxy)))
      assert.are.equal("81a16101", hex(msgpack.pack(setmetatable({ a = 1 }, { __pairs = error }))))
    end)
  end)

  describe("kind", function()
    it("says how pack would encode a value", function()
      assert.are.equal("nil", msgpack.kind(nil))
      assert.are.equal("boolean", msgpack.kind(false))
      assert.are.equal("integer", msgpack.kind(1))
      assert.are.equal("float", msgpack.kind(1.0))
      assert.are.equal("string", msgpack.kind("x"))
      assert.are.equal("array", msgpack.kind({ 1, 2 }))
      assert.are.equal("map", msgpack.kind(msgpack.unpack("\x80")))
      assert.are.equal("map", msgpack.kind({ x = 1 }))
      assert.is_nil(msgpack.kind(print))
      assert.is_nil(msgpack.kind(io.stdout))
      assert.is_nil(msgpack.kind(coroutine.create(print)))
    end)
  end)

  describe("round trips", function()
    it("give back the same values", function()
      local v = { 1, 42, "power/read", {
        { volts = 12.01, amps = 0.53, ts = 1732190000.123, channel = "a", ok = true },
        { volts = -1.5, tags = { "x", "y" }, raw = msgpack.binary("\0\1"), ext = msgpack.ext(3, "e") },
        { nested = { deeper = { deepest = { math.mininteger, math.maxinteger } } } },
      } }
      assert.are.same(v, decode(msgpack.pack(v)))
    end)

    it("give back the same bytes", function()
      for _, h in ipairs({
        "90", "80", "c0", "c2", "93c0c0c0", "9301c003", "92c001", "91c0",
        "81a16190", "8101a161", "81a178c3", "92" .. "80" .. "90",
        "cfffffffffffffffff", "d38000000000000000", "cb3ff8000000000000",
        "c4026162", "c7030561 6263", "d6ff00000001", "dc0010" .. ("c0"):rep(16),
        "9281a16193c0c0c0" .. "80", "a0", "d920" .. ("78"):rep(32),
      }) do
        local bytes = unhex(h)
        assert.are.equal(hex(bytes), hex(msgpack.pack(msgpack.unpack(bytes))))
      end
    end)

    it("normalise only what Lua cannot tell apart", function()
      -- float32 becomes float64; wider integer forms become the smallest.
      assert.are.equal("cb3ff8000000000000", hex(msgpack.pack(msgpack.unpack(unhex("ca3fc00000")))))
      assert.are.equal("01", hex(msgpack.pack(msgpack.unpack(unhex("cd0001")))))
    end)
  end)

  describe("pack errors", function()
    it("name the type and where it is", function()
      assert.has_error(function()
        msgpack.pack({ 1, 42, "m", { params = { 1, { cb = print } } } })
      end, "msgpack.pack: cannot pack a function at value[4].params[2].cb")
      assert.has_error(function() msgpack.pack(print) end,
        "msgpack.pack: cannot pack a function at value")
      assert.has_error(function() msgpack.pack({ co = coroutine.create(print) }) end,
        "msgpack.pack: cannot pack a thread at value.co")
      assert.has_error(function() msgpack.pack({ f = io.stdout }) end,
        "msgpack.pack: cannot pack a userdata (FILE*) at value.f")
      assert.has_error(function() msgpack.pack({ ["a b"] = { 1, print } }) end,
        'msgpack.pack: cannot pack a function at value["a b"][2]')
      assert.has_error(function() msgpack.pack({ [true] = { [2.5] = print } }) end,
        "msgpack.pack: cannot pack a function at value[true][2.5]")
      assert.has_error(function() msgpack.pack({ x = { [print] = 1 } }) end,
        "msgpack.pack: cannot pack a function at value.x.<key>")
    end)

    it("find reference cycles", function()
      local t = {}
      t.self = t
      assert.has_error(function() msgpack.pack(t) end,
        "msgpack.pack: cannot pack a reference cycle at value.self (a table that contains itself)")
      local a = { b = { c = {} } }
      a.b.c.back = a
      assert.has_error(function() msgpack.pack({ a }) end,
        "msgpack.pack: cannot pack a reference cycle at value[1].b.c.back (a table that contains itself)")
      -- The same table twice, side by side, is no cycle.
      local shared = { 1 }
      assert.are.equal("9291019101", hex(msgpack.pack({ shared, shared })))
    end)

    it("stop at 64 levels of nesting, or max_depth", function()
      assert.are.same(nested(64), decode(msgpack.pack(nested(64))))
      assert.has_error(function() msgpack.pack(nested(65)) end,
        "msgpack.pack: nesting deeper than 64 levels at value" .. ("[1]"):rep(64))
      assert.has_error(function() msgpack.pack({ { {} } }, { max_depth = 2 }) end,
        "msgpack.pack: nesting deeper than 2 levels at value[1][1]")
      assert.has_error(function() msgpack.pack({}, { max_depth = 0 }) end,
        "msgpack.pack: nesting deeper than 0 levels at value")
      assert.are.equal("01", hex(msgpack.pack(1, { max_depth = 0 })))
      assert.are.equal("9190", hex(msgpack.pack({ {} }, { max_depth = 2 })))
    end)

    it("check their arguments and options", function()
      assert.has_error(function() msgpack.pack() end,
        "bad argument #1 to 'pack' (value expected)")
      assert.has_error(function() msgpack.pack(1, { maxdepth = 1 }) end,
        "bad argument #2 to 'pack' (unknown option 'maxdepth')")
      assert.has_error(function() msgpack.pack(1, { binary = "string" }) end,
        "bad argument #2 to 'pack' (unknown option 'binary')")
      assert.has_error(function() msgpack.pack(1, { max_depth = 65 }) end,
        "bad argument #2 to 'pack' (option 'max_depth' must be an integer in 0..64)")
      assert.has_error(function() msgpack.pack(1, { empty = "list" }) end,
        "bad argument #2 to 'pack' (option 'empty' must be \"array\" or \"map\")")
      assert.has_error(function() msgpack.pack(1, "x") end,
        "bad argument #2 to 'pack' (table expected, got string)")
    end)

    it("leave pack working for the next call", function()
      pcall(msgpack.pack, { 1, 2, { print } })
      assert.are.equal("93010203", hex(msgpack.pack({ 1, 2, 3 })))
    end)
  end)

  describe("unpack", function()
    it("starts at pos and returns the position after the value", function()
      local s = msgpack.pack(1) .. msgpack.pack("ab") .. msgpack.pack({})
      local got, pos = {}, 1
      while pos <= #s do
        got[#got + 1], pos = msgpack.unpack(s, pos)
      end
      assert.are.same({ 1, "ab", {} }, got)
      assert.are.equal(#s + 1, pos)
      assert.are.same({ {}, #s + 1 }, { msgpack.unpack(s, -1) })
    end)

    it("reports truncated input", function()
      assert.has_error(function() msgpack.unpack("\x92\x01") end,
        "msgpack.unpack: truncated input: value starting at byte 1 needs more than the 2 bytes given")
      assert.has_error(function() msgpack.unpack("\x01\x92\x01", 2) end,
        "msgpack.unpack: truncated input: value starting at byte 2 needs more than the 2 bytes given")
      assert.has_error(function() msgpack.unpack("") end,
        "msgpack.unpack: truncated input: value starting at byte 1 needs more than the 0 bytes given")
      assert.has_error(function() msgpack.unpack("\x01", 2) end,
        "msgpack.unpack: truncated input: value starting at byte 2 needs more than the 0 bytes given")
      assert.has_error(function() msgpack.unpack("\xa5abc") end,
        "msgpack.unpack: truncated input: value starting at byte 1 needs more than the 4 bytes given")
    end)

    it("reports malformed input with the offending byte's position", function()
      assert.has_error(function() msgpack.unpack("\x92\x01\xc1") end,
        "msgpack.unpack: malformed input: invalid byte 0xc1 at byte 3")
      assert.has_error(function() msgpack.unpack("\xc1") end,
        "msgpack.unpack: malformed input: invalid byte 0xc1 at byte 1")
    end)

    it("stops at 64 levels of nesting, or max_depth", function()
      assert.are.same(nested(64), decode(msgpack.pack(nested(64))))
      local deep = ("\x91"):rep(65) .. "\x01"
      assert.has_error(function() msgpack.unpack(deep) end,
        "msgpack.unpack: nesting deeper than 64 levels at value" .. ("[1]"):rep(64))
      assert.has_error(function() msgpack.unpack(("\x91"):rep(64) .. "\x90") end,
        "msgpack.unpack: nesting deeper than 64 levels at value" .. ("[1]"):rep(64))
      -- A hostile count deep inside fails as truncated, not as a table of
      -- four billion slots.
      assert.has_error(function() msgpack.unpack("\x91\x91\xdd\xff\xff\xff\xff\x01") end,
        "msgpack.unpack: truncated input: value starting at byte 1 needs more than the 8 bytes given")
      assert.has_error(function() msgpack.unpack("\x91\x91\x91\x01", 1, { max_depth = 2 }) end,
        "msgpack.unpack: nesting deeper than 2 levels at value[1][1]")
      assert.has_error(function() msgpack.unpack("\x81\xa1k\x91\x01", 1, { max_depth = 1 }) end,
        "msgpack.unpack: nesting deeper than 1 level at value.k")
      assert.are.same({ { 1 } }, msgpack.unpack("\x91\x91\x01", 1, { max_depth = 2 }))
    end)

    it("checks its arguments and options", function()
      assert.has_error(function() msgpack.unpack({}) end,
        "bad argument #1 to 'unpack' (string expected, got table)")
      assert.has_error(function() msgpack.unpack(5) end,
        "bad argument #1 to 'unpack' (string expected, got number)")
      assert.has_error(function() msgpack.unpack("\x01", 3) end,
        "bad argument #2 to 'unpack' (initial position out of string)")
      assert.has_error(function() msgpack.unpack("\x01", 0) end,
        "bad argument #2 to 'unpack' (initial position out of string)")
      assert.has_error(function() msgpack.unpack("\x01", -2) end,
        "bad argument #2 to 'unpack' (initial position out of string)")
      assert.has_error(function() msgpack.unpack("\x01", 1, { binary = "bytes" }) end,
        "bad argument #3 to 'unpack' (option 'binary' must be \"object\" or \"string\")")
      assert.has_error(function() msgpack.unpack("\x01", 1, { empty = "map" }) end,
        "bad argument #3 to 'unpack' (unknown option 'empty')")
    end)

    -- Every cut and every one-byte change of a realistic message: unpack
    -- either returns a value or raises one of its own messages, and agrees
    -- with the unpacker fed the same bytes.
    it("meets damaged input with its own errors, never a crash", function()
      local bytes = msgpack.pack({ 1, 42, "power/read",
        { { volts = 12.5, ok = true, tag = msgpack.binary("\0\1") },
          msgpack.ext(5, "xy"), -7, 2 ^ 40, msgpack.array(nil, 3) } })
      local function check(s)
        local ok, err = pcall(msgpack.unpack, s)
        if not ok then
          assert.matches("^msgpack%.unpack: ", err)
        end
        local u = msgpack.unpacker()
        u:feed(s)
        local got = { u:next() }
        assert.are.equal(ok, got[1] == true)
      end
      for i = 0, #bytes do
        check(bytes:sub(1, i))
      end
      for i = 1, #bytes do
        for _, b in ipairs({ 0x00, 0x7f, 0x80, 0xc1, 0xdc, 0xdd, 0xdf, 0xff }) do
          check(bytes:sub(1, i - 1) .. string.char(b) .. bytes:sub(i + 1))
        end
      end
    end)
  end)

end)
