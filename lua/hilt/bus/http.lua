-- hilt.bus.http: the hub over HTTP (docs/bus.md, "HTTP and Server-Sent
-- Events"): ESHET's HTTP API (../shared/reference/seed-semantics.md §1.1)
-- for scripts and curl, and Server-Sent Events streams of states, events
-- and channels for browsers.
--
--   GET  /get/PATH            the value (a state from the hub, a property
--                             from its owner)
--   POST /call/PATH           body: JSON list of arguments -> the result
--   POST /set/PATH            body: JSON value -> the owner's answer
--   GET  /events?state=PATH&event=PATH...           SSE of states and events
--   GET  /channels/ID/listen/LISTENER, /channels/ID/watch   SSE of a channel
--
-- Plain requests share one hub connection, which never registers,
-- listens or observes. SSE streams (hilt.bus.http_sse) read the
-- listener's journal, whose subscriptions are hub connections of their
-- own, one per path, held while a stream wants the path and `linger`
-- seconds after.
local hilt = require("hilt")
local hcore = require("hilt.core")
local net = require("hilt.net")
local http = require("hilt.http")
local json = require("hilt.json")
local log = require("hilt.log")
local sse = require("hilt.bus.http_sse")

local M = {}

local DEFAULTS = {
  journal = 4096,          -- notifications the journal keeps for resume
  journal_bytes = 8 << 20, -- and at most this much SSE text
  linger = 30,             -- seconds a path stays subscribed with no stream
  max_queued = 1 << 20,    -- bytes an SSE stream may have waiting
  ping = 15,               -- seconds of silence before ": ping"
  retry = 3000,            -- SSE retry, ms
  idle = 60,               -- seconds a connection may wait for a request
}

local ARRAY = getmetatable(json.array({}))

-- --- responses ----------------------------------------------------------------

local function reason(status)
  if status == 520 then
    return "ESHET Error"
  end
  return http.status_text(status) or "Unknown"
end

--- head(status, headers, body_length, close) -> the status line and
--- headers of a response; headers is a list of {name, value}; close adds
--- "Connection: close".
local function head(status, headers, body_length, close)
  local out = { ("HTTP/1.1 %d %s\r\n"):format(status, reason(status)) }
  for _, h in ipairs(headers) do
    out[#out + 1] = ("%s: %s\r\n"):format(h[1], h[2])
  end
  out[#out + 1] = ("Content-Length: %d\r\n"):format(body_length)
  if close then
    out[#out + 1] = "Connection: close\r\n"
  end
  out[#out + 1] = "\r\n"
  return table.concat(out)
end

local JSON_TYPE = { { "Content-Type", "application/json" } }

-- A response as handlers return it: { status, body, headers }. A value
-- JSON cannot carry (binary strings) is a 500 naming it.
local function json_reply(status, value, headers)
  local ok, body = pcall(json.encode, value)
  if not ok then
    status, body = 500, json.encode({ error = "not_json", message = body })
  end
  return { status = status, body = body, headers = headers }
end

local function http_error(status, code, fmt, ...)
  return json_reply(status, { error = code, message = fmt:format(...) })
end

-- The hub's errors and the owners' are ESHET's: 520 with the error's
-- value (an ESHET owner's own, when JSON can carry it), else its name or
-- message, and the path it is about, for a stream's.
local function eshet_error(err, path)
  if hcore.is_error(err, "cancelled") then
    error(err, 0)
  end
  local v = tostring(err)
  if hcore.is_error(err) then
    v = err.message
    if err.value ~= nil and pcall(json.encode, err.value) then
      v = err.value
    end
  end
  return json_reply(520, { error = v, path = path })
end

local function result(q, v)
  if v == nil then
    v = json.null
  end
  if q.wrap then
    v = { result = v }
  end
  return json_reply(200, v)
end

-- --- URLs ---------------------------------------------------------------------

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The query as a list of {name, value} (repeatable names) and by name
-- (the first of each).
local function parse_query(qs)
  local q = { list = {} }
  for part in (qs or ""):gmatch("[^&]+") do
    local k, v = part:match("^([^=]*)=?(.*)$")
    k, v = unescape((k:gsub("%+", " "))), unescape((v:gsub("%+", " ")))
    q.list[#q.list + 1] = { k, v }
    if q[k] == nil then q[k] = v end
  end
  return q
end

-- Last-Event-ID (the header, else ?last_event_id=) -> integer | nil;
-- or false, message.
local function last_event_id(req, q)
  local v = req.headers["last-event-id"]
  if v == nil or v == "" then
    v = q.last_event_id
  end
  if v == nil or v == "" then
    return nil
  end
  local n = v:match("^%s*(%d+)%s*$") and math.tointeger(tonumber(v))
  if not n then
    return false, ("Last-Event-ID must be an event id (an integer), got '%s'"):format(v)
  end
  return n
end

-- --- SSE ------------------------------------------------------------------------

local function events(srv, s, req, q)
  local wants = {}
  for _, kv in ipairs(q.list) do
    if kv[1] == "state" or kv[1] == "event" then wants[#wants + 1] = kv end
  end
  if #wants == 0 then
    return http_error(400, "bad_request",
      "GET /events needs state=PATH or event=PATH parameters")
  end
  local after, why = last_event_id(req, q)
  if after == false then
    return http_error(400, "bad_request", "%s", why)
  end
  local subs, err, path = srv.journal:follow(wants)
  if not subs then
    return eshet_error(err, path)
  end
  srv.journal:serve(s, subs, after)
end

local function channel_of(srv, id)
  local cc = srv.hub:channels()
  if not cc:has(id) then
    return nil, http_error(404, "no_channel", "no channel '%s'", id)
  end
  return cc:get(id)
end

local function channel_listen(srv, s, req, q, cid, lid)
  local ch, res = channel_of(srv, cid)
  if not ch then
    return res
  end
  if not ch:has_listener(lid) then
    return http_error(404, "no_listener", "no listener '%s' on channel '%s'", lid, cid)
  end
  local after, why = last_event_id(req, q)
  if after == false then
    return http_error(400, "bad_request", "%s", why)
  end
  sse.listen(s, ch, ch:listen(lid, { after = after }), srv.opts.ping)
end

local function channel_watch(srv, s, _, _, cid)
  local ch, res = channel_of(srv, cid)
  if not ch then
    return res
  end
  sse.watch(s, ch, srv.opts.ping)
end

-- --- plain requests -----------------------------------------------------------------

local function get(srv, _, _, q, path)
  local ok, v = pcall(srv.hc.get, srv.hc, path)
  if not ok then
    return eshet_error(v)
  end
  return result(q, v)
end

local function kind_of(v)
  if type(v) ~= "table" then
    return v == json.null and "null" or type(v)
  end
  return getmetatable(v) == ARRAY and "an array" or "an object"
end

local function call(srv, _, req, q, path)
  local args = { n = 0 }
  if req.body:find("%S") then
    local v, err = json.decode(req.body)
    if err then
      return http_error(400, "bad_json", "%s", err)
    end
    if type(v) ~= "table" or getmetatable(v) ~= ARRAY then
      return http_error(400, "bad_args",
        "POST /call takes a JSON array of arguments as its body, got %s", kind_of(v))
    end
    args.n = v.n or #v
    for i = 1, args.n do
      if v[i] ~= json.null then args[i] = v[i] end
    end
  end
  local ok, res = pcall(srv.hc.action_call, srv.hc, path, args)
  if not ok then
    return eshet_error(res)
  end
  return result(q, res)
end

local function set(srv, _, req, q, path)
  local v, err = json.decode(req.body)
  if err then
    return http_error(400, "bad_json", "%s", err)
  end
  if v == json.null then
    v = nil
  end
  local ok, res = pcall(srv.hc.set, srv.hc, path, v)
  if not ok then
    return eshet_error(res)
  end
  return result(q, res)
end

-- Pattern on the URL's path, method, handler(srv, stream, req, query,
-- captures...) -> response, or nil once it has served the connection
-- (an SSE stream) to its end.
local ROUTES = {
  { "^/get(/.*)$", "GET", get },
  { "^/call(/.*)$", "POST", call },
  { "^/set(/.*)$", "POST", set },
  { "^/events$", "GET", events },
  { "^/channels/([^/]+)/listen/([^/]+)$", "GET", channel_listen },
  { "^/channels/([^/]+)/watch$", "GET", channel_watch },
}

local function route(srv, s, req)
  for _, r in ipairs(ROUTES) do
    local caps = table.pack(req.path:match(r[1]))
    if caps[1] ~= nil then
      if req.method ~= r[2] then
        local res = http_error(405, "method_not_allowed", "%s takes %s, not %s",
          req.path, r[2], req.method)
        res.headers = { { "Allow", r[2] } }
        return res
      end
      for i = 1, caps.n do caps[i] = unescape(caps[i]) end
      return r[3](srv, s, req, parse_query(req.query), table.unpack(caps, 1, caps.n))
    end
  end
  return http_error(404, "not_found", "no route for %s %s", req.method, req.path)
end

-- Answers one request; false once the connection must end (the parser
-- reads nothing after an upgrade: it is another protocol).
local function answer(srv, s, req)
  local res = route(srv, s, req)
  if res == nil then
    return false
  end
  log.at("debug", "http", "%s %s -> %d", req.method, req.url, res.status)
  local headers = JSON_TYPE
  if res.headers then
    headers = table.move(res.headers, 1, #res.headers, 2, { JSON_TYPE[1] })
  end
  local keep = req.keep_alive and not req.upgrade
  s:write(head(res.status, headers, #res.body, not keep) .. res.body)
  return keep
end

-- A client that sent "Expect: 100-continue" may wait for "100 Continue"
-- before it sends its body (curl waits a second, then sends anyway). The
-- parser hands out whole requests only, so the header is looked for in
-- the bytes since the last request it completed.
local function continue(s, p, since)
  if tostring(p):find("reading a body", 1, true)
      and since:lower():find("\r\nexpect:[ \t]*100%-continue") then
    s:write("HTTP/1.1 100 Continue\r\n\r\n")
    return true
  end
  return false
end

-- Reads requests (pipelined or not) and answers them in order until the
-- client closes, asks to close, sends what the parser refuses (answered
-- with the parser's status, then closed) or stays silent `idle` seconds.
local function read_requests(srv, s, p)
  local since, continued = "", false
  while true do
    local ok, chunk = pcall(hilt.timeout, srv.opts.idle, s.read, s)
    if not ok then
      if hcore.is_error(chunk, "timeout") then return end
      error(chunk, 0)
    end
    local reqs, msg, status
    if chunk then
      reqs, msg, status = p:feed(chunk)
      if #reqs > 0 then
        since, continued = "", false
      elseif not continued and #since < 16384 then
        since = since .. chunk
        continued = continue(s, p, since)
      end
    else
      reqs, msg, status = p:eof()
    end
    for _, req in ipairs(reqs) do
      if not answer(srv, s, req) then return end
    end
    if msg then
      log.at("info", "http", "%s: %s, closed", tostring(s), msg)
      local body = json.encode({ error = "bad_request", message = msg })
      s:write(head(status, JSON_TYPE, #body, true) .. body)
      return
    end
    if chunk == nil then return end
  end
end

local function serve_conn(srv, s)
  srv.streams[s] = true
  local p <close> = http.parser()
  local ok, err = pcall(read_requests, srv, s, p)
  if not ok and not hcore.is_error(err, "cancelled") then
    log.at("debug", "http", "%s: %s", tostring(s), tostring(err))
  end
  srv.streams[s] = nil
  s:close()
end

--- serve(hub, addr [, opts]) -> listener: HTTP on addr for the hub.
--- opts override DEFAULTS above (journal, journal_bytes, linger,
--- max_queued, ping, retry, idle). listener:address(); listener:close()
--- stops listening, closes every connection and lets go of the hub.
function M.serve(hub, addr, opts)
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  local srv = { hub = hub, opts = o, streams = {}, hc = hub:connect({}),
    journal = sse.journal(hub, o) }
  local ok, listener = pcall(net.listen, addr, function(s) serve_conn(srv, s) end)
  if not ok then
    srv.hc:disconnect()
    error(listener, 0)
  end
  return {
    address = function() return listener:address() end,
    close = function()
      listener:close()
      for s in pairs(srv.streams) do s:close() end
      srv.journal:close()
      srv.hc:disconnect()
    end,
  }
end

return M
