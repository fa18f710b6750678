-- hilt serve CONFIG.lua: builds the driver tree a config returns, opens its
-- drivers and serves them until SIGTERM or Ctrl-C, which end the calls in
-- flight `unavailable` and close the drivers.
local hilt = require("hilt")
local hcore = require("hilt.core")
local args = require("hilt.cli.args")
local config = require("hilt.config")
local exporter = require("hilt.exporter")

local DEFAULT_ADDR = "tcp://127.0.0.1:7420"

local USAGE = [[
usage: hilt serve CONFIG.lua [--listen ADDR] [--token TOKEN] [--name NAME]

Serves the driver tree that CONFIG.lua returns (docs/drivers.md).

Options:
  --listen ADDR   where to listen: tcp://host:port, host:port, unix:///path
                  (default ]] .. DEFAULT_ADDR .. [[; port 0 picks a free one)
  --token TOKEN   clients must present TOKEN (required on an address that is
                  not loopback); default $HILT_TOKEN
  --name NAME     the exporter's name in reports (default: the file's name)
  -h, --help      show this help

Prints "listening on ADDR" on stdout once ready. SIGTERM or Ctrl-C ends the
calls in flight (they fail 'unavailable'), closes the drivers and exits;
a second Ctrl-C exits at once.
]]

local function die(code, fmt, ...)
  return args.die("serve", code, fmt, ...)
end

local message = args.message

return function(argv)
  local opts, pos = args.options("serve", argv, { listen = "value",
    token = "value", name = "value" }, USAGE)
  if not opts then
    return
  end
  if #pos ~= 1 then
    return args.usage_error("serve", USAGE, "%s",
      #pos == 0 and "a config file is needed" or "one config file only")
  end
  local ok, root, name = pcall(config.load, pos[1])
  if not ok then
    return die(1, "%s", message(root))
  end
  local exp = exporter.new(root, { name = opts.name or name })
  ok, root = pcall(exp.open, exp)
  if not ok then
    return die(1, "%s", message(root))
  end
  local addr = opts.listen or DEFAULT_ADDR
  local listener
  ok, listener = pcall(exp.listen, exp, addr, { token = opts.token
    or os.getenv("HILT_TOKEN") })
  if not ok then
    exp:close()
    return die(1, "%s", message(listener))
  end
  local stop = hilt.queue()
  local term = hcore.signal("term", function() stop:put("SIGTERM") end)
  io.stdout:write(("listening on %s\n"):format(listener:address()))
  io.stdout:flush()
  hilt.log.at("info", "serve", "%s: %d drivers from %s, listening on %s",
    exp.name, #exp.nodes, pos[1], listener:address())
  local why
  ok, why = pcall(stop.get, stop)
  term:stop()
  if not ok then
    if not hcore.is_error(why, "cancelled") then
      error(why, 0)
    end
    exp:shutdown("interrupted")
    return hcore.exit(130)
  end
  exp:shutdown(why)
end
