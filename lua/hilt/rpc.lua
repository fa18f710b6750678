-- hilt.rpc: hilt's wire (docs/protocol.md) for scripts. Connections carry
-- calls both ways; a router decides what one end exposes; every incoming
-- call runs in its own task.
--
--   local rpc = require("hilt.rpc")
--   local srv = rpc.serve("unix:///tmp/lab.sock", { power = { on = fn } })
--   local conn = rpc.connect("unix:///tmp/lab.sock")
--   conn.remote.power.on()            -- calls "power/on"
local core = require("hilt.rpc.core")
local msgpack = require("hilt.msgpack")
local hcore = require("hilt.core")
local log = require("hilt.log")

local rpc = {}

-- --- routers -------------------------------------------------------------------

local Router = {}
Router.__index = Router

--- router(t) -> Router. t's functions are methods and its tables (or
--- routers) sub-routers, reached by name with "/" between. Only t's own
--- fields resolve: not its metatable's, not names starting with "_", not
--- values that are neither functions nor tables.
function rpc.router(t)
  if getmetatable(t) == Router then
    return t
  end
  assert(type(t) == "table", "rpc.router: a table of functions expected")
  return setmetatable({ _t = t, _cache = {} }, Router)
end

-- --- streaming methods ------------------------------------------------------------

local Streaming = {}
Streaming.__index = Streaming

--- streaming(fn) -> a method that streams: fn(stream, ...) sends items
--- (stream:send) or bytes (stream:write), or takes input (stream:recv,
--- stream:read); what it returns is the call's result. Callers reach it
--- with conn:stream(path, ...).
function rpc.streaming(fn)
  assert(type(fn) == "function", "rpc.streaming: a function expected")
  return setmetatable({ fn = fn }, Streaming)
end

local function is_method(v)
  return type(v) == "function" or getmetatable(v) == Streaming
end

local function child(node, name)
  if getmetatable(node) == Router then
    node = node._t
  end
  if type(node) ~= "table" or getmetatable(node) == Streaming or name == ""
      or name:sub(1, 1) == "_" then
    return nil
  end
  local v = rawget(node, name)
  if type(v) == "function" or type(v) == "table" then
    return v
  end
  return nil
end

--- router:resolve(path) -> method (a function or a streaming method) | nil,
--- why
function Router:resolve(path)
  local fn = self._cache[path]
  if fn then
    return fn
  end
  local node, walked = self, ""
  for name in (path .. "/"):gmatch("([^/]*)/") do
    local v = child(node, name)
    if v == nil then
      return nil, ("no method '%s' (nothing exposed as '%s'%s)"):format(
        path, name, walked == "" and "" or (" in '" .. walked .. "'"))
    end
    walked = walked == "" and name or (walked .. "/" .. name)
    node = v
  end
  if not is_method(node) then
    return nil, ("'%s' is a router, not a method"):format(path)
  end
  self._cache[path] = node
  return node
end

-- --- handling incoming calls ---------------------------------------------------------

-- The connection each running handler serves, so it can call back, and
-- the trace id its caller sent; set while the handler runs (a task handles
-- one call).
local serving, tracing = {}, {}

--- caller() -> the connection whose call the running task is handling.
function rpc.caller()
  return serving[hcore.current()]
end

--- trace() -> the trace id the caller of the running handler sent, or nil.
function rpc.trace()
  return tracing[hcore.current()]
end

-- The handler's traceback, without the dispatcher's frames below it,
-- which say nothing to whoever reads it on the other end.
local function handler_traceback()
  local tb = debug.traceback(nil, 3)
  return (tb:gsub("\n%s*%(%.%.%.tail calls%.%.%.%)\n%s*%[C%]: in function 'xpcall'.*$", "")
            :gsub("\n%s*%[C%]: in function 'xpcall'.*$", ""))
end

