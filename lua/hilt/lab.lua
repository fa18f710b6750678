-- hilt.connect, hilt.serve and hilt.lab: getting a client tree.
--
--   local lab = hilt.connect("tcp://bench-3:7425")   -- an exporter elsewhere
--   local lab = hilt.serve("examples/lab.lua")       -- a config, in this process
--   local lab = hilt.lab()    -- whichever `hilt run --connect/--lab` chose
local hcore = require("hilt.core")
local rpc = require("hilt.rpc")
local driver = require("hilt.driver")
local config = require("hilt.config")
local exporter = require("hilt.exporter")
local client = require("hilt.client")

local M = {}

--- Set by `hilt run --connect ADDR` / `--lab FILE` before the script runs;
--- HILT_CONNECT and HILT_LAB are read when these are unset.
M.defaults = {}

--- connect(addr [, opts]) -> client tree. opts: token, logs (show the
--- exporter's log on stderr).
function M.connect(addr, opts)
  if type(addr) ~= "string" then
    error("bad argument #1 to 'connect' (address expected, got " .. type(addr) .. ")", 2)
  end
  return client.connect(addr, opts)
end

--- serve(what [, opts]) -> client tree over an in-memory pair. what: a
--- driver, a tree table as a config returns, or a config file's path.
--- Closing the tree closes the drivers.
function M.serve(what, opts)
  opts = opts or {}
  local root, name
  if type(what) == "string" then
    root, name = config.load(what)
  elseif driver.is_driver(what) then
    root = what
    root.name, root.path, root.aliases = "", "", root.aliases or {}
  elseif type(what) == "table" then
    root = config.build(what, { file = opts.file })
  else
    error("bad argument #1 to 'serve' (a driver, a tree table or a config "
      .. "file expected, got " .. type(what) .. ")", 2)
  end
  -- Calls in this process are logged at debug: the script's own output
  -- says what it did, and HILT_LOG=debug shows them.
  local exp = exporter.new(root, { name = opts.name or name or "in-process",
    call_log = "debug" })
  exp:open()
  local a, b = rpc.pair(nil, exp.router)
  return client.over(a, function()
    b:close()
    exp:close()
    exp.log:close()
  end), exp
end

--- lab() -> the client tree the command line asked for: --connect ADDR
--- (or HILT_CONNECT) reaches an exporter; --lab FILE (or HILT_LAB) serves
--- a config in this process. Raises when neither is given.
function M.lab()
  local d = M.defaults
  local addr = d.connect or os.getenv("HILT_CONNECT")
  if addr and addr ~= "" then
    return client.connect(addr, { token = d.token or os.getenv("HILT_TOKEN"),
      logs = d.logs or (os.getenv("HILT_EXPORTER_LOGS") or "") ~= "" })
  end
  local file = d.lab or os.getenv("HILT_LAB")
  if file and file ~= "" then
    return M.serve(file)
  end
  error(hcore.error("invalid_argument", "hilt.lab: no lab given: run the "
    .. "script with 'hilt run --lab lab.lua script.lua' (a config served in "
    .. "this process) or 'hilt run --connect ADDR script.lua' (an exporter), "
    .. "or set HILT_LAB or HILT_CONNECT"), 2)
end

return M
