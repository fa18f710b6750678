-- hilt repl: an interactive Lua prompt bound to a driver tree (`lab`) and
-- a bus (`bus`). With no address it serves the simulated lab in this
-- process and uses the embedded hub, so it works on a fresh machine.
local hcore = require("hilt.core")
local args = require("hilt.cli.args")

local USAGE = [[
usage: hilt repl [ADDR] [--lab FILE] [--hub ADDR] [--token T]

An interactive Lua prompt against live hardware and the bus. Globals:
  lab    the driver tree: of the exporter at ADDR ('hilt serve' elsewhere),
         of config FILE served in this process (--lab), or else of the
         simulated lab served in this process
  bus    the bus: the hub at --hub ADDR ('hilt hub'; default $HILT_BUS),
         else a hub inside this process
  help   help() lists what is bound; help(lab.power) a node's methods

Each chunk runs as a task: blocking calls work and other tasks go on.
Expressions are printed (=expr too); an unfinished chunk continues on the
next line. Tab completes globals, fields, driver trees and bus paths;
Ctrl-C cancels the running chunk (and the remote calls it waits on) or
drops the line typed; Ctrl-D leaves. History is kept in $HILT_HISTORY
(default ~/.hilt_history; empty: none).

Options:
  --lab FILE    serve config FILE in this process instead of an exporter
  --hub ADDR    the bus hub to use
  --token T     the exporter's token (default $HILT_TOKEN)
  -h, --help    show this help
]]

local function die(code, fmt, ...)
  return args.die("repl", code, fmt, ...)
end

-- The driver tree and a sentence saying what it is.
local function open_lab(addr, opts)
  local hilt = require("hilt")
  if addr then
    local ok, lab = pcall(hilt.connect, addr, { token = opts.token })
    if not ok then
      return die(3, "cannot reach the exporter at %s: %s", addr, args.message(lab))
    end
    return lab, ("the exporter at %s"):format(addr)
  end
  local file = opts.lab or package.searchpath("hilt.sim.lab", package.path)
  local ok, lab = pcall(hilt.serve, file)
  if not ok then
    return die(1, "cannot serve %s: %s", file, args.message(lab))
  end
  return lab, opts.lab and ("%s, served in this process"):format(opts.lab)
    or "the simulated lab, served in this process"
end

-- The bus and a sentence saying what it is. A hub that cannot be reached
-- yet is no reason to stop: the lab may be all that is wanted, and the
-- client reaches the hub when next asked.
local function open_bus(addr)
  local bus = require("hilt.bus").connect(addr)
  if not addr then
    return bus, "a hub inside this process"
  end
  if bus.connected then
    return bus, ("the hub at %s"):format(addr)
  end
  return bus, ("the hub at %s (not reachable now: %s)"):format(addr,
    bus.link.first_error or "not connected")
end

return function(argv)
  local opts, pos = args.options("repl", argv, { lab = "value", hub = "value",
    token = "value" }, USAGE)
  if not opts then
    return
  end
  if #pos > 1 then
    return args.usage_error("repl", USAGE, "one exporter address at most, got %d", #pos)
  end
  if pos[1] and opts.lab then
    return args.usage_error("repl", USAGE, "give an address or --lab, not both")
  end
  local lab, lab_what = open_lab(pos[1], opts)
  local bus, bus_what = open_bus(opts.hub or os.getenv("HILT_BUS"))
  local banner = ("hilt %s repl: lab is %s, bus %s.\n"
    .. "help() lists what is bound; Tab completes; Ctrl-D leaves."):format(
    hcore.version, lab_what, bus_what)
  local ok, err = pcall(require("hilt.repl").run, { lab = lab, bus = bus, banner = banner })
  pcall(lab.close, lab)
  pcall(bus.close, bus)
  if not ok then
    return die(1, "%s", args.message(err))
  end
  return hcore.exit(0)
end
