-- hilt's command line, run as the main task. Without a subcommand hilt
-- behaves like Lua's `lua` interpreter: the same options, the same `arg`
-- table, the same exit statuses.
local core = require("hilt.core")

local progname = "hilt"

local USAGE = [==[
usage: hilt [options] [script [args]]
       hilt <command> [args]

Options (as Lua's lua interpreter):
  -e stat   execute string 'stat'
  -i        enter interactive mode after executing 'script'
  -l mod    require library 'mod' into global 'mod'
  -l g=mod  require library 'mod' into global 'g'
  -v        show version information
  -E        ignore environment variables (LUA_INIT)
  -W        turn warnings on
  --        stop handling options
  -         stop handling options and execute stdin
  -h, --help  show this help

Commands:
  run [--lab F | --connect A] script.lua [args]
                          run a script (as 'hilt script.lua args'); hilt.lab()
                          in it serves config F in-process or reaches exporter A
  repl [ADDR]             an interactive prompt bound to a driver tree and
                          the bus (hilt repl --help)
  serve lab.lua           serve a driver tree (hilt serve --help)
  hub                     run a bus hub (hilt hub --help)
  ls ADDR                 show an exporter's driver tree
  call ADDR PATH [ARGS]   call one method: hilt call ADDR dut.power.on
  logs ADDR               follow an exporter's log
  console ADDR PATH       attach this terminal to a remote console
  serial list             list the serial ports of this machine
  test [busted args]      run busted specs inside the runtime (hilt test --help)
  version                 show version information
  help                    show this help
Every command takes --help.

Environment:
  HILT_LOG=debug|info|warn|error|off   log level (default info)
  HILT_LUA_DIR=dir                     where hilt's Lua library lives
  HILT_CONNECT=addr, HILT_LAB=file     what hilt.lab() uses (see run)
  HILT_TOKEN=token                     the token to present to exporters
  HILT_BUS=addr                        the hub hilt.bus uses (see run)
]==]

local RUN_USAGE = [==[
usage: hilt run [--lab FILE | --connect ADDR] [--token T] [--logs] [--bus ADDR]
                script.lua [args]

Runs a script as 'hilt script.lua args' does. In it, hilt.lab() returns the
driver tree to work on:
  --lab FILE      the tree that config FILE returns, served in this process
                  (simulated hardware needs no server)
  --connect ADDR  the tree of the exporter at ADDR ('hilt serve' elsewhere)
  --token T       the exporter's token (default $HILT_TOKEN)
  --logs          show the exporter's log on stderr while the script runs
Without either, hilt.lab() uses $HILT_CONNECT or $HILT_LAB.
  --bus ADDR      the bus hub that require("hilt.bus").connect() reaches
                  ('hilt hub' elsewhere; default $HILT_BUS, else a hub
                  inside this process)
]==]

local function fail(msg)
  io.stderr:write(progname, ": ", msg, "\n")
  io.stderr:flush()
  return core.exit(1)
end

local function usage_error(msg)
  io.stderr:write(progname, ": ", msg, "\n", USAGE)
  io.stderr:flush()
  return core.exit(1)
end

local function print_version()
  io.stdout:write(("hilt %s (%s)\n"):format(core.version, _VERSION))
  io.stdout:flush()
end

-- Scans argv as lua.c's collectargs does. Returns the options, the index
-- of the script (0 when none) and the list of -e/-l/-W actions in order.
local function collect(argv, first)
  local opts = { actions = {} }
  local i = first
  while argv[i] ~= nil do
    local a = argv[i]
    if a:sub(1, 1) ~= "-" then
      return opts, i
    elseif a == "--" then
      return opts, argv[i + 1] and i + 1 or 0
    elseif a == "-" then
      opts.stdin = true
      return opts, i
    elseif a == "-E" then
      opts.ignore_env = true
    elseif a == "-W" then
      opts.actions[#opts.actions + 1] = { "W" }
    elseif a == "-i" then
      opts.interactive, opts.version = true, true
    elseif a == "-v" then
      opts.version = true
    elseif a == "-h" or a == "--help" then
      opts.help = true
    elseif a:match("^%-[el]") then
      local value = #a > 2 and a:sub(3) or argv[i + 1]
      if value == nil or (#a == 2 and value:sub(1, 1) == "-") then
        return usage_error(("'%s' needs argument"):format(a))
      end
      if #a == 2 then
        i = i + 1
      end
      opts.actions[#opts.actions + 1] = { a:sub(2, 2), value }
    else
      return usage_error(("unrecognized option '%s'"):format(a))
    end
    i = i + 1
  end
  return opts, 0
end

-- The global `arg`, as lua.c builds it: arg[0] is the script (or the
-- program when there is none), its arguments are 1..n and everything
-- before it has negative indices.
local function make_arg(argv, script)
  local t = {}
  for i = 0, #argv do
    t[i - script] = argv[i]
  end
  return t
end

-- Keeps a traceback to the user's frames: drops the lines of this file
-- and below, which are the same for every script.
local function trim_traceback(tb)
  local keep = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("hilt/cli/main.lua", 1, true) then
      break
    end
    keep[#keep + 1] = line
  end
  while keep[#keep] and (keep[#keep]:find("(...tail calls...)", 1, true)
      or keep[#keep]:find("in function 'xpcall'", 1, true)) do
    keep[#keep] = nil
  end
  return table.concat(keep, "\n")
end

local function on_error(e)
  if core.is_error(e) and e.traceback then
    return e
  end
  if not core.is_error(e) then
    local err = core.error("failed", tostring(e))
    err.value = e
    e = err
  end
  e.traceback = trim_traceback(debug.traceback("", 2):sub(2))
  return e
end

-- Runs a loaded chunk; a load error ends the program with its message, a
-- runtime error propagates with the script's own traceback.
local function run_chunk(chunk, err, ...)
  if chunk == nil then
    return fail(err)
  end
  local r = table.pack(xpcall(chunk, on_error, ...))
  if not r[1] then
    error(r[2], 0)
  end
  return table.unpack(r, 2, r.n)
end

local function run_init()
  local name = "LUA_INIT_5_4"
  local init = os.getenv(name)
  if init == nil then
    name, init = "LUA_INIT", os.getenv("LUA_INIT")
  end
  if init == nil then
    return
  end
  if init:sub(1, 1) == "@" then
    return run_chunk(loadfile(init:sub(2)))
  end
  return run_chunk(load(init, "=" .. name))
end

local function run_actions(actions)
  for _, a in ipairs(actions) do
    if a[1] == "e" then
      run_chunk(load(a[2], "=(command line)"))
    elseif a[1] == "l" then
      local global, mod = a[2]:match("^([^=]+)=(.+)$")
      global, mod = global or a[2], mod or a[2]
      _G[global] = require(mod)
    elseif a[1] == "W" then
      warn("@on")
    end
  end
end

local function run_script(argv, script, opts)
  local name = argv[script]
  if opts.stdin and name == "-" then
    name = nil
  end
  local chunk, err = loadfile(name)
  return run_chunk(chunk, err, table.unpack(argv, script + 1))
end

local function interpreter(argv, first)
  local opts, script = collect(argv, first)
  if opts.help then
    io.stdout:write(USAGE)
    return
  end
  _G.arg = make_arg(argv, script)
  if opts.version then
    print_version()
  end
  if not opts.ignore_env then
    run_init()
  end
  run_actions(opts.actions)
  if script > 0 then
    run_script(argv, script, opts)
  end
  if opts.interactive then
    return require("hilt.cli.prompt")()
  end
  if script == 0 and #opts.actions == 0 and not opts.version then
    if core.isatty(0) then
      print_version()
      return require("hilt.cli.prompt")()
    end
    return run_chunk(loadfile(nil))
  end
end

local commands = {
  run = function(argv)
    local opts, pos = require("hilt.cli.args").parse(argv, 2, {
      connect = "value", lab = "value", token = "value", logs = "flag", bus = "value",
      help = "flag", alias = { h = "help" }, stop_at_positional = true })
    if not opts then
      return usage_error(pos)
    end
    if opts.help or #pos == 0 then
      io.stdout:write(RUN_USAGE)
      return
    end
    if opts.connect and opts.lab then
      return usage_error("give --connect or --lab, not both")
    end
    local d = require("hilt.lab").defaults
    d.connect, d.lab, d.token, d.logs = opts.connect, opts.lab, opts.token, opts.logs
    if opts.bus then
      require("hilt.bus").defaults.addr = opts.bus
    end
    local rest = { [0] = argv[0] }
    for i, a in ipairs(pos) do rest[i] = a end
    return interpreter(rest, 1)
  end,
  serve = function(argv)
    return require("hilt.cli.serve")(argv)
  end,
  repl = function(argv)
    return require("hilt.cli.repl")(argv)
  end,
  hub = function(argv)
    return require("hilt.cli.hub")(argv)
  end,
  ls = function(argv)
    return require("hilt.cli.ls")(argv)
  end,
  call = function(argv)
    return require("hilt.cli.call")(argv)
  end,
  logs = function(argv)
    return require("hilt.cli.logs")(argv)
  end,
  console = function(argv)
    return require("hilt.cli.console")(argv)
  end,
  serial = function(argv)
    return require("hilt.cli.serial")(argv)
  end,
  test = function(argv)
    local args = {}
    for i = 2, #argv do
      args[#args + 1] = argv[i]
    end
    return require("hilt.cli.test")(args)
  end,
  version = function()
    print_version()
  end,
  help = function()
    io.stdout:write(USAGE)
  end,
}

return function(argv)
  local cmd = argv[1] and commands[argv[1]]
  if cmd then
    return cmd(argv)
  end
  return interpreter(argv, 1)
end
