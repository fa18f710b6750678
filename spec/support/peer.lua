-- Real peers for the rpc specs: a hilt server script running as its own
-- process, and clients written in Python with Debian's msgpack module.
--
-- The server must be a separate process because io.popen and os.execute
-- block this process's event loop: a server in here could not answer a
-- client that this process waits for. The server runs the binary under
-- test (core.exepath()), so an ASan build checks the server too.
--
--   local peer = require("spec.support.peer")
--   local server = peer.start([[ return { add = function(a, b) return a + b end } ]])
--   local r = server:python("p = Peer(); out['sum'] = p.call(1, 'add', 1, 2)")
--   local stopped = server:stop()   -- {code =, err =, forced =}
local hilt = require("hilt")
local core = require("hilt.core")
local msgpack = require("hilt.msgpack")
local assert = require("luassert")

local M = {}

M.hilt = core.exepath()
-- Debian's python3 has the msgpack module; the one first on PATH may not.
M.python = "/usr/bin/python3"

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function read(path)
  local f = io.open(path, "rb")
  if f == nil then
    return nil
  end
  local text = f:read("a")
  f:close()
  return text
end

local function tmpdir()
  local p = assert(io.popen("mktemp -d /tmp/hilt-peer.XXXXXX"))
  local dir = p:read("l")
  p:close()
  assert(dir and dir ~= "", "mktemp -d failed")
  return dir
end

-- Polls until ready() is true or `seconds` pass; true if it became ready.
local function poll(seconds, ready)
  local deadline = hilt.now() + seconds
  while not ready() do
    if hilt.now() > deadline then
      return false
    end
    hilt.sleep(0.01)
  end
  return true
end

-- The server's main script. It serves what the spec's server.lua returns
-- until SIGINT, then closes the listener and ends normally: the exit
-- status and any sanitizer report at exit are then the server's own.
-- SIGINT, not SIGTERM, because hilt turns SIGINT into a cancellation of
-- the main task, while SIGTERM kills it before LeakSanitizer can look.
local MAIN = [[
local hilt = require("hilt")
local rpc = require("hilt.rpc")
local router, opts = dofile(%q)
local srv = rpc.serve(%q, router, opts)
io.open(%q, "w"):close()
local ok, err = pcall(hilt.sleep, 3600)
srv:close()
if not ok and not hilt.is_error(err, "cancelled") then
  error(err, 0)
end
]]

local Server = {}
Server.__index = Server

--- start(source [, opts]) -> Server. source is Lua run by the server as
--- server.lua; it returns the router to serve and, optionally, the options
--- of rpc.serve. opts.env is a prefix such
--- as "HILT_LOG=debug". Raises, with the server's stderr, if the server
--- exits or does not listen within 10 seconds.
function M.start(source, opts)
  opts = opts or {}
  local dir = tmpdir()
  local s = setmetatable({
    dir = dir,
    path = dir .. "/rpc.sock",
    script = dir .. "/server.lua",
    errfile = dir .. "/stderr",
    pidfile = dir .. "/pid",
    rcfile = dir .. "/rc",
    clients = 0,
  }, Server)
  s.addr = "unix://" .. s.path
  local ready = dir .. "/ready"
  write(s.script, source)
  write(dir .. "/main.lua", MAIN:format(s.script, s.addr, ready))
  -- The inner shell waits for hilt so that its exit status lands in a
  -- file: the server is not this process's child, so nothing here can
  -- wait for it.
  local inner = ('%s %s %s 2>%s </dev/null & echo $! >%s; wait $!; echo $? >%s')
    :format(opts.env or "", quote(M.hilt), quote(dir .. "/main.lua"),
            quote(s.errfile), quote(s.pidfile), quote(s.rcfile))
  os.execute(("sh -c %s >/dev/null 2>&1 </dev/null &"):format(quote(inner)))
  poll(10, function() return read(ready) or s:exited() end)
  if read(ready) == nil then
    local r = s:stop()
    error(("server did not start (exit %s):\n%s"):format(
      tostring(r.code), r.err), 2)
  end
  s.pid = assert(tonumber(read(s.pidfile)), "no pid for the server")
  return s
end

--- server:log() -> what the server wrote to stderr so far.
function Server:log()
  return read(self.errfile) or ""
end

