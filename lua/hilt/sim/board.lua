-- hilt.sim.board: a simulated board on the far end of a byte stream (a
-- pty's master, a socket): a bootloader that counts down to autoboot, a
-- kernel that prints its boot log, a login and a small shell, with the
-- echo a tty gives. The console.sim driver and the specs of consoles and
-- serial ports use it.
--
--   hilt.spawn(require("hilt.sim.board").run, stream, { user = "root", password = "pw" })
--
-- The shell knows: echo (with '..' and ".." quoting and $?), true, false,
-- fail N (exits N), uname, hostname, yes N (N lines of "y"), binary (the
-- 256 byte values), exit; anything else is "not found" (127).
local hilt = require("hilt")

local M = {}

local function writer(stream)
  return function(s)
    stream:write((s:gsub("\r?\n", "\r\n")))
  end
end

-- Reads one line the way a tty in canonical mode gives it, echoing each
-- byte. Returns nil at the stream's end.
local function read_line(stream, pending, echo)
  while true do
    local nl = pending.buf:find("[\r\n]")
    if nl then
      local line = pending.buf:sub(1, nl - 1)
      pending.buf = pending.buf:sub(nl + 1):gsub("^\n", "")
      if echo then stream:write("\r\n") end
      return line
    end
    local data = stream:read()
    if data == nil then
      return nil
    end
    if echo then
      stream:write((data:gsub("[\r\n].*", "")))
    end
    pending.buf = pending.buf .. data
  end
end

-- Splits a command line into commands (;) and words, with quotes. "$?"
-- stays as the byte \0 until the command runs, as a shell expands it then.
local function parse(line)
  local cmds, words, word, quote = {}, {}, nil, nil
  local i = 1
  local function add(c)
    word = (word or "") .. c
  end
  while i <= #line do
    local c = line:sub(i, i)
    if quote then
      if c == quote then
        quote = nil
        word = word or ""
      elseif c == "$" and quote == '"' and line:sub(i + 1, i + 1) == "?" then
        add("\0"); i = i + 1
      else
        add(c)
      end
    elseif c == "'" or c == '"' then
      quote = c
    elseif c == "$" and line:sub(i + 1, i + 1) == "?" then
      add("\0"); i = i + 1
    elseif c == ";" or c == " " then
      if word then words[#words + 1] = word; word = nil end
      if c == ";" then cmds[#cmds + 1] = words; words = {} end
    else
      add(c)
    end
    i = i + 1
  end
  if word then words[#words + 1] = word end
  cmds[#cmds + 1] = words
  return cmds
end

local COMMANDS = {
  echo = function(out, args) out(table.concat(args, " ", 2) .. "\n") return 0 end,
  ["true"] = function() return 0 end,
  ["false"] = function() return 1 end,
  fail = function(_, args) return tonumber(args[2]) or 1 end,
  uname = function(out) out("Linux sim 6.1.0-sim\n") return 0 end,
  hostname = function(out) out("sim\n") return 0 end,
  yes = function(out, args)
    for _ = 1, tonumber(args[2]) or 1 do out("y\n") end
    return 0
  end,
  -- A lockup: nothing read is answered for N seconds (default 2), as a
  -- board whose kernel hung until a watchdog reset it.
  hang = function(_, args, stream)
    pcall(hilt.timeout, tonumber(args[2]) or 2, function()
      while stream:read() do end
    end)
    return 0
  end,
  binary = function(_, _, stream)
    local b = {}
    for i = 0, 255 do b[#b + 1] = string.char(i) end
    stream:write(table.concat(b))
    return 0
  end,
}

local function shell(stream, out, pending, opts)
  local status = 0
  while true do
    out(opts.prompt or "root@sim:~# ")
    local line = read_line(stream, pending, true)
    if line == nil then
      return
    end
    for _, words in ipairs(parse(line)) do
      for k, w in ipairs(words) do
        words[k] = w:gsub("%z", tostring(status))
      end
      local name = words[1]
      if name == "exit" then
        return
      elseif name then
        local fn = COMMANDS[name]
        if fn then
          status = fn(out, words, stream)
        else
          out("sh: " .. name .. ": not found\n")
          status = 127
        end
      end
    end
  end
end

local function login(stream, out, pending, opts)
  while true do
    if opts.split then
      -- The prompt arrives in two pieces, as slow serial lines deliver it.
      out("\nsim lo")
      hilt.sleep(0.02)
      out("gin: ")
      opts.split = nil
    else
      out("\nsim login: ")
    end
    local user = read_line(stream, pending, true)
    if user == nil then return false end
    -- An empty login just asks again, as agetty does.
    while user == "" do
      out("sim login: ")
      user = read_line(stream, pending, true)
      if user == nil then return false end
    end
    local password = ""
    if opts.password then
      out("Password: ")
      password = read_line(stream, pending, false)
      if password == nil then return false end
      out("\n")
    end
    if user == opts.user and password == (opts.password or "") then
      return true
    end
    out("\nLogin incorrect\n")
  end
end

--- run(stream [, opts]): plays the board on stream until it ends. opts:
--- autoboot (seconds the bootloader waits for a key, default 0: boot at
--- once), user (default "root"), password (nil: none asked), prompt,
--- split (write the login prompt in two pieces, 20 ms apart).
function M.run(stream, opts)
  opts = opts or {}
  opts.user = opts.user or "root"
  local out = writer(stream)
  local pending = { buf = "" }
  out("\nU-Boot 2024.01-sim (Jan 08 2024)\nDRAM:  1 GiB\n")
  if (opts.autoboot or 0) > 0 then
    out("Hit any key to stop autoboot: " .. opts.autoboot .. "\n")
    local got = pcall(hilt.timeout, opts.autoboot, function()
      local d = stream:read()
      pending.buf = pending.buf .. (d or "")
    end)
    if got then
      pending.buf = ""
      out("=> ")
      local line = read_line(stream, pending, true)
      if line == nil then return end
      out("Unknown command '" .. line .. "'\n=> boot\n")
    end
  end
  out("Starting kernel ...\n[    0.000000] Linux version 6.1.0-sim\n")
  out("[    1.234567] Run /sbin/init as init process\n")
  if login(stream, out, pending, opts) then
    shell(stream, out, pending, opts)
  end
end

return M
