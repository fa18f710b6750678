-- A real `hilt hub` for the specs, as its own process, and bus clients as
-- processes of their own (scripts given as text).
--
--   local hubs = require("spec.support.hub")
--   local h = hubs.start({ "--eshet", "127.0.0.1:0" })
--   h.addr.wire, h.addr.eshet
--   local p = hubs.script(h, [[ local bus = ...; ... print("ready") ]])
local hilt = require("hilt")
local process = require("hilt.process")
local exporter = require("spec.support.exporter")

local M = {}

local Hub = {}
Hub.__index = Hub

-- Starts the process and reads its "NAME listening on ADDR" lines, one per
-- listener asked for (and the wire's).
function Hub:spawn()
  local argv = { "sh", "-c", 'exec "$0" "$@" 2>>"$HILT_SPEC_ERR"', exporter.hilt,
    "hub", "--listen", self.listen }
  local want = 1
  for _, a in ipairs(self.args) do
    argv[#argv + 1] = a
    if a:match("^%-%-%a+$") and a ~= "--token" then want = want + 1 end
  end
  self.proc = process.spawn(argv, { env = { HILT_SPEC_ERR = self.errfile,
    HILT_LOG = self.log_level }, stdin = "null", stderr = "null" })
  self.addr = {}
  for _ = 1, want do
    local ok, line = pcall(hilt.timeout, 10, self.proc.stdout.read_until,
      self.proc.stdout, "\n")
    local name, addr = (ok and line or ""):match("^(%S+) listening on (%S+)")
    if not name then
      self.proc.stdout:close()
      self:kill("kill")
      local r = self:wait()
      error(("hilt hub did not start (%s, exit %s):\n%s"):format(tostring(line),
        tostring(r.code or r.signal), r.err), 3)
    end
    self.addr[name] = addr
  end
  self.proc.stdout:close()
end

--- start([args] [, opts]) -> hub. opts.log: HILT_LOG for it (default info).
function M.start(args, opts)
  opts = opts or {}
  local dir = exporter.tmpdir()
  local self = setmetatable({ dir = dir, args = args or {},
    listen = opts.listen or ("unix://" .. dir .. "/hub.sock"),
    errfile = dir .. "/stderr", log_level = opts.log or "info" }, Hub)
  self:spawn()
  return self
end

-- hub:log(), hub:kill(sig), hub:wait([s]), hub:stop([sig]), hub:restart()
-- (on the same addresses), hub:remove(): as an exporter's.
for _, name in ipairs({ "log", "kill", "wait", "stop", "restart", "remove" }) do
  Hub[name] = exporter.Exporter[name]
end

--- script(hub, source [, opts]) -> proc: runs source as a hilt script with
--- the hub's wire address as its first argument, and waits for it to
--- print "ready". opts.args: more arguments.
function M.script(hub, source, opts)
  opts = opts or {}
  local file = ("%s/client%d.lua"):format(hub.dir, math.random(1 << 30))
  exporter.write(file, source)
  local argv = { exporter.hilt, file, hub.addr.wire }
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
  local proc = process.spawn(argv, { stdin = "null", stderr = "null" })
  local ok, line = pcall(hilt.timeout, 10, proc.stdout.read_until, proc.stdout, "\n")
  if not (ok and line == "ready\n") then
    pcall(proc.kill, proc, "kill")
    proc:wait()
    proc:close()
    error("bus client did not get ready: " .. tostring(line), 2)
  end
  return proc
end

return M
