-- hilt console ADDR PATH: this terminal on a remote console, in raw mode,
-- until an escape sequence says otherwise. The terminal is put back
-- however the session ends: the escape, the console closing, an error,
-- SIGTERM or SIGHUP.
local hilt = require("hilt")
local hcore = require("hilt.core")
local remote = require("hilt.cli.remote")

local ESC = "\29"  -- Ctrl-]

local USAGE = [[
usage: hilt console ADDR PATH [--watch] [--backlog N] [--action KEY=METHOD]...
                    [--token TOKEN]

Attaches this terminal to the console PATH (e.g. dut.console) of the
exporter at ADDR: what the device prints appears here, what you type goes
to it. One client at a time types; with --watch this one only watches.

Escape: Ctrl-] then
  q      quit
  b      send a break
  ?      this list
  KEY    an action given with --action (e.g. --action p=dut.power.cycle)
  Ctrl-] send a Ctrl-] itself

Options:
  --watch           read-only
  --backlog N       first show the last N bytes the console printed
  --action K=PATH   Ctrl-] K calls the method PATH (a one-letter K)
  --token TOKEN     the exporter's token (default $HILT_TOKEN)
  -h, --help        show this help

Exit status: 0 after q; 3 when the console or the exporter goes away;
1 on other errors; 2 for a bad command line.
]]

local function say(fmt, ...)
  io.stderr:write("\r\n[hilt: ", fmt:format(...), "]\r\n")
  io.stderr:flush()
end

local function parse_actions(list, lab)
  local actions = {}
  for _, a in ipairs(list) do
    local key, path = a:match("^(%w)=(.+)$")
    if not key then
      return nil, ("--action wants KEY=PATH with a one-letter KEY, got '%s'"):format(a)
    end
    if key == "q" or key == "b" then
      return nil, ("--action key '%s' is taken (q quits, b sends a break)"):format(key)
    end
    local node, member = remote.find(lab, path)
    if not node then
      return nil, member
    end
    actions[key] = { node = node, member = member, path = path }
  end
  return actions
end

-- Runs an escape command; returns "quit" to end the session.
local function command(c, node, actions, stream)
  if c == "q" or c == "." then
    return "quit"
  elseif c == ESC then
    stream:write(ESC)
  elseif c == "b" then
    local ok, err = pcall(node.call, node, "send_break")
    say(ok and "break sent" or ("no break: " .. remote.describe(err)))
  elseif actions[c] then
    local a = actions[c]
    say("calling %s ...", a.path)
    local ok, err = pcall(a.node.call, a.node, a.member.name)
    say(ok and "%s done" or ("%s failed: " .. remote.describe(err)), a.path)
  else
    local keys = {}
    for k, a in pairs(actions) do keys[#keys + 1] = k .. " " .. a.path end
    table.sort(keys)
    say("Ctrl-] then: q quit, b break, Ctrl-] itself%s",
      #keys > 0 and (", " .. table.concat(keys, ", ")) or "")
  end
end

-- Typed bytes to the console, with Ctrl-] taking the next byte as a
-- command. Returns when the user quits or the terminal ends.
local function type_loop(stdin, stream, node, actions)
  local escaped = false
  while true do
    local data = stdin:read()
    if data == nil then
      return "eof"
    end
    local out = {}
    for i = 1, #data do
      local c = data:sub(i, i)
      if escaped then
        escaped = false
        if #out > 0 then stream:write(table.concat(out)) out = {} end
        if command(c, node, actions, stream) == "quit" then
          return "quit"
        end
      elseif c == ESC then
        escaped = true
      else
        out[#out + 1] = c
      end
    end
    if #out > 0 then
      stream:write(table.concat(out))
    end
  end
end

local function show_loop(stream, stdout)
  while true do
    local data = stream:read()
    if data == nil then
      return "closed"
    end
    stdout:write(data)
  end
end

local function session(lab, node, opts, actions)
  local stream = node:stream(opts.watch and "watch" or "connect", tonumber(opts.backlog))
  local stdio = require("hilt.net").stdio()
  local shower = hilt.spawn(show_loop, stream, stdio)
  local typer = hilt.spawn(type_loop, stdio, stream, node, actions)
  local stop = hilt.queue()
  local watchers = {
    hilt.signal("term", function() stop:put("SIGTERM") end),
    hilt.signal("hup", function() stop:put("SIGHUP") end),
  }
  local waiter = hilt.spawn(function() return stop:get() end)
  local first, index = hilt.wait_first({ shower, typer, waiter })
  for _, w in ipairs(watchers) do w:stop() end
  for _, t in ipairs({ shower, typer, waiter }) do
    if t ~= first then t:cancel() end
  end
  local ok, why = pcall(first.join, first)
  stream:close()
  if index == 1 then
    return ok and "the console closed" or remote.describe(why), remote.EXIT_UNAVAILABLE
  elseif index == 3 then
    return "ended by " .. tostring(why), 1
  end
  return nil, 0
end

return function(argv)
  local opts, pos = remote.command("console", argv, { watch = "flag",
    backlog = "value", token = "value", action = "list" }, USAGE, 2, 2,
    "an address and a console path are needed")
  if not opts then
    return
  end
  local lab = remote.connect("console", pos[1], opts)
  local node, why = remote.find(lab, pos[2] .. ".connect")
  if not node then
    return remote.die("console", remote.EXIT_USAGE, "%s is not a console: %s",
      pos[2], why)
  end
  local actions
  actions, why = parse_actions(opts.action or {}, lab)
  if not actions then
    return remote.die("console", remote.EXIT_USAGE, "%s", why)
  end
  local raw = hcore.isatty(0) and pcall(hcore.tty_raw, 0)
  if raw then
    say("%s on %s; Ctrl-] q quits, Ctrl-] ? lists the keys", pos[2], pos[1])
  end
  local ok, msg, code = pcall(session, lab, node, opts, actions)
  hcore.tty_restore()
  lab:close()
  if not ok then
    return remote.die("console", remote.status(msg), "%s", remote.describe(msg))
  end
  if msg then
    io.stderr:write("hilt console: ", msg, "\n")
  end
  return hcore.exit(code)
end
