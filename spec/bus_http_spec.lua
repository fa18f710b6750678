-- `hilt hub --http`: ESHET's HTTP API and Server-Sent Events, against a
-- real hub process, with owners on the bus in this process and curl or
-- raw sockets as the HTTP clients.
local hilt = require("hilt")
local busmod = require("hilt.bus")
local net = require("hilt.net")
local process = require("hilt.process")
local json = require("hilt.json")
local hubs = require("spec.support.hub")
local wait = require("spec.support.wait")

-- --- HTTP clients -------------------------------------------------------------

-- Splits what curl -i printed (one response or more) into
-- {status, reason, headers (lowercase names), body}.
local function responses(text)
  local out, pos = {}, 1
  while pos <= #text do
    local stop = assert(text:find("\r\n\r\n", pos, true), "no end of headers")
    local head = text:sub(pos, stop - 1)
    local headers = {}
    for k, v in head:gmatch("\r\n([^:\r\n]+): ([^\r\n]*)") do
      headers[k:lower()] = v
    end
    local len = tonumber(headers["content-length"]) or (#text - stop - 3)
    out[#out + 1] = { status = tonumber(head:match("^HTTP/1%.1 (%d+)")),
      reason = head:match("^HTTP/1%.1 %d+ ([^\r\n]*)"), headers = headers,
      body = text:sub(stop + 4, stop + 3 + len) }
    pos = stop + 4 + len
  end
  return out
end

local function url(h, target)
  return "http://" .. h.addr.http:gsub("^tcp://", "") .. target
end

-- curl(args...) -> the responses it got.
local function curl(...)
  local r = process.run({ "curl", "-sS", "-i", "--max-time", "10", ... }, { timeout = 20 })
  assert.are.equal(0, r.code, r.stderr)
  return responses(r.stdout)
end

local function get(h, target)
  return curl(url(h, target))[1]
end

local function post(h, target, body)
  return curl("-X", "POST", "--data-binary", body, url(h, target))[1]
end

local function read_exactly(s, n)
  local parts, got = {}, 0
  while got < n do
    local b = assert(s:read(n - got), "EOF in a body")
    parts[#parts + 1] = b
    got = got + #b
  end
  return table.concat(parts)
end

-- One response from a raw socket, or nil at EOF.
local function read_response(s)
  local head = hilt.timeout(5, s.read_until, s, "\r\n\r\n")
  if head == nil or head:sub(-4) ~= "\r\n\r\n" then
    return nil
  end
  local r = responses(head)[1]
  r.body = read_exactly(s, tonumber(r.headers["content-length"]))
  return r
end

local function request(method, target, body, extra)
  return ("%s %s HTTP/1.1\r\nHost: lab\r\n%sContent-Length: %d\r\n\r\n%s"):format(
    method, target, extra or "", #(body or ""), body or "")
end

-- --- SSE clients ------------------------------------------------------------------

-- Opens an SSE stream on a raw socket and reads up to the retry line.
local function sse(h, target, headers)
  local s = net.connect(h.addr.http)
  s:write(("GET %s HTTP/1.1\r\nHost: lab\r\n%s\r\n"):format(target, headers or ""))
  local head = hilt.timeout(5, s.read_until, s, "\r\n\r\n")
  return s, responses(head)[1]
end

-- The next SSE block as {fields..., raw}, data decoded as `value`; nil at EOF.
local function next_event(s, seconds)
  local block = hilt.timeout(seconds or 5, s.read_until, s, "\n\n")
  if block == nil or block:sub(-2) ~= "\n\n" then
    return nil
  end
  local ev = { raw = block }
  for line in block:gmatch("([^\n]*)\n") do
    local k, v = line:match("^([^:]*): ?(.*)$")
    if k and k ~= "" then ev[k] = v end
  end
  if ev.id then ev.id = math.tointeger(tonumber(ev.id)) end
  if ev.data then ev.value = json.decode(ev.data) end
  return ev
end

-- --- the bus side -------------------------------------------------------------------

local function owner(h)
  local b = busmod.connect(h.addr.wire)
  local temp = b:state_register("/lab/temp", { set = function(v)
    return "asked " .. tostring(v) end })
  temp:changed(21)
  b:action_register("/lab/add", function(x, y) return x + y end)
  b:action_register("/lab/count", function(...) return select("#", ...) end)
  b:action_register("/lab/fail", function() error("overheated", 0) end)
  b:prop_register("/lab/mode", { get = function() return "auto" end,
    set = function(v) return "mode " .. tostring(v) end })
  return b, temp, b:event_register("/lab/bell")
end

describe("hilt hub --http", function()
  local h, b, temp, bell
  before_each(function()
    h = hubs.start({ "--http", "127.0.0.1:0" })
    b, temp, bell = owner(h)
  end)
  after_each(function()
    b:close()
    h:remove()
  end)

  it("answers GET /get for states and properties, wrapped with ?wrap", function()
    local r = get(h, "/get/lab/temp")
    assert.are.same({ 200, "OK", "application/json", "21" },
      { r.status, r.reason, r.headers["content-type"], r.body })
    assert.are.equal("{\"result\":21}", get(h, "/get/lab/temp?wrap").body)
    assert.are.equal("\"auto\"", get(h, "/get/lab/mode").body)
    temp:changed({ 1.5, "x", { on = true } })
    assert.are.equal("[1.5,\"x\",{\"on\":true}]", get(h, "/get/lab/temp").body)
    -- Bytes that are not UTF-8 text have no JSON form.
    temp:changed("\xff\x00")
    local r2 = get(h, "/get/lab/temp")
    assert.are.same({ 500, "not_json" }, { r2.status, json.decode(r2.body).error })
    assert.matches("not valid UTF-8", json.decode(r2.body).message, 1, true)
  end)

  it("answers the hub's and the owners' errors as 520 ESHET Error naming them", function()
    local function eshet(r, name)
      assert.are.same({ 520, "ESHET Error", "application/json" },
        { r.status, r.reason, r.headers["content-type"] })
      assert.are.same({ error = name }, json.decode(r.body))
    end
    eshet(get(h, "/get/lab/nothing"), "path_not_found")
    eshet(get(h, "/get/lab/add"), "path_is_wrong_type")
    eshet(get(h, "/get/lab/bad-name"), "invalid_path")
    eshet(post(h, "/call/lab/fail", "[]"), "overheated")
    eshet(post(h, "/call/lab/temp", "[]"), "path_is_wrong_type")
    temp:unknown()
    eshet(get(h, "/get/lab/temp"), "state_unknown")
    eshet(get(h, "/get/lab/temp?wrap"), "state_unknown")
  end)

  it("calls actions with POST /call: a JSON array of arguments, or none", function()
    assert.are.equal("5", post(h, "/call/lab/add", "[2, 3]").body)
    assert.are.equal("{\"result\":5}", post(h, "/call/lab/add?wrap", "[2,3]").body)
    assert.are.equal("0", post(h, "/call/lab/count", "").body)
    assert.are.equal("3", post(h, "/call/lab/count", "[1, null, 3]").body)
    assert.are.equal("[\"dir\",[[\"lab\",\"dir\"]]]", post(h, "/call/meta/ls", "[\"/\"]").body)
    local r = post(h, "/call/lab/add", "{\"x\": 1}")
    assert.are.equal(400, r.status)
    assert.are.same({ error = "bad_args", message =
      "POST /call takes a JSON array of arguments as its body, got an object" },
      json.decode(r.body))
    assert.matches("got number", json.decode(post(h, "/call/lab/add", "7").body).message)
    r = post(h, "/call/lab/add", "[1,")
    assert.are.equal(400, r.status)
    assert.are.same({ error = "bad_json", message =
      "bad JSON at line 1, column 3: ']' expected near end of file" }, json.decode(r.body))
  end)

  it("sets with POST /set: the owner's answer", function()
    assert.are.equal("\"asked 30\"", post(h, "/set/lab/temp", "30").body)
    assert.are.equal("{\"result\":\"mode manual\"}",
      post(h, "/set/lab/mode?wrap", "\"manual\"").body)
    assert.are.equal("\"asked nil\"", post(h, "/set/lab/temp", "null").body)
    -- A set does not change a state: its owner does.
    assert.are.equal("21", get(h, "/get/lab/temp").body)
    local r = post(h, "/set/lab/temp", "{nope}")
    assert.are.equal(400, r.status)
    assert.are.equal("bad JSON at line 1, column 5: string or '}' expected near 'nope'",
      json.decode(r.body).message)
    assert.are.equal(520, post(h, "/set/lab/bell", "1").status)
  end)

  it("answers 404 for unknown routes and 405 with Allow for a wrong method", function()
    local r = get(h, "/nothing/here")
    assert.are.equal(404, r.status)
    assert.are.same({ error = "not_found", message = "no route for GET /nothing/here" },
      json.decode(r.body))
    assert.are.equal(404, get(h, "/get").status)
    r = get(h, "/call/lab/add")
    assert.are.same({ 405, "Method Not Allowed", "POST" },
      { r.status, r.reason, r.headers["allow"] })
    assert.are.equal("/call/lab/add takes POST, not GET", json.decode(r.body).message)
    r = post(h, "/get/lab/temp", "1")
    assert.are.same({ 405, "GET" }, { r.status, r.headers["allow"] })
    assert.are.equal("GET", post(h, "/events", "").headers["allow"])
  end)

  it("keeps a connection alive across requests", function()
    local s = net.connect(h.addr.http)
    s:write(request("GET", "/get/lab/temp"))
    local r = read_response(s)
    assert.are.same({ 200, "21" }, { r.status, r.body })
    assert.is_nil(r.headers["connection"])
    s:write(request("POST", "/call/lab/add", "[20,22]"))
    assert.are.equal("42", read_response(s).body)
    -- A bad body is the request's error; the connection stays.
    s:write(request("POST", "/set/lab/temp", "[1,"))
    assert.are.equal(400, read_response(s).status)
    s:write(request("GET", "/get/lab/mode", nil, "Connection: close\r\n"))
    r = read_response(s)
    assert.are.same({ "\"auto\"", "close" }, { r.body, r.headers["connection"] })
    assert.is_nil(s:read())
    s:close()
    -- curl reuses its connection for --next.
    local rs = curl(url(h, "/get/lab/temp"), "--next", "-i", "-X", "POST",
      "--data-binary", "[1,2]", url(h, "/call/lab/add"))
    assert.are.same({ "21", "3" }, { rs[1].body, rs[2].body })
  end)

  it("answers Expect: 100-continue before the body comes", function()
    local s = net.connect(h.addr.http)
    s:write("POST /call/lab/add HTTP/1.1\r\nHost: lab\r\nExpect: 100-continue\r\n"
      .. "Content-Length: 5\r\n\r\n")
    assert.are.equal("HTTP/1.1 100 Continue\r\n\r\n",
      hilt.timeout(5, s.read_until, s, "\r\n\r\n"))
    s:write("[2,5]")
    assert.are.equal("7", read_response(s).body)
    s:close()
  end)

  it("answers pipelined requests in order", function()
    local s = net.connect(h.addr.http)
    s:write(request("POST", "/call/lab/add", "[1,1]") .. request("GET", "/get/lab/temp")
      .. request("GET", "/nope") .. request("POST", "/set/lab/mode", "\"x\""))
    local got = {}
    for i = 1, 4 do
      local r = read_response(s)
      got[i] = r.status .. " " .. r.body
    end
    assert.are.same({ "200 2", "200 21", "404 " .. json.encode({ error = "not_found",
      message = "no route for GET /nope" }), "200 \"mode x\"" }, got)
    s:close()
  end)

  it("closes only the connection that sent a broken request", function()
    local good = net.connect(h.addr.http)
    local function refused(bytes, status, message)
      local s = net.connect(h.addr.http)
      s:write(bytes)
      local r = read_response(s)
      assert.are.same({ status, "close", "bad_request" },
        { r.status, r.headers["connection"], json.decode(r.body).error })
      assert.matches(message, json.decode(r.body).message, 1, true)
      assert.is_nil(s:read())
      s:close()
      good:write(request("GET", "/get/lab/temp"))
      assert.are.equal("21", read_response(good).body)
    end
    refused("GARBAGE\r\n\r\n", 400, "bad HTTP request: invalid HTTP method")
    refused("GET /get/lab/temp HTTP/1.1\r\nX-Big: " .. ("x"):rep(20000) .. "\r\n\r\n",
      431, "request headers over 16384 bytes")
    refused("POST /set/lab/temp HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n",
      413, "request body over 1048576 bytes")
    -- A request cut short by the peer's EOF.
    local s = net.connect(h.addr.http)
    s:write("POST /set/lab/temp HTTP/1.1\r\nContent-Length: 10\r\n\r\n12")
    s:shutdown()
    assert.are.equal(400, read_response(s).status)
    s:close()
    good:close()
  end)

  it("streams states' values and changes and events, with increasing ids", function()
    local s, r = sse(h, "/events?state=%2Flab%2Ftemp&event=/lab/bell&state=/lab/later")
    assert.are.same({ 200, "text/event-stream", "no-cache" },
      { r.status, r.headers["content-type"], r.headers["cache-control"] })
    assert.are.equal("retry: 3000\n\n", next_event(s).raw)
    -- The current values at once, the last with the journal's id.
    local first = next_event(s)
    assert.are.same({ "state", { path = "/lab/temp", value = 21 } }, { first.event, first.value })
    local second = next_event(s)
    assert.are.same({ "state", { path = "/lab/later", unknown = true } },
      { second.event, second.value })
    assert.are.equal("integer", math.type(second.id))
    local last = second.id
    local function expect(event, value)
      local ev = next_event(s)
      assert.are.same({ event, value }, { ev.event, ev.value })
      assert.is_true(ev.id > last, "ids increase")
      last = ev.id
      return ev
    end
    temp:changed(22)
    expect("state", { path = "/lab/temp", value = 22 })
    bell:emit("ding")
    expect("event", { path = "/lab/bell", value = "ding" })
    bell:emit(nil)
    expect("event", { path = "/lab/bell", value = json.null })
    temp:unknown()
    expect("state", { path = "/lab/temp", unknown = true })
    temp:changed(23)
    expect("state", { path = "/lab/temp", value = 23 })
    temp:changed(24)
    local ev = expect("state", { path = "/lab/temp", value = 24 })
    assert.are.equal(("id: %d\nevent: state\ndata: {\"path\":\"/lab/temp\",\"value\":24}\n\n")
      :format(ev.id), ev.raw)
    -- The owner goes: its state turns Unknown.
    b:close()
    expect("state", { path = "/lab/temp", unknown = true })
    s:close()
    b = busmod.connect(h.addr.wire)
  end)

  it("streams to curl -N", function()
    local r = process.run({ "curl", "-sN", "--max-time", "1",
      url(h, "/events?state=/lab/temp&event=/lab/bell") }, { timeout = 10 })
    assert.are.equal(28, r.code, "curl timed out, the stream still open")
    assert.matches("^retry: 3000\n\nid: %d+\nevent: state\ndata: "
      .. "{\"path\":\"/lab/temp\",\"value\":21}\n\n$", r.stdout)
  end)

  it("refuses an /events request it cannot follow", function()
    local r = get(h, "/events")
    assert.are.equal(400, r.status)
    assert.are.equal("GET /events needs state=PATH or event=PATH parameters",
      json.decode(r.body).message)
    r = get(h, "/events?state=/lab/add")
    assert.are.same({ 520, { error = "path_is_wrong_type", path = "/lab/add" } },
      { r.status, json.decode(r.body) })
    r = get(h, "/events?state=/lab/temp&last_event_id=x")
    assert.are.same({ 400, "Last-Event-ID must be an event id (an integer), got 'x'" },
      { r.status, json.decode(r.body).message })
  end)

  it("resumes from Last-Event-ID with what the client missed", function()
    local s = sse(h, "/events?state=/lab/temp&event=/lab/bell")
    next_event(s)
    local seen = next_event(s).id
    s:close()
    temp:changed(30)
    bell:emit("missed")
    temp:changed(31)
    -- The header, as a browser sends it.
    s = sse(h, "/events?state=/lab/temp&event=/lab/bell", ("Last-Event-ID: %d\r\n"):format(seen))
    assert.are.equal("retry: 3000\n\n", next_event(s).raw)
    local got = {}
    for i = 1, 3 do
      local ev = next_event(s)
      assert.is_true(ev.id > seen)
      seen = ev.id
      got[i] = ev.value.value
    end
    assert.are.same({ 30, "missed", 31 }, got)
    s:close()
    -- The query parameter, for a first connection; only the asked paths.
    local t = sse(h, ("/events?event=/lab/bell&last_event_id=%d"):format(seen - 3))
    next_event(t)
    local ev = next_event(t)
    assert.are.same({ "event", "missed", seen - 1 }, { ev.event, ev.value.value, ev.id })
    bell:emit("live")
    assert.are.equal("live", next_event(t).value.value)
    t:close()
  end)

  it("sends a gap and the current values when it cannot resume", function()
    -- An id the journal never gave (a hub restarted since).
    local s = sse(h, "/events?state=/lab/temp", "Last-Event-ID: 99999\r\n")
    next_event(s)
    local gap = next_event(s)
    assert.are.same({ "gap", { last_event_id = 99999 } }, { gap.event, gap.value })
    local now = next_event(s)
    assert.are.same({ "state", 21 }, { now.event, now.value.value })
    s:close()
    -- More notifications than the journal keeps (4096) since the client's.
    s = sse(h, "/events?state=/lab/temp&event=/lab/bell")
    next_event(s)
    local seen = next_event(s).id
    s:close()
    for i = 1, 4100 do bell:emit(i) end
    temp:changed(40)
    s = sse(h, "/events?state=/lab/temp&event=/lab/bell", ("Last-Event-ID: %d\r\n"):format(seen))
    next_event(s)
    assert.are.equal("gap", next_event(s).event)
    now = next_event(s)
    assert.are.same({ 40 }, { now.value.value })
    assert.is_true(now.id > seen + 4100)
    s:close()
    -- A path nobody followed since the client's id: the journal cannot tell.
    s = sse(h, "/events?state=/lab/other", ("Last-Event-ID: %d\r\n"):format(now.id))
    next_event(s)
    assert.are.equal("gap", next_event(s).event)
    s:close()
  end)

  it("drops an SSE client that does not read, and goes on", function()
    local s = sse(h, "/events?state=/lab/temp")
    local big = ("x"):rep(100000)
    for i = 1, 300 do
      temp:changed(big .. i)
      if i % 50 == 0 and h:log():find("SSE client too slow", 1, true) then break end
    end
    assert.is_true(wait.poll(5, function()
      return h:log():find("SSE client too slow", 1, true) ~= nil
    end))
    s:close()
    temp:changed(1)
    assert.are.equal("1", get(h, "/get/lab/temp").body)
  end)
end)

describe("hilt hub --http channels", function()
  local h, b, ch
  before_each(function()
    h = hubs.start({ "--http", "127.0.0.1:0" })
    b = busmod.connect(h.addr.wire)
    ch = b:channels():create({ id = "lab" })
    ch:add_listener("bench")
  end)
  after_each(function()
    b:close()
    h:remove()
  end)

  it("streams a listener's messages, resuming from Last-Event-ID", function()
    local s, r = sse(h, "/channels/lab/listen/bench")
    assert.are.same({ 200, "text/event-stream" }, { r.status, r.headers["content-type"] })
    assert.are.equal("retry: 3000\n\n", next_event(s).raw)
    ch:dispatch("bench", "job", { n = 1 })
    ch:broadcast("all", "hi")
    local ev = next_event(s)
    assert.are.equal("id: 1\nevent: job\ndata: {\"n\":1}\n\n", ev.raw)
    ev = next_event(s)
    assert.are.same({ 2, "all", "hi" }, { ev.id, ev.event, ev.value })
    s:close()
    ch:dispatch("bench", "job", 3)
    -- Back after id 1: message 2 again (kept), then 3 (queued).
    s = sse(h, "/channels/lab/listen/bench", "Last-Event-ID: 1\r\n")
    next_event(s)
    local got = { next_event(s), next_event(s) }
    assert.are.same({ { 2, "all" }, { 3, "job" } },
      { { got[1].id, got[1].event }, { got[2].id, got[2].event } })
    -- The listener's removal ends the stream.
    ch:remove_listener("bench")
    assert.is_nil(next_event(s))
    s:close()
  end)

  it("streams a watch, whose listener goes with the client", function()
    local s = sse(h, "/channels/lab/watch")
    assert.are.equal("retry: 3000\n\n", next_event(s).raw)
    assert.are.equal(2, #ch:listeners())
    ch:broadcast("tick", 1)
    local ev = next_event(s)
    assert.are.same({ "tick", 1 }, { ev.event, ev.value })
    s:close()
    assert.is_true(wait.poll(5, function() return #ch:listeners() == 1 end))
    assert.are.same({ "bench" }, ch:listeners())
  end)

  it("answers 404 naming an unknown channel or listener", function()
    local r = get(h, "/channels/nope/watch")
    assert.are.same({ 404, { error = "no_channel", message = "no channel 'nope'" } },
      { r.status, json.decode(r.body) })
    r = get(h, "/channels/lab/listen/nobody")
    assert.are.same({ 404, "no listener 'nobody' on channel 'lab'" },
      { r.status, json.decode(r.body).message })
  end)
end)

describe("bus.http in this process", function()
  it("pings an idle stream, and closes its connections when closed", function()
    local hub = require("hilt.bus.hub").new()
    local l = require("hilt.bus.http").serve(hub, "127.0.0.1:0", { ping = 0.05, linger = 0 })
    local s = net.connect(l:address())
    s:write("GET /events?state=/a HTTP/1.1\r\n\r\n")
    hilt.timeout(5, s.read_until, s, "\r\n\r\n")
    assert.are.equal("retry: 3000\n\n", next_event(s).raw)
    assert.are.equal("state", next_event(s).event)
    assert.are.equal(": ping\n\n", next_event(s).raw)
    assert.are.equal(": ping\n\n", next_event(s).raw)
    local idle = net.connect(l:address())
    l:close()
    assert.is_nil(next_event(s))
    assert.is_nil(idle:read())
    s:close()
    idle:close()
    -- The observation went with the stream.
    assert.is_true(wait.poll(2, function() return hub.nodes["/a"] == nil end))
    hilt.sleep(0.05)
  end)
end)
