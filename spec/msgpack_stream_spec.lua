-- hilt.msgpack's streaming unpacker at every split point, agreement with
-- lua-messagepack, and behaviour under garbage collection.
local msgpack = require("hilt.msgpack")

local support = require("spec.support.msgpack")
local hex, unhex, decode = support.hex, support.unhex, support.decode
local nested, err_of = support.nested, support.err_of

describe("hilt.msgpack", function()
  describe("unpacker", function()
    -- 1, nil, "abc", [true, nil], {"k": 1.5}, [], bin "xy", uint64 max
    local values = msgpack.array({ 1, nil, "abc", msgpack.array({ true }, 2), { k = 1.5 }, {},
                                   msgpack.binary("xy"), msgpack.uint64("18446744073709551615") }, 8)
    local stream = ""
    for i = 1, values.n do stream = stream .. msgpack.pack(values[i]) end

    local function drain(u, into)
      while true do
        local ok, v = u:next()
        if not ok then return into end
        into.n = into.n + 1
        into[into.n] = v
      end
    end

    it("returns the values of a stream split at any byte", function()
      for i = 0, #stream do
        local u = msgpack.unpacker()
        local got = { n = 0 }
        u:feed(stream:sub(1, i))
        drain(u, got)
        u:feed(stream:sub(i + 1))
        drain(u, got)
        assert.are.same(values, got)
        assert.are.equal(0, u:buffered())
      end
    end)

    it("returns the values of a stream fed one byte at a time", function()
      local u = msgpack.unpacker()
      local got = { n = 0 }
      for i = 1, #stream do
        u:feed(stream:sub(i, i))
        drain(u, got)
      end
      assert.are.same(values, got)
    end)

    it("counts the bytes it holds", function()
      local u = msgpack.unpacker()
      assert.are.equal(0, u:buffered())
      u:feed("\x01\x92\x01")
      assert.are.equal(3, u:buffered())
      assert.are.same({ true, 1, 2 }, { u:next() })
      assert.are.equal(2, u:buffered())
      assert.are.equal(false, u:next())
      u:feed("\x02")
      assert.are.same({ true, { 1, 2 }, 5 }, { u:next() })
      assert.are.equal(0, u:buffered())
      assert.are.equal("msgpack.unpacker (0 bytes buffered)", tostring(u))
    end)

    it("iterates with values(), nil values included", function()
      local u = msgpack.unpacker()
      u:feed(stream .. "\x92")
      local got, positions = { n = 0 }, {}
      for pos, v in u:values() do
        got.n = got.n + 1
        got[got.n] = v
        positions[#positions + 1] = pos
      end
      assert.are.same(values, got)
      assert.are.equal(#stream + 1, positions[#positions])
      assert.are.equal(1, u:buffered())
    end)

    it("reports bad input and stays failed until reset", function()
      local u = msgpack.unpacker()
      u:feed("\x01\xc1\x02")
      assert.are.same({ true, 1, 2 }, { u:next() })
      local ok, msg, code = u:next()
      assert.is_nil(ok)
      assert.are.equal("msgpack.unpacker: malformed input: invalid byte 0xc1 at byte 2", msg)
      assert.are.equal("malformed", code)
      assert.are.same({ nil, msg, code }, { u:next() })
      assert.has_error(function() u:feed("\x03") end,
        "msgpack.unpacker: feed after a failure (malformed input: invalid byte 0xc1 at byte 2); call reset() first")
      assert.has_error(function() for _ in u:values() do end end, msg)
      u:reset()
      assert.are.equal(0, u:buffered())
      u:feed("\x07\xc1")
      assert.are.same({ true, 7, 5 }, { u:next() })
      assert.are.equal("msgpack.unpacker: malformed input: invalid byte 0xc1 at byte 5", select(2, u:next()))
    end)

    it("limits depth and size", function()
      local u = msgpack.unpacker({ max_size = 4 })
      u:feed("\xa3abc\xa5hel")
      assert.are.same({ true, "abc", 5 }, { u:next() })
      assert.are.same({ nil, "msgpack.unpacker: value starting at byte 5 is larger than the limit of 4 bytes", "too_large" },
        { u:next() })
      u = msgpack.unpacker({ max_depth = 1 })
      u:feed("\x91\x01\x91\x91\x01")
      assert.are.same({ true, { 1 }, 3 }, { u:next() })
      assert.are.same({ nil, "msgpack.unpacker: nesting deeper than 1 level at byte 4", "too_deep" },
        { u:next() })
      u = msgpack.unpacker()
      u:feed(("\x91"):rep(65) .. "\x01")
      assert.are.same({ nil, "msgpack.unpacker: nesting deeper than 64 levels at byte 65", "too_deep" },
        { u:next() })
    end)

    it("waits without allocating for a header that claims billions of elements", function()
      local u = msgpack.unpacker()
      u:feed("\xdd\xff\xff\xff\xff\xdf\xff\xff\xff\xff")
      assert.are.equal(false, u:next())
      assert.are.equal(10, u:buffered())
    end)

    it("skips past a value Lua cannot hold and goes on", function()
      local u = msgpack.unpacker()
      u:feed("\x81\xc0\x01\x02")
      assert.are.same({ nil, "msgpack.unpacker: map has a nil key, which a Lua table cannot hold, at value", "bad_key" },
        { u:next() })
      assert.are.same({ true, 2, 5 }, { u:next() })
    end)

    it("takes binary = \"string\"", function()
      local u = msgpack.unpacker({ binary = "string" })
      u:feed("\xc4\x01x")
      assert.are.same({ true, "x", 4 }, { u:next() })
    end)

    it("checks its options and its state", function()
      assert.has_error(function() msgpack.unpacker({ max_size = -1 }) end,
        "bad argument #1 to 'unpacker' (option 'max_size' must be an integer in 0.."
          .. math.maxinteger .. ")")
      assert.has_error(function() msgpack.unpacker({ empty = "map" }) end,
        "bad argument #1 to 'unpacker' (unknown option 'empty')")
      local u = msgpack.unpacker()
      assert.has_error(function() u:feed(5) end,
        "bad argument #1 to 'feed' (string expected, got number)")
      u:close()
      u:close()
      assert.are.equal("msgpack.unpacker (closed)", tostring(u))
      assert.has_error(function() u:feed("x") end,
        "calling 'feed' on bad self (unpacker is closed)")
      do
        local v <close> = msgpack.unpacker()
        v:feed("\x01")
      end
    end)
  end)

  describe("against lua-messagepack", function()
    local saved = package.path
    package.path = "/usr/share/lua/5.3/?.lua;" .. package.path
    local found, lmp = pcall(require, "MessagePack")
    package.path = saved
    if not found then
      pending("lua-messagepack is not installed")
      return
    end

    local values = { 0, 127, 128, -33, 65536, 2 ^ 32, math.maxinteger, math.mininteger,
                     1.5, -0.25, "", ("y"):rep(300), { 1, 2, { 3 } },
                     { a = { b = "c" } }, true, false, {} }

    it("writes the same bytes", function()
      for _, v in ipairs(values) do
        assert.are.equal(hex(lmp.pack(v)), hex(msgpack.pack(v)))
      end
    end)

    it("reads what the other writes", function()
      for _, v in ipairs(values) do
        assert.are.same(v, decode(lmp.pack(v)))
        assert.are.same(v, lmp.unpack(msgpack.pack(v)))
      end
      -- lua-messagepack writes a 40-byte string as str16, hilt as str8.
      local s = ("x"):rep(40)
      assert.are.equal(s, decode(lmp.pack(s)))
      assert.are.equal(s, lmp.unpack(msgpack.pack(s)))
    end)
  end)

  describe("under garbage collection", function()
    it("keeps results intact when finalizers pack and unpack meanwhile", function()
      local payload = {}
      for i = 1, 50 do payload[i] = { i = i, name = "n" .. i, list = { i, i + 0.5 } } end
      local bytes = msgpack.pack(payload)
      local u = msgpack.unpacker()
      local function churn()
        setmetatable({}, { __gc = function()
          msgpack.unpack(msgpack.pack({ 1, { a = "b" } }))
          pcall(u.next, u)
        end })
      end
      collectgarbage("incremental")
      for _ = 1, 50 do
        for _ = 1, 20 do churn() end
        assert.are.same(payload, msgpack.unpack(bytes))
        assert.are.equal(bytes, msgpack.pack(payload))
        u:feed(bytes)
        local ok, v = u:next()
        assert.is_true(ok)
        assert.are.same(payload, v)
      end
      collectgarbage()
    end)
  end)
end)
