-- hilt call ADDR PATH [ARGS...]: calls one method of an exporter's tree and
-- prints what it returns; a generator's items are printed as they come;
-- a byte stream is bridged to stdin and stdout.
local hilt = require("hilt")
local hcore = require("hilt.core")
local remote = require("hilt.cli.remote")
local pretty = require("hilt.pretty")
local pump = require("hilt.pump")

local USAGE = [[
usage: hilt call ADDR PATH [ARG...] [--token TOKEN] [--timeout SECONDS] [--logs]

Calls the method PATH (dut.power.on, or dut/power/on) of the exporter at
ADDR. Each ARG is read as a Lua literal (42, true, "a b", {1, 2}, nil); a
word that is not one is passed as a string.

Prints a string result as it is and any other as a Lua value; prints a
generator's items one per line as they arrive; bridges a byte stream to
stdin and stdout until both ends close.

Options:
  --token TOKEN      the exporter's token (default $HILT_TOKEN)
  --timeout SECONDS  the call expires after SECONDS, on both ends
  --logs             show the exporter's log on stderr while calling
  -h, --help         show this help

Exit status: 0 the call succeeded; 1 it failed (the error is printed);
2 a bad command line or a path the tree lacks; 3 the exporter could not be
reached or was lost.
]]

local function show(v)
  if type(v) == "string" then
    io.stdout:write(v, v:sub(-1) == "\n" and "" or "\n")
  else
    io.stdout:write(pretty.format(v), "\n")
  end
  io.stdout:flush()
end

-- stdin and stdout as one byte stream. The loop can watch pipes, sockets
-- and terminals; a regular file or /dev/null cannot be watched, so then
-- both are read and written directly (they never block for long).
local function stdio_stream()
  local ok, s = pcall(function() return require("hilt.net").stdio() end)
  if ok then
    return s
  end
  return {
    read = function() return io.stdin:read(65536) end,
    write = function(_, data) io.stdout:write(data) end,
    shutdown = function() io.stdout:flush() end,
    close = function() io.stdout:flush() end,
  }
end

local function run_call(node, member, call_opts, params)
  if member.kind == "call" then
    show(node:call_with(call_opts, member.name, table.unpack(params, 1, params.n)))
  elseif member.kind == "generator" then
    local s = node:stream_with(call_opts, member.name, table.unpack(params, 1, params.n))
    for item in s do
      io.stdout:write(pretty.format(item, { width = 0 }), "\n")
      io.stdout:flush()
    end
  else
    local s = node:stream_with(call_opts, member.name, table.unpack(params, 1, params.n))
    local stdio = stdio_stream()
    pump.both(stdio, s, 0.5)
    stdio:close()
  end
end

return function(argv)
  local opts, pos = remote.command("call", argv, { token = "value",
    timeout = "value", logs = "flag" }, USAGE, 2, math.huge,
    "an address and a method path are needed")
  if not opts then
    return
  end
  local timeout = opts.timeout and tonumber(opts.timeout)
  if opts.timeout and (not timeout or timeout <= 0) then
    return remote.die("call", remote.EXIT_USAGE, "--timeout needs a number "
      .. "of seconds > 0, got '%s'", opts.timeout)
  end
  local params = { n = #pos - 2 }
  for i = 3, #pos do
    params[i - 2] = pretty.literal(pos[i])
  end
  local lab = remote.connect("call", pos[1], opts)
  local node, member = remote.find(lab, pos[2])
  if not node then
    return remote.die("call", remote.EXIT_USAGE, "%s", member)
  end
  local ok, err = pcall(run_call, node, member, { timeout = timeout }, params)
  if opts.logs then
    hilt.sleep(0.1) -- the records of this call are on their way
  end
  lab:close()
  if not ok then
    if hcore.is_error(err, "cancelled") then
      error(err, 0)
    end
    return remote.die("call", remote.status(err), "%s: %s", pos[2],
      remote.describe(err))
  end
end
