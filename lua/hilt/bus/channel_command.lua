-- hilt.bus.channel_command: the verbs of eric-sse's SocketServer
-- (../shared/reference/seed-semantics.md §4.3) on a channel container,
-- apart from any transport. The transport decodes one JSON request, calls
-- command(), writes what it gets back and closes; it owns all I/O and
-- JSON. Requests:
--
--   { v = verb, c = channel id, t = message type, p = payload,
--     r = listener id (receiver), a = message id to resume after (l only) }
--
--   verb  needs      does                                   response
--   c     -          create a channel (with id c if given)  the channel id
--   r     c          add a listener (with id r if given)    the listener id
--   d     c, r, t    dispatch {t, p} to listener r          "ack"
--   b     c, t       broadcast {t, p}                       "ack"
--   rl    c, r       remove listener r                      "ack"
--   rc    c          remove (close) channel c               "ack"
--   l     c, r       stream listener r's messages           nil, after the stream
--   w     c          stream a new listener's broadcasts     nil, after the stream
--
-- A string response is meant to be written as bare text, as eric-sse does
-- (so its SocketClient reads ids unchanged). Streams call write_line with
-- one table per message, { event = type, data = payload, retry = ms,
-- id = message id }, until the listener is removed or the channel closed,
-- or write_line returns false (the client went away). A failed request
-- gets a table { error = code, message = text }; codes: bad_request,
-- unknown_verb, missing_key, no_channel, no_listener, channel_exists,
-- listener_exists.
local M = {}

local Failure = {}

local function fail(code, fmt, ...)
  error(setmetatable({ code = code, message = fmt:format(...) }, Failure), 0)
end

-- Verbs that need no message type (eric-sse's list).
local NO_TYPE = { c = true, r = true, rl = true, rc = true, l = true, w = true }

local KEY_NAMES = { c = "channel id", r = "listener id", t = "message type",
                    v = "verb" }

local function string_key(req, key, required)
  local v = req[key]
  if v == nil then
    if required then
      fail("missing_key", "missing key '%s' (%s) for verb '%s'", key,
        KEY_NAMES[key], req.v)
    end
    return nil
  end
  if type(v) ~= "string" or v == "" then
    fail("bad_request", "key '%s' (%s) must be a non-empty string, got %s",
      key, KEY_NAMES[key], type(v))
  end
  return v
end

local function channel_of(cc, req)
  local id = string_key(req, "c", true)
  if not cc:has(id) then
    fail("no_channel", "no channel '%s'", id)
  end
  return cc:get(id)
end

local function listener_of(ch, req)
  local id = string_key(req, "r", true)
  if not ch:has_listener(id) then
    fail("no_listener", "no listener '%s' on channel '%s'", id, ch.id)
  end
  return id
end

local function payload_of(req)
  local p = req.p
  local t = type(p)
  if t ~= "nil" and t ~= "boolean" and t ~= "number" and t ~= "string"
      and t ~= "table" then
    fail("bad_request", "key 'p' (payload) must be a JSON value, got %s", t)
  end
  return p
end

-- Writes each message as a line until the iterator ends or write_line
-- returns false.
local function stream(ch, next_msg, write_line)
  for msg in next_msg do
    local line = { event = msg.type, data = msg.payload, retry = ch.retry,
                   id = msg.id }
    if write_line(line) == false then
      return
    end
  end
end

local VERBS = {}

function VERBS.c(cc, req)
  local id = string_key(req, "c", false)
  if id and cc:has(id) then
    fail("channel_exists", "channel '%s' already exists", id)
  end
  return cc:create({ id = id }).id
end

function VERBS.r(cc, req)
  local ch = channel_of(cc, req)
  local id = string_key(req, "r", false)
  if id and ch:has_listener(id) then
    fail("listener_exists", "listener '%s' is already on channel '%s'", id, ch.id)
  end
  return ch:add_listener(id)
end

function VERBS.d(cc, req)
  local ch = channel_of(cc, req)
  ch:dispatch(listener_of(ch, req), req.t, payload_of(req))
  return "ack"
end

function VERBS.b(cc, req)
  local ch = channel_of(cc, req)
  ch:broadcast(req.t, payload_of(req))
  return "ack"
end

function VERBS.rl(cc, req)
  local ch = channel_of(cc, req)
  ch:remove_listener(listener_of(ch, req))
  return "ack"
end

function VERBS.rc(cc, req)
  cc:remove(channel_of(cc, req).id)
  return "ack"
end

function VERBS.l(cc, req, write_line)
  local ch = channel_of(cc, req)
  local id = listener_of(ch, req)
  local after = req.a
  if after ~= nil and (math.type(after) ~= "integer" or after < 0) then
    fail("bad_request", "key 'a' (message id to resume after) must be an integer >= 0")
  end
  stream(ch, ch:listen(id, { after = after }), write_line)
  return nil
end

function VERBS.w(cc, req, write_line)
  local ch = channel_of(cc, req)
  local watcher <close> = ch:watch()
  stream(ch, watcher, write_line)
  return nil
end

local VERB_LIST = "c, r, d, b, rl, rc, l, w"

local function check(req)
  if type(req) ~= "table" then
    fail("bad_request", "the request must be a JSON object")
  end
  local v = req.v
  if v == nil then
    fail("missing_key", "missing key 'v' (verb)")
  end
  if type(v) ~= "string" or not VERBS[v] then
    fail("unknown_verb", "unknown verb '%s' (expected one of %s)",
      tostring(v), VERB_LIST)
  end
  if not NO_TYPE[v] then
    string_key(req, "t", true)
  end
  return VERBS[v]
end

--- command(cc, request, write_line) -> response: runs one decoded
--- request on container cc (see the table above). Verbs l and w stream
--- through write_line(table) and so block the calling task until the
--- stream ends. Misuse by the caller (no write_line for a stream) raises,
--- as do write_line's own errors and cancellation (a watcher's listener
--- is removed on the way out); everything wrong with the request is the
--- response { error = code, message = text }.
function M.command(cc, request, write_line)
  local v = type(request) == "table" and request.v
  if (v == "l" or v == "w") and type(write_line) ~= "function" then
    error(("bad argument #3 to 'command' (verb '%s' streams: function expected, got %s)")
      :format(v, type(write_line)), 2)
  end
  local ok, res = pcall(function()
    return check(request)(cc, request, write_line)
  end)
  if ok then
    return res
  end
  if getmetatable(res) == Failure then
    return { error = res.code, message = res.message }
  end
  error(res, 0)
end

return M
