-- hilt hub: a standalone bus hub (docs/bus.md) on hilt's wire and, when
-- asked, ESHET's binary protocol, HTTP with Server-Sent Events and a JSON
-- control socket, until SIGTERM or Ctrl-C.
local hilt = require("hilt")
local hcore = require("hilt.core")
local args = require("hilt.cli.args")

local DEFAULT_ADDR = "tcp://127.0.0.1:7421"

local USAGE = [[
usage: hilt hub [--listen ADDR] [--eshet ADDR] [--http ADDR] [--control PATH]

Runs a bus hub: states, events, actions and properties shared by every
client (docs/bus.md). Scripts reach it with require("hilt.bus").connect(ADDR)
or 'hilt run --bus ADDR'.

Listeners (each may be given once; port 0 picks a free port):
  --listen ADDR   hilt's wire (default ]] .. DEFAULT_ADDR .. [[)
  --eshet ADDR    ESHET's binary protocol v1, for ESHET clients and
                  firmware; ESHET's port is 11236: --eshet 0.0.0.0:11236
  --http ADDR     HTTP: GET /get/PATH, POST /call/PATH, POST /set/PATH, and
                  Server-Sent Events (GET /events?state=PATH&event=PATH);
                  ESHET's HTTP port is 11237
  --control PATH  a unix socket taking JSON channel commands (one per
                  connection: {"v":"c"}, {"v":"b","c":ID,"t":TYPE,"p":...})
  --token TOKEN   hilt's wire: clients must present TOKEN (required on an
                  address that is not loopback); default $HILT_TOKEN
  -h, --help      show this help

Prints "NAME listening on ADDR" on stdout for each listener once ready.
SIGTERM or Ctrl-C closes every connection (owners' states go Unknown for
their observers) and exits.
]]

local function die(code, fmt, ...)
  return args.die("hub", code, fmt, ...)
end

local message = args.message

-- name -> function(hub, addr, opts) -> listener, in the order they start.
local LISTENERS = {
  { "wire", "listen", function(hub, addr, opts)
    return require("hilt.bus.wire").serve(hub, addr, { token = opts.token })
  end },
  { "eshet", "eshet", function(hub, addr)
    return require("hilt.bus.eshet").serve(hub, addr)
  end },
  { "http", "http", function(hub, addr)
    return require("hilt.bus.http").serve(hub, addr)
  end },
  { "control", "control", function(hub, path)
    return require("hilt.bus.control").serve(hub, path)
  end },
}

return function(argv)
  local opts, pos = args.options("hub", argv, { listen = "value",
    eshet = "value", http = "value", control = "value", token = "value" }, USAGE)
  if not opts then
    return
  end
  if #pos > 0 then
    return args.usage_error("hub", USAGE, "unexpected argument '%s'", pos[1])
  end
  opts.listen = opts.listen or DEFAULT_ADDR
  opts.token = opts.token or os.getenv("HILT_TOKEN")
  local hub = require("hilt.bus").embedded_hub()
  local open = {}
  local function close_all()
    for i = #open, 1, -1 do
      pcall(open[i].close, open[i])
    end
  end
  for _, l in ipairs(LISTENERS) do
    local name, opt, start = l[1], l[2], l[3]
    if opts[opt] then
      local ok, listener = pcall(start, hub, opts[opt], opts)
      if not ok then
        close_all()
        return die(1, "%s on %s: %s", name, opts[opt], message(listener))
      end
      open[#open + 1] = listener
      io.stdout:write(("%s listening on %s\n"):format(name, listener:address()))
    end
  end
  io.stdout:flush()
  hilt.log.at("info", "hub", "ready")
  local stop = hilt.queue()
  local term = hcore.signal("term", function() stop:put("SIGTERM") end)
  local ok, why = pcall(stop.get, stop)
  term:stop()
  hilt.log.at("info", "hub", "stopping (%s)", ok and why or "interrupted")
  close_all()
  if not ok then
    if not hcore.is_error(why, "cancelled") then
      error(why, 0)
    end
    return hcore.exit(130)
  end
end