-- A handler's error as a hilt.Error with the handler's traceback. Layers
-- that wrap handlers (the exporter) use it too, so an error they re-raise
-- passes through unchanged.
local function on_error(e)
  if hcore.is_error(e) then
    if not e.traceback then
      e.traceback = handler_traceback()
    end
    return e
  end
  local err = hcore.error("failed", tostring(e))
  err.traceback, err.value = handler_traceback(), e
  return err
end
rpc.error_handler = on_error

local function wire_error(e)
  local data = e.value
  if data ~= nil and msgpack.kind(data) == nil then
    data = tostring(data)
  end
  return { code = e.code or "failed", message = e.message or tostring(e),
           traceback = e.traceback, data = data }
end

-- Arguments are decoded inside the handler's protection: a peer can send
-- params that do not decode (a map with a nil or NaN key), and that call
-- must still be answered.
local function apply(fn, raw, params)
  return fn(raw:args(params))
end

local function apply_stream(fn, stream, raw, params)
  return fn(stream, raw:args(params))
end

-- Runs one notification in the calling task (its serving and tracing set
-- by the caller). Nothing goes back to the peer, so what goes wrong is
-- logged.
local function notification(router, raw, method, params)
  local fn, why = router:resolve(method)
  if fn and getmetatable(fn) == Streaming then
    fn, why = nil, ("'%s' streams: call it with conn:stream"):format(method)
  end
  if not fn then
    log.debug("notification dropped: %s", why)
    return
  end
  local ok, err = xpcall(apply, on_error, fn, raw, params)
  if not ok then
    log.warn("notification %s failed: %s", method, err.message)
  end
end

local function dispatcher(router, conn)
  -- `streaming` is the call's stream when the caller opened one: made as
  -- the request arrived, so nothing sent before this runs is lost.
  return function(raw, id, method, params, trace, streaming)
    local task = hcore.current()
    if not id then
      serving[task], tracing[task] = conn, trace
      notification(router, raw, method, params)
      serving[task], tracing[task] = nil, nil
      return
    end
    local fn, why = router:resolve(method)
    local code, stream = "not_found", nil
    if fn and getmetatable(fn) == Streaming then
      if streaming then
        stream = streaming
      else
        code = "invalid_argument"
        fn, why = nil, ("'%s' streams: call it with conn:stream"):format(method)
      end
    end
    if not fn then
      raw:respond(id, false, { code = code, message = why })
      return
    end
    serving[task], tracing[task] = conn, trace
    local ok, res
    if stream then
      ok, res = xpcall(apply_stream, on_error, fn.fn, stream, raw, params)
    else
      ok, res = xpcall(apply, on_error, fn, raw, params)
    end
    serving[task], tracing[task] = nil, nil
    if ok then
      raw:respond(id, true, res)  -- nil and false are results too
    else
      raw:respond(id, false, wire_error(res))
    end
  end
end

-- Runs the notifications of one read (queued by the connection as
-- triples of method, params and trace) in order, from index i. A handler
-- that waits hands the rest to a new runner at once, so notifications
-- keep the order they came in and none waits behind another's wait.
local function notifier(router, conn)
  local function run(raw, q, n, i)
    i = i or 1
    local mine = true
    hcore.on_wait(function()
      mine = false
      if i <= n then
        hcore.spawn(run, raw, q, n, i)
      end
    end)
    local task = hcore.current()
    serving[task] = conn
    while mine and i <= n do
      local method, params, trace = q[i], q[i + 1], q[i + 2]
      i = i + 3
      tracing[task] = trace or nil
      notification(router, raw, method, params)
    end
    serving[task], tracing[task] = nil, nil
  end
  return run
end

-- --- connections --------------------------------------------------------------------

local Conn = {}
Conn.__index = Conn

-- conn.remote.a.b(...) calls "a/b".
local function proxy(conn, path)
  return setmetatable({}, {
    __index = function(_, name)
      return proxy(conn, path == "" and name or (path .. "/" .. name))
    end,
    __call = function(_, ...)
      if path == "" then
        error("rpc: call a method of remote, not remote itself", 2)
      end
      return conn.raw:call(path, nil, ...)
    end,
    __tostring = function() return "rpc proxy " .. path end,
  })
