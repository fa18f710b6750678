-- hilt.http: requests as a server reads them, whatever the byte splits,
-- and the errors (with their suggested status) it answers bad ones with.
local http = require("hilt.http")

local GET = "GET /get/a/b?wrap HTTP/1.1\r\nHost: lab\r\nAccept: */*\r\n\r\n"
local POST = "POST /set/a HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n"
  .. "Content-Length: 11\r\n\r\n{\"v\": 1.5}\n"

-- Feeds the chunks to a new parser; returns all requests and the error.
local function parse(chunks, opts)
  local p = http.parser(opts)
  local all, err, status = {}, nil, nil
  for _, c in ipairs(chunks) do
    local reqs
    reqs, err, status = p:feed(c)
    table.move(reqs, 1, #reqs, #all + 1, all)
    if err then break end
  end
  return all, err, status, p
end

local function one(s, opts)
  local reqs, err, status = parse({ s }, opts)
  assert.is_nil(err, status)
  assert.are.equal(1, #reqs)
  return reqs[1]
end

local function split_bytes(s)
  local t = {}
  for i = 1, #s do t[i] = s:sub(i, i) end
  return t
end

describe("hilt.http parser", function()
  it("reads a GET: method, url, path, query, version, headers", function()
    local r = one(GET)
    assert.are.same({
      method = "GET", url = "/get/a/b?wrap", path = "/get/a/b", query = "wrap",
      version = "1.1", headers = { host = "lab", accept = "*/*" }, body = "",
      keep_alive = true, upgrade = false,
    }, r)
  end)

  it("leaves query nil when the url has none, and splits absolute urls", function()
    assert.is_nil(one("GET / HTTP/1.1\r\n\r\n").query)
    assert.is_nil(one("GET /a? HTTP/1.1\r\n\r\n").query)
    assert.are.equal("b", one("GET /a?b#c HTTP/1.1\r\n\r\n").query)
    local r = one("GET http://lab:8080/x/y?a=1&b=2 HTTP/1.1\r\n\r\n")
    assert.are.equal("/x/y", r.path)
    assert.are.equal("a=1&b=2", r.query)
    assert.are.equal("http://lab:8080/x/y?a=1&b=2", r.url)
    assert.are.equal("*", one("OPTIONS * HTTP/1.1\r\n\r\n").path)
  end)

  it("reads a POST body by Content-Length", function()
    local r = one(POST)
    assert.are.equal("POST", r.method)
    assert.are.equal('{"v": 1.5}\n', r.body)
    assert.are.equal("application/json", r.headers["content-type"])
    assert.are.equal("11", r.headers["content-length"])
  end)

  it("reads a chunked body, joined, trailers left out", function()
    local s = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      .. "5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n"
    for _, chunks in ipairs({ { s }, split_bytes(s) }) do
      local reqs, err = parse(chunks)
      assert.is_nil(err)
      assert.are.equal(1, #reqs)
      assert.are.equal("hello world!", reqs[1].body)
      assert.are.equal("chunked", reqs[1].headers["transfer-encoding"])
      assert.is_nil(reqs[1].headers["x-trailer"])
    end
  end)

  it("lowercases header names and joins repeated ones with ', '", function()
    local r = one("GET / HTTP/1.1\r\nX-Tag: a\r\nCONTENT-type: text/plain\r\n"
      .. "x-tag: b\r\nX-TAG: c\r\nEmpty:\r\n\r\n")
    assert.are.same({ ["x-tag"] = "a, b, c", ["content-type"] = "text/plain", empty = "" },
      r.headers)
  end)

  it("reports Expect: 100-continue as a header, body still to come", function()
    local p = http.parser()
    local reqs = p:feed("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert.are.equal(0, #reqs)
    reqs = p:feed("ok")
    assert.are.equal("100-continue", reqs[1].headers.expect)
    assert.are.equal("ok", reqs[1].body)
  end)

  it("returns pipelined requests in order, split at any byte", function()
    local s = POST .. GET
    for cut = 0, #s do
      local reqs, err = parse({ s:sub(1, cut), s:sub(cut + 1) })
      assert.is_nil(err)
      assert.are.equal(2, #reqs, "split at " .. cut)
      assert.are.equal("POST", reqs[1].method)
      assert.are.equal('{"v": 1.5}\n', reqs[1].body)
      assert.are.equal("GET", reqs[2].method)
      assert.are.equal("wrap", reqs[2].query)
      assert.are.same({ host = "lab", accept = "*/*" }, reqs[2].headers)
    end
    local reqs = parse(split_bytes(s))
    assert.are.equal(2, #reqs)
    assert.are.equal("lab", reqs[2].headers.host)
  end)

  it("returns each request as soon as its last byte is in", function()
    local p = http.parser()
    local reqs = p:feed(GET:sub(1, -2))
    assert.are.equal(0, #reqs)
    reqs = p:feed(GET:sub(-1) .. GET:sub(1, 5))
    assert.are.equal(1, #reqs)
    reqs = p:feed(GET:sub(6))
    assert.are.equal(1, #reqs)
  end)

  describe("keep-alive", function()
    it("is on for HTTP/1.1 and off with Connection: close", function()
      assert.is_true(one(GET).keep_alive)
      assert.is_false(one("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive)
    end)

    it("is off for HTTP/1.0 unless asked for", function()
      local r = one("GET / HTTP/1.0\r\n\r\n")
      assert.are.equal("1.0", r.version)
      assert.is_false(r.keep_alive)
      assert.is_true(one("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive)
    end)

    it("ends the parse: bytes after a closing request are ignored", function()
      local reqs, err, _, p = parse({ "GET / HTTP/1.1\r\nConnection: close\r\n\r\n" .. GET })
      assert.is_nil(err)
      assert.are.equal(1, #reqs)
      assert.are.equal(0, #p:feed(GET))
      assert.are.equal("http.parser (done)", tostring(p))
    end)
  end)

  it("reports an upgrade and stops there", function()
    local reqs, err, _, p = parse({ "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
      .. "Connection: Upgrade\r\n\r\n\x81\x05hello" })
    assert.is_nil(err)
    assert.are.equal(1, #reqs)
    assert.is_true(reqs[1].upgrade)
    assert.are.equal("websocket", reqs[1].headers.upgrade)
    assert.are.equal(0, #p:feed("more"))
  end)

  describe("bad requests", function()
    it("return what came before, the error and 400", function()
      local reqs, err, status = parse({ GET .. "BREW /pot HTTP/1.1\r\n\r\n" })
      assert.are.equal(1, #reqs)
      assert.are.equal("bad HTTP request: invalid HTTP method", err)
      assert.are.equal(400, status)
    end)

    it("name what is wrong", function()
      local cases = {
        { "GET / HTTP/1.x\r\n\r\n", "bad HTTP request: invalid HTTP version" },
        { "GET /a b HTTP/1.1\r\n\r\n", "bad HTTP request: invalid constant string" },
        { "GET /\1 HTTP/1.1\r\n\r\n", "bad HTTP request: invalid URL" },
        { "GET\r\n\r\n", "bad HTTP request: invalid HTTP method" },
        { "GET / XTTP/1.1\r\n\r\n", "bad HTTP request: invalid constant string" },
        { "GET / HTTP/1.1\r\nBad(Name: x\r\n\r\n", "bad HTTP request: invalid character in header" },
        { "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
          "bad HTTP request: invalid character in content-length header" },
        { "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
          "bad HTTP request: unexpected content-length header" },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
          "bad HTTP request: invalid character in chunk size header" },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
          "bad HTTP request: request has invalid transfer-encoding" },
      }
      for _, c in ipairs(cases) do
        local reqs, err, status = parse({ c[1] })
        assert.are.equal(0, #reqs, c[1])
        assert.are.equal(c[2], err)
        assert.are.equal(400, status)
      end
    end)

    it("leave the parser failed", function()
      local p = http.parser()
      local _, err = p:feed("NOPE / HTTP/1.1\r\n")
      assert.are.equal("bad HTTP request: invalid HTTP method", err)
      local reqs, again, status = p:feed(GET)
      assert.are.equal(0, #reqs)
      assert.are.equal(err, again)
      assert.are.equal(400, status)
      assert.are.same({ {}, err, 400 }, { p:eof() })
      assert.are.equal("http.parser (failed)", tostring(p))
    end)

    it("fail the same however the bytes are split", function()
      local s = GET .. "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"
      local reqs, err = parse(split_bytes(s))
      assert.are.equal(1, #reqs)
      assert.are.equal("bad HTTP request: invalid character in header", err)
      assert.are.same({ reqs[1] }, (parse({ s })))
    end)
  end)

  describe("header limit", function()
    -- A request line and one header making exactly n bytes with the blank line.
    local function request_of(n)
      local head = "GET / HTTP/1.1\r\nX: "
      return head .. ("v"):rep(n - #head - 4) .. "\r\n\r\n"
    end

    it("allows exactly max_header_bytes, and answers one more with 431", function()
      for _, split in ipairs({ false, true }) do
        local s = request_of(16384)
        local chunks = split and split_bytes(s) or { s }
        local reqs, err = parse(chunks)
        assert.is_nil(err)
        assert.are.equal(1, #reqs)
        s = request_of(16385)
        chunks = split and split_bytes(s) or { s }
        local status
        reqs, err, status = parse(chunks)
        assert.are.equal(0, #reqs)
        assert.are.equal("request headers over 16384 bytes", err)
        assert.are.equal(431, status)
      end
    end)

    it("counts each pipelined request on its own", function()
      local s = request_of(100)
      local reqs, err = parse({ s .. s .. s }, { max_header_bytes = 100 })
      assert.is_nil(err)
      assert.are.equal(3, #reqs)
      reqs, err = parse({ s .. request_of(101) }, { max_header_bytes = 100 })
      assert.are.equal(1, #reqs)
      assert.are.equal("request headers over 100 bytes", err)
    end)

    it("fails an endless header before its end arrives", function()
      local p = http.parser({ max_header_bytes = 1024 })
      local reqs, err, status = p:feed("GET / HTTP/1.1\r\nX: " .. ("v"):rep(2000))
      assert.are.equal(0, #reqs)
      assert.are.equal("request headers over 1024 bytes", err)
      assert.are.equal(431, status)
    end)
  end)

  describe("body limit", function()
    it("answers a declared length over max_body with 413 before the body", function()
      local reqs, err, status = parse({ "POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n" })
      assert.are.equal(0, #reqs)
      assert.are.equal("request body over 1048576 bytes", err)
      assert.are.equal(413, status)
      local r = one("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd", { max_body = 4 })
      assert.are.equal("abcd", r.body)
    end)

    it("counts a chunked body as it arrives", function()
      local s = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        .. "4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n"
      assert.are.equal("abcdefgh", one(s, { max_body = 8 }).body)
      local reqs, err, status = parse(split_bytes(s), { max_body = 7 })
      assert.are.equal(0, #reqs)
      assert.are.equal("request body over 7 bytes", err)
      assert.are.equal(413, status)
    end)
  end)

  describe("eof", function()
    it("is fine between requests", function()
      local p = http.parser()
      assert.are.equal(1, #p:feed(GET))
      assert.are.same({ {} }, { p:eof() })
      assert.are.same({ {} }, { p:eof() })
    end)

    it("reports a request cut short, in its headers or its body", function()
      for _, s in ipairs({ "GET / HTTP/1.1\r\nHost: x\r\n", POST:sub(1, -3), "G" }) do
        local p = http.parser()
        assert.are.equal(0, #p:feed(s))
        local reqs, err, status = p:eof()
        assert.are.equal(0, #reqs)
        assert.are.equal("request cut short: the peer closed before its end", err)
        assert.are.equal(400, status)
      end
    end)
  end)

  describe("the parser object", function()
    it("checks its options", function()
      assert.has_error(function() http.parser({ max_headers = 1 }) end,
        "bad argument #1 to 'parser' (unknown option 'max_headers')")
      assert.has_error(function() http.parser({ max_header_bytes = 0 }) end,
        "bad argument #1 to 'parser' (option 'max_header_bytes' must be an integer in 1..81920)")
      assert.has_error(function() http.parser({ max_body = 1.5 }) end,
        "bad argument #1 to 'parser' (option 'max_body' must be an integer in 1..9223372036854775807)")
      assert.has_error(function() http.parser(5) end,
        "bad argument #1 to 'parser' (table expected, got number)")
    end)

    it("closes, frees and refuses use after", function()
      local p = http.parser()
      p:feed("GET / HTTP/1.1\r\nHost: half")
      assert.are.equal("http.parser (reading headers)", tostring(p))
      p:close()
      p:close()
      assert.are.equal("http.parser (closed)", tostring(p))
      assert.has_error(function() p:feed(GET) end,
        "calling 'feed' on bad self (parser is closed)")
      do
        local q <close> = http.parser()
        q:feed(GET .. "POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc")
      end
    end)

    it("is freed by the collector mid-request (the ASan build checks)", function()
      local q = http.parser()
      q:feed("POST / HTTP/1.1\r\nX-A: 1\r\nContent-Length: 9\r\n\r\nabc")
      assert.are.equal("http.parser (reading a body)", tostring(q))
      q = nil
      collectgarbage()
      collectgarbage()
    end)
  end)

  it("names status codes", function()
    assert.are.equal("OK", http.status_text(200))
    assert.are.equal("Not Found", http.status_text(404))
    assert.are.equal("Request Header Fields Too Large", http.status_text(431))
    assert.are.equal("Payload Too Large", http.status_text(413))
    assert.is_nil(http.status_text(299))
    assert.is_nil(http.status_text(-1))
  end)
end)
