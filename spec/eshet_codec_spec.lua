-- hilt.eshet.core: ESHET's binary protocol v1, checked against frames
-- built by hand with string.pack from the protocol's table
-- (seed-semantics.md §1.1), at every split point, and the errors a hub
-- or a client reads.
local eshet = require("hilt.eshet.core")
local msgpack = require("hilt.msgpack")

local pack = msgpack.pack

local function frame(payload)
  return string.pack(">BI2", 0x47, #payload) .. payload
end

local function err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  return err
end

-- One payload per type byte and the message it decodes to.
local cases = {
  { string.pack(">BBI2", 0x01, 1, 30),
    { type = "hello", code = 0x01, version = 1, timeout = 30 } },
  { string.pack(">BBI2", 0x02, 1, 300) .. pack("aa:bb"),
    { type = "hello_id", code = 0x02, version = 1, timeout = 300, value = pack("aa:bb") } },
  { "\x03", { type = "hello_server", code = 0x03 } },
  { "\x04" .. pack(12345), { type = "hello_id_server", code = 0x04, value = pack(12345) } },
  { string.pack(">BI2", 0x05, 7) .. pack(true),
    { type = "reply", code = 0x05, id = 7, ok = true, value = pack(true) } },
  { string.pack(">BI2", 0x06, 8) .. pack("path_not_found"),
    { type = "reply", code = 0x06, id = 8, ok = false, value = pack("path_not_found") } },
  { string.pack(">BI2", 0x07, 9) .. pack(21.5),
    { type = "reply_state", code = 0x07, id = 9, known = true, value = pack(21.5) } },
  { string.pack(">BI2", 0x08, 10), { type = "reply_state", code = 0x08, id = 10, known = false } },
  { string.pack(">BI2", 0x09, 65535), { type = "ping", code = 0x09, id = 65535 } },
  { string.pack(">BI2I4", 0x0a, 11, 1500) .. pack({ 1 }),
    { type = "reply_state_t", code = 0x0a, id = 11, ms = 1500, known = true, value = pack({ 1 }) } },
  { string.pack(">BI2I4", 0x0b, 12, 4294967295),
    { type = "reply_state_t", code = 0x0b, id = 12, ms = 4294967295, known = false } },
  { string.pack(">Bz", 0x33, "/e") .. pack("hi"),
    { type = "event_notify", code = 0x33, path = "/e", value = pack("hi") } },
  { string.pack(">Bz", 0x44, "/s") .. pack(false),
    { type = "state_notify", code = 0x44, path = "/s", known = true, value = pack(false) } },
  { string.pack(">Bz", 0x45, "/s"), { type = "state_notify", code = 0x45, path = "/s", known = false } },
}
-- The requests on a path: u16 id, the path, and for some a value.
for i, t in ipairs({
  { 0x10, "action_register" }, { 0x11, "action_call", { 1, 2 } }, { 0x20, "prop_register" },
  { 0x21, "prop_get" }, { 0x22, "prop_set", 3 }, { 0x23, "get" }, { 0x24, "set", { k = "v" } },
  { 0x30, "event_register" }, { 0x31, "event_emit", "x" }, { 0x32, "event_listen" },
  { 0x40, "state_register" }, { 0x41, "state_changed", 4 }, { 0x42, "state_unknown" },
  { 0x43, "state_observe" }, { 0x46, "state_observe_t" }, { 0x47, "state_set", 5 },
}) do
  local code, name, v = t[1], t[2], t[3]
  local payload = string.pack(">BI2z", code, 100 + i, "/a/b_" .. i)
  local m = { type = name, code = code, id = 100 + i, path = "/a/b_" .. i }
  if v ~= nil then
    payload = payload .. pack(v)
    m.value = pack(v)
  end
  cases[#cases + 1] = { payload, m }
end

local stream, messages = "", {}
for i, c in ipairs(cases) do
  stream = stream .. frame(c[1])
  messages[i] = c[2]
end

describe("hilt.eshet.core", function()
  describe("decoder", function()
    it("decodes every type byte of the protocol", function()
      local codes = {}
      for _, c in ipairs(cases) do
        local got, err = eshet.decoder():feed(frame(c[1]))
        assert.is_nil(err)
        assert.are.same({ c[2] }, got)
        codes[c[2].code] = true
      end
      local n = 0
      for _ in pairs(codes) do n = n + 1 end
      assert.are.equal(30, n)
    end)

    it("decodes an action_call built by hand, its value for msgpack.unpack", function()
      local args = pack({ 1, 2 })
      local bytes = string.pack(">BI2B I2 z", 0x47, 1 + 2 + 5 + #args, 0x11, 7, "/a/b") .. args
      local got = eshet.decoder():feed(bytes)
      assert.are.same({ { type = "action_call", code = 0x11, id = 7, path = "/a/b", value = args } }, got)
      assert.are.same({ 1, 2 }, (msgpack.unpack(got[1].value)))
    end)

    it("returns several frames of one feed in order", function()
      assert.are.same(messages, eshet.decoder():feed(stream))
    end)

    it("returns the same messages for a stream split at any byte", function()
      for i = 0, #stream do
        local d = eshet.decoder()
        local got = d:feed(stream:sub(1, i))
        for _, m in ipairs(d:feed(stream:sub(i + 1))) do got[#got + 1] = m end
        assert.are.same(messages, got)
        assert.are.equal(0, d:buffered())
      end
    end)

    it("returns the same messages for a stream fed one byte at a time", function()
      local d, got = eshet.decoder(), {}
      for i = 1, #stream do
        for _, m in ipairs(d:feed(stream:sub(i, i))) do got[#got + 1] = m end
      end
      assert.are.same(messages, got)
    end)

    it("holds the start of a frame until the rest arrives", function()
      local d = eshet.decoder()
      local f = frame(string.pack(">BI2", 0x09, 1))
      assert.are.same({}, d:feed(f:sub(1, 4)))
      assert.are.equal(4, d:buffered())
      assert.are.equal("eshet.decoder (4 bytes buffered)", tostring(d))
      assert.are.same({ { type = "ping", code = 9, id = 1 } }, d:feed(f:sub(5)))
      assert.are.same({}, d:feed(""))
    end)

    it("takes the largest frame", function()
      local path = "/" .. ("a"):rep(65530)
      local got = eshet.decoder():feed(frame(string.pack(">BI2z", 0x10, 1, path)))
      assert.are.equal(path, got[1].path)
    end)
  end)

  describe("decoder errors", function()
    local ping = frame(string.pack(">BI2", 0x09, 1))

    local function fails(bytes, message, code)
      local d = eshet.decoder()
      local got, err, c = d:feed(ping .. bytes)
      assert.are.same({ { type = "ping", code = 9, id = 1 } }, got)
      assert.are.equal("eshet: " .. message, err)
      assert.are.equal(code, c)
      return d
    end

    it("returns the messages before a bad sync byte, then stays failed", function()
      local d = fails("\x48\x00\x01\x09", "bad sync byte 0x48 at byte 7 of the stream (a frame starts with 0x47)",
        "bad_sync")
      local got, err, code = d:feed(ping)
      assert.are.same({}, got)
      assert.matches("bad sync byte 0x48", err)
      assert.are.equal("bad_sync", code)
      assert.are.equal("eshet.decoder (failed: bad_sync)", tostring(d))
    end)

    it("names each thing wrong in a frame or a message", function()
      fails("\x47\x00\x00", "empty frame at byte 7 of the stream (a payload holds at least its type byte)",
        "empty_frame")
      fails(frame("\x0c"), "unknown type byte 0x0c", "unknown_type")
      fails(frame("\x11\x00"), "payload too short for type action_call (0x11): 2 bytes, needs at least 5",
        "too_short")
      fails(frame("\x10\x00\x01/a"), "path not NUL-terminated in action_register (0x10)", "bad_path")
      fails(frame("\x11\x00\x01/a\x00"), "missing value in action_call (0x11)", "missing_value")
      fails(frame("\x09\x00\x01\x00"),
        "1 trailing byte after the fields of ping (0x09), from payload byte 4", "trailing_bytes")
      fails(frame("\x05\x00\x01" .. pack(1) .. pack(2)),
        "1 trailing byte after the value of reply (0x05), from payload byte 5", "trailing_bytes")
      fails(frame("\x05\x00\x01\xc1"), "bad msgpack value in reply (0x05): invalid byte 0xc1 at payload byte 4",
        "bad_value")
      fails(frame("\x33/e\x00\x92\x01"),
        "bad msgpack value in event_notify (0x33): truncated, the payload ends inside it", "bad_value")
    end)

    it("refuses a frame larger than max_buffer as soon as its header is in", function()
      local d = eshet.decoder(8)
      assert.are.same({ { type = "ping", code = 9, id = 1 } }, d:feed(ping))
      local got, err, code = d:feed("\x47\x00\x06")
      assert.are.same({}, got)
      assert.are.equal("eshet: frame at byte 7 of the stream is 9 bytes, more than the limit of 8", err)
      assert.are.equal("too_large", code)
    end)

    it("raises for misuse", function()
      assert.matches("max_buffer must be at least 4", err_of(eshet.decoder, 3))
      assert.matches("string expected", err_of(eshet.decoder().feed, eshet.decoder(), 5))
      local d = eshet.decoder()
      d:close()
      d:close()
      assert.matches("decoder is closed", err_of(d.feed, d, ping))
      assert.are.equal("eshet.decoder (closed)", tostring(d))
    end)
  end)

  describe("encode", function()
    it("writes the bytes of the protocol's table for every type", function()
      for _, c in ipairs(cases) do
        assert.are.equal(frame(c[1]), eshet.encode(c[2].type, c[2]))
      end
    end)

    it("writes what the decoder reads back", function()
      local bytes = eshet.encode("action_call", { id = 5, path = "/a/b", value = pack({ "x", 2 }) })
      assert.are.equal(string.pack(">BI2BI2z", 0x47, 1 + 2 + 5 + 4, 0x11, 5, "/a/b") .. pack({ "x", 2 }), bytes)
      local m = eshet.decoder():feed(bytes)[1]
      assert.are.same({ "x", 2 }, (msgpack.unpack(m.value)))
      assert.are.equal("\x47\x00\x03\x08\x00\x02", eshet.encode("reply_state", { id = 2, known = false }))
      assert.are.equal("\x47\x00\x04\x06\x00\x02\xc0", eshet.encode("reply", { id = 2, ok = false, value = pack(nil) }))
      assert.are.equal("\x47\x00\x01\x03", eshet.encode("hello_server", {}))
      assert.are.equal(frame(string.pack(">BI2z", 0x10, 0, "")), eshet.encode("action_register", { id = 0, path = "" }))
    end)

    it("takes a payload of 65535 bytes and no more", function()
      local path = "/" .. ("a"):rep(65530)
      assert.are.equal(3 + 65535, #eshet.encode("action_register", { id = 1, path = path }))
      assert.are.equal(65535, eshet.max_payload)
      assert.matches("payload of action_register %(0x10%) would be 65536 bytes, more than 65535",
        err_of(eshet.encode, "action_register", { id = 1, path = path .. "a" }))
      assert.matches("payload of event_emit %(0x31%) would be",
        err_of(eshet.encode, "event_emit", { id = 1, path = "/e", value = pack(("x"):rep(65530)) }))
    end)

    it("raises a clear error for a missing or wrong field", function()
      local function raises(pattern, name, fields)
        assert.matches(pattern, err_of(eshet.encode, name, fields))
      end
      raises("unknown message type 'pong'", "pong", {})
      raises("bad argument #2 to '[%w.]-encode' %(field 'id' of ping is missing%)", "ping", {})
      raises("field 'id' of ping must be an integer in 0..65535", "ping", { id = 65536 })
      raises("field 'id' of ping must be an integer in 0..65535", "ping", { id = -1 })
      raises("field 'id' of ping must be an integer in 0..65535", "ping", { id = 1.5 })
      raises("field 'id' of ping must be an integer in 0..65535", "ping", { id = "1" })
      raises("field 'version' of hello must be an integer in 0..255", "hello", { version = 256, timeout = 1 })
      raises("field 'timeout' of hello is missing", "hello", { version = 1 })
      raises("field 'ms' of reply_state_t must be an integer in 0..4294967295", "reply_state_t",
        { id = 1, known = false, ms = 4294967296 })
      raises("field 'path' of get must be a string", "get", { id = 1 })
      raises("field 'path' of get contains a NUL byte", "get", { id = 1, path = "/a\0b" })
      raises("field 'value' of set is missing", "set", { id = 1, path = "/a" })
      raises("field 'value' of set must be a string of msgpack bytes", "set", { id = 1, path = "/a", value = 5 })
      raises("field 'value' of ping given, but type byte 0x09 carries none", "ping", { id = 1, value = pack(1) })
      raises("field 'value' of reply_state given, but type byte 0x08 carries none", "reply_state",
        { id = 1, known = false, value = pack(1) })
      raises("field 'ok' of reply must be true or false, got nil", "reply", { id = 1, value = pack(1) })
      raises("field 'known' of state_notify must be true or false, got number", "state_notify",
        { path = "/s", known = 1 })
      raises("bad msgpack value in set %(0x24%): invalid byte 0xc1", "set", { id = 1, path = "/a", value = "\xc1" })
      raises("1 trailing byte after the value of set", "set", { id = 1, path = "/a", value = "\x01\x02" })
    end)
  end)
end)