end

local function wrap(raw, router)
  local conn = setmetatable({ raw = raw }, Conn)
  conn.remote = proxy(conn, "")
  if router then
    conn:serve(router)
  end
  return conn
end

--- conn:call(path, ...) -> result; raises a hilt.Error
function Conn:call(path, ...)
  return self.raw:call(path, nil, ...)
end

--- conn:call_with(opts, path, ...): opts {timeout=s, trace=str,
--- sub="full"|"done"|"none"}
function Conn:call_with(opts, path, ...)
  return self.raw:call(path, opts, ...)
end

--- conn:stream(path, ...) -> stream: a call whose results, input or bytes
--- stream (docs/lua-api.md). `for item in conn:stream(path) do` reads its
--- items; leaving the loop early cancels the call.
function Conn:stream(path, ...)
  local s = self.raw:open(path, nil, ...)
  return s, nil, nil, s
end

--- conn:stream_with(opts, path, ...): opts as call_with's, and credit=n
--- (the result window in items or bytes).
function Conn:stream_with(opts, path, ...)
  local s = self.raw:open(path, opts, ...)
  return s, nil, nil, s
end

function Conn:notify(path, ...)
  self.raw:notify(path, ...)
end

--- conn:serve(router_or_table): this end answers calls from the peer.
function Conn:serve(router)
  router = rpc.router(router)
  self.raw:serve(dispatcher(router, self), notifier(router, self))
end

--- conn:on_reset(fn): fn(why) runs in a task when the connection ends.
function Conn:on_reset(fn)
  self.raw:on_reset(fn)
end

function Conn:close()
  self.raw:close()
end

--- conn:keep_alive(on): keep the process running while the connection is
--- open, even with nothing in flight (by default only calls in flight do).
function Conn:keep_alive(on)
  self.raw:keep_alive(on)
end

--- conn:status() -> "open"|"closed", why, peer
function Conn:status()
  return self.raw:status()
end

function Conn:__tostring()
  return tostring(self.raw)
end

--- connect(addr [, opts]) -> conn. opts: token, router (served to the
--- peer), name, keep_alive. Sends the hello; a refused token raises unauthenticated.
function rpc.connect(addr, opts)
  opts = opts or {}
  local raw = addr == "stdio" and core.stdio() or core.connect(addr)
  if opts.keep_alive then
    raw:keep_alive(true)
  end
  local conn = wrap(raw, opts.router)
  local ok, err = pcall(conn.raw.call, conn.raw, "rpc.hello", nil,
    { version = 1, token = opts.token, name = opts.name or "hilt" })
  if not ok then
    conn:close()
    error(err, 2)
  end
  conn.peer_info = err
  return conn
end

--- serve(addr, router [, opts]) -> listener. opts: token (required on a
--- non-loopback TCP address), on_connect(conn). "stdio" serves the one
--- connection on stdin and stdout.
function rpc.serve(addr, router, opts)
  opts = opts or {}
  router = rpc.router(router)
  local function accept(raw)
    local conn = wrap(raw, router)
    if opts.on_connect then
      opts.on_connect(conn)
    end
    return conn
  end
  if addr == "stdio" then
    -- One connection, there already: the program that started this one,
    -- served until it closes its end.
    local raw = core.stdio()
    raw:keep_alive(true)
    local conn = accept(raw)
    return {
      address = function() return "stdio" end,
      close = function() conn:close() end,
      conn = conn,
    }
  end
  return core.listen(addr, { token = opts.token }, accept)
end

--- pair([router_a [, router_b]]) -> conn_a, conn_b, connected in this
--- process; each serves its router to the other.
function rpc.pair(router_a, router_b)
  local a, b = core.pair()
  return wrap(a, router_a), wrap(b, router_b)
end

return rpc
