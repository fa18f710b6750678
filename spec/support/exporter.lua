-- A real exporter for the specs: `hilt serve` running a config as its own
-- process on a unix socket, and the hilt command line run the way a user
-- runs it. Both go through hilt.process, so the spec's own loop keeps
-- running (a spec may serve a TCP port the exporter connects to).
--
--   local exporter = require("spec.support.exporter")
--   local exp = exporter.start([[ return { children = { ... } } ]])
--   local lab = hilt.connect(exp.addr)
--   local r = exporter.cli({ "call", exp.addr, "power.on" })  -- {code, stdout, stderr}
--   local stopped = exp:stop()   -- SIGTERM; {code =, signal =, err =}
local hilt = require("hilt")
local core = require("hilt.core")
local process = require("hilt.process")

local M = {}

M.hilt = core.exepath()

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end
M.write = write

--- tmpdir() -> a new empty directory.
function M.tmpdir()
  local r = process.run({ "mktemp", "-d", "/tmp/hilt-exp.XXXXXX" })
  return (assert(r.stdout:match("^(%S+)"), "mktemp -d failed"))
end

local Exporter = {}
Exporter.__index = Exporter
-- Its process methods (log, kill, wait, stop, remove) serve any spec
-- process with the same fields: proc, errfile, dir (spec/support/hub.lua).
M.Exporter = Exporter

-- Starts the process for this exporter's config and waits for its
-- "listening on" line. Its stderr goes to a file, and its stdout is
-- closed after that line: nothing of it stays active in this process
-- for the specs' leak checks to see.
function Exporter:spawn()
  local argv = { "sh", "-c", 'exec "$0" "$@" 2>>"$HILT_SPEC_ERR"', M.hilt,
    "serve", self.config, "--listen", self.listen }
  for _, a in ipairs(self.args) do argv[#argv + 1] = a end
  local env = { HILT_SPEC_ERR = self.errfile }
  for k, v in pairs(self.env or {}) do env[k] = v end
  self.proc = process.spawn(argv, { env = env, stdin = "null", stderr = "null" })
  local proc = self.proc
  local ok, line = pcall(hilt.timeout, 10, proc.stdout.read_until,
    proc.stdout, "\n")
  proc.stdout:close()
  self.addr = ok and line and line:match("^listening on (%S+)")
  if not self.addr then
    local r = self:stop("kill")
    error(("hilt serve did not start (%s, exit %s):\n%s"):format(
      tostring(line), tostring(r.code or r.signal), r.err), 3)
  end
end

--- start(config_source [, opts]) -> exporter. opts.args: more arguments
--- for hilt serve; opts.env: environment to add.
function M.start(source, opts)
  opts = opts or {}
  local dir = M.tmpdir()
  local self = setmetatable({ dir = dir, config = dir .. "/lab.lua",
    listen = "unix://" .. dir .. "/lab.sock", args = opts.args or {},
    env = opts.env, errfile = dir .. "/stderr" }, Exporter)
  write(self.config, source)
  self:spawn()
  return self
end

--- exporter:log() -> what it wrote to stderr so far.
function Exporter:log()
  local f = io.open(self.errfile, "rb")
  if not f then
    return ""
  end
  local text = f:read("a")
  f:close()
  return text
end

--- exporter:kill(sig): sends a signal ("term", "kill", "int") and returns.
function Exporter:kill(sig)
  pcall(self.proc.kill, self.proc, sig or "term")
end

--- exporter:wait() -> {code, signal, err} once it has exited by itself.
function Exporter:wait(seconds)
  local ok, code, signal = pcall(hilt.timeout, seconds or 10, self.proc.wait,
    self.proc)
  if not ok then
    self:kill("kill")
    code, signal = self.proc:wait()
    signal = "timed out, then " .. tostring(signal)
  end
  self.proc:close()
  return { code = code, signal = signal, err = self:log() }
end

--- exporter:stop([sig]) -> {code, signal, err}: signals it (default
--- SIGTERM, which it handles by shutting down) and waits.
function Exporter:stop(sig)
  if self.stopped then
    return self.stopped
  end
  self:kill(sig or "term")
  self.stopped = self:wait()
  return self.stopped
end

--- exporter:restart(): starts the same config again on the same address
--- after it has stopped.
function Exporter:restart()
  self.stopped = nil
  self:spawn()
end

--- exporter:remove(): stops it and deletes its directory.
function Exporter:remove()
  self:stop("kill")
  process.run({ "rm", "-rf", self.dir })
end

--- cli(args [, opts]) -> {code, signal, stdout, stderr}: runs hilt with
--- args; opts.input is its stdin, opts.timeout bounds it (default 20 s).
function M.cli(args, opts)
  opts = opts or {}
  local argv = { M.hilt }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return process.run(argv, { input = opts.input, timeout = opts.timeout or 20,
    env = opts.env })
end

return M
