-- hilt.bus.control: the hub's JSON control socket (docs/bus.md, "The
-- control socket"), eric-sse's SocketServer (../shared/reference/
-- seed-semantics.md §4.3) on the hub's channels. One request per
-- connection: the client writes one JSON object and half-closes; the hub
-- runs it with hilt.bus.channel_command, writes the response and closes.
--
--   printf '{"v":"c"}' | socat - UNIX-CONNECT:/run/hilt/control.sock
--
-- A string response is written as bare text (a channel or listener id,
-- "ack"), a table as JSON; the stream verbs (l, w) write one JSON line per
-- message until their listener or channel goes.
local hilt = require("hilt")
local hcore = require("hilt.core")
local net = require("hilt.net")
local json = require("hilt.json")
local log = require("hilt.log")
local command = require("hilt.bus.channel_command").command

local M = {}

local DEFAULTS = {
  max_request = 64 * 1024, -- bytes a request may have
  idle = 30,               -- seconds a client may take to send it
}

-- unix:... as given; a bare path becomes one. Anything else is refused:
-- the control socket is for this machine's shell scripts.
local function address(path)
  if type(path) ~= "string" or path == "" then
    error(hcore.error("invalid_argument", "the control socket needs a path"), 0)
  end
  if path:find("^unix:") then
    return path
  end
  if path:find("^%a[%w+.-]*://") then
    error(hcore.error("invalid_argument",
      ("the control socket is a unix socket: give a path, not '%s'"):format(path)), 0)
  end
  return (path:sub(1, 1) == "/" and "unix://" or "unix:") .. path
end

-- The request's bytes, to EOF; or nil and the error response.
local function read_request(s, opts)
  local parts, n = {}, 0
  while true do
    local chunk = hilt.timeout(opts.idle, s.read, s)
    if chunk == nil then
      return table.concat(parts)
    end
    n = n + #chunk
    if n > opts.max_request then
      return nil, { error = "too_large",
        message = ("request over %d bytes"):format(opts.max_request) }
    end
    parts[#parts + 1] = chunk
  end
end

-- One stream message as a JSON line; a payload JSON cannot carry (from a
-- Lua sender) becomes an "_error" line in its place.
local function line_of(t)
  if t.data == nil then
    t.data = json.null
  end
  local ok, text = pcall(json.encode, t)
  if not ok then
    text = json.encode({ event = "_error", data = { type = t.event, error = text },
      id = t.id, retry = t.retry })
  end
  return text .. "\n"
end

local function answer(cc, s, opts)
  local text, failure = read_request(s, opts)
  local res
  if text then
    local req, err = json.decode(text)
    if err then
      res = { error = "bad_json", message = err }
    else
      if type(req) == "table" and req.p == json.null then
        req.p = nil
      end
      res = command(cc, req, function(t)
        return (pcall(s.write, s, line_of(t)))
      end)
    end
  else
    res = failure
  end
  if type(res) == "string" then
    s:write(res)
  elseif res ~= nil then
    s:write(json.encode(res))
  end
end

local function serve_conn(srv, s)
  srv.conns[s] = hilt.current()
  local ok, err = pcall(answer, srv.hub:channels(), s, srv.opts)
  if not ok and not hcore.is_error(err, "cancelled") then
    log.at("info", "control", "%s: %s", tostring(s), tostring(err))
  end
  srv.conns[s] = nil
  s:close()
end

--- serve(hub, path [, opts]) -> listener: the control socket at path (a
--- file path or unix:...), on hub:channels(). A socket file left by a
--- process that is gone is replaced; one where something listens is
--- not (raises unavailable). opts: max_request (bytes, default 64 KiB),
--- idle (seconds to send the request, default 30). listener:address();
--- listener:close() closes every connection, ending their streams, and
--- removes the socket file.
function M.serve(hub, path, opts)
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  local srv = { hub = hub, opts = o, conns = {} }
  local listener = net.listen(address(path), function(s) serve_conn(srv, s) end)
  return {
    address = function() return listener:address() end,
    close = function()
      listener:close()
      local me = hilt.current()
      for s, task in pairs(srv.conns) do
        s:close()
        if task ~= me then task:cancel() end
      end
    end,
  }
end

return M