--- server:log_since(mark) -> what it wrote after the mark, a byte count
--- taken from #server:log().
function Server:log_since(mark)
  return self:log():sub(mark + 1)
end

-- The shell creates the file before it writes the status: only a whole
-- line counts.
function Server:exited()
  local rc = read(self.rcfile)
  return rc ~= nil and rc:match("^%d+\n") ~= nil
end

--- server:kill(sig): sends a signal ("INT", "KILL", ...) to the server.
function Server:kill(sig)
  if self.pid and not self:exited() then
    os.execute(("kill -%s %d 2>/dev/null"):format(sig, self.pid))
  end
end

--- server:wait_exit(seconds) -> true once the server has exited.
function Server:wait_exit(seconds)
  return poll(seconds, function() return self:exited() end)
end

--- server:stop() -> {code = exit status, err = stderr, forced = bool}.
--- Asks the server to stop (SIGINT) and waits; a server that has not
--- exited after 5 s is killed, and `forced` says so. Idempotent, so a
--- spec may call it and also leave it to a finally or teardown.
function Server:stop()
  if self.stopped then
    return self.stopped
  end
  local forced = false
  if not self:exited() then
    self:kill("INT")
    if not self:wait_exit(5) then
      forced = true
      self:kill("KILL")
      self:wait_exit(5)
    end
  end
  self.stopped = {
    code = tonumber(read(self.rcfile)),
    err = self:log(),
    forced = forced,
  }
  os.execute("rm -rf " .. quote(self.dir))
  return self.stopped
end

--- check_exit(r, code): asserts (busted's assert) that a stopped server
--- exited by itself with `code` and that no sanitizer complained.
function M.check_exit(r, code)
  assert.is_false(r.forced, "the server ignored SIGINT:\n" .. r.err)
  assert.are.equal(code, r.code, r.err)
  for _, bad in ipairs({ "LeakSanitizer", "AddressSanitizer", "runtime error" }) do
    assert.is_nil(r.err:find(bad, 1, true), r.err)
  end
end

-- What every Python client starts with: argv is the socket and the file
-- that receives `out`, msgpack-encoded, when the script ends.
local PRELUDE = [=[
import msgpack, socket, sys, time
SOCK, OUT = sys.argv[1], sys.argv[2]
out = {}

class Peer:
    """One connection to the server, speaking raw msgpack."""

    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(SOCK)
        self.u = msgpack.Unpacker(raw=False)

    def send(self, v):
        """Sends bytes as they are; any other value packed."""
        self.s.sendall(v if isinstance(v, bytes) else msgpack.packb(v))

    def recv(self, timeout=3.0):
        """The next message; 'closed' once the server has closed the
        connection, 'timeout' when nothing came in time."""
        self.s.settimeout(timeout)
        while True:
            for m in self.u:
                return m
            try:
                b = self.s.recv(65536)
            except socket.timeout:
                return 'timeout'
            except ConnectionResetError:
                return 'closed'
            if not b:
                return 'closed'
            self.u.feed(b)

    def call(self, i, method, *params):
        self.send([0, i, method, list(params)])
        return self.recv()

    def close(self):
        self.s.close()

]=]

local EPILOGUE = [=[

with open(OUT, 'wb') as f:
    f.write(msgpack.packb(out))
]=]

--- server:python(body) -> out. Runs body (Python, after a prelude that
--- defines Peer and the dict `out`) against the server and returns `out`
--- decoded. Raises with Python's stderr if the script fails; `timeout`
--- bounds it at 20 s so a hung server cannot hang the suite.
function Server:python(body)
  self.clients = self.clients + 1
  local base = ("%s/client%d"):format(self.dir, self.clients)
  write(base .. ".py", PRELUDE .. body .. EPILOGUE)
  local cmd = ("timeout 20 %s %s %s %s >%s 2>&1; echo $?"):format(
    M.python, quote(base .. ".py"), quote(self.path), quote(base .. ".out"),
    quote(base .. ".log"))
  local p = assert(io.popen(cmd))
  local rc = tonumber(p:read("a"))
  p:close()
  local packed = read(base .. ".out")
  if rc ~= 0 or packed == nil then
    error(("python client exited %s:\n%s"):format(
      tostring(rc), read(base .. ".log") or ""), 2)
  end
  return (msgpack.unpack(packed))
end

return M
