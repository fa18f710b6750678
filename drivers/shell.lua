-- shell: named shell commands on the exporter's machine, each a method
-- with its own timeout. `uname` returns {code, stdout, stderr, ...};
-- `uname_lines` streams the output line by line as it is written.
--
--   shell = { type = "shell", commands = {
--     uname = "uname -a",
--     flash = { cmd = "flash-tool --image", timeout = 600,
--               description = "Write an image (the image path as argument)" },
--   } }
--
-- Arguments given to a call are appended to the command, each quoted for
-- the shell, so they are never run as shell code.
local hilt = require("hilt")
local driver = require("hilt.driver")
local process = require("hilt.process")

local Shell = driver.class("shell", {
  client = "shell",
  description = "Named shell commands",
  options = {
    commands = { type = "table", required = true,
      doc = "name = \"command\" or { cmd = , timeout = , description = }" },
    timeout = { type = "number", default = 300,
      doc = "seconds a command may run unless it says otherwise",
      check = function(v) return v > 0, "must be > 0" end },
    cwd = { type = "string", doc = "directory the commands run in" },
    env = { type = "table", doc = "environment variables to add" },
    shell = { type = "string", default = "/bin/sh", doc = "the shell run with -c" },
  },
})

-- Checks one command entry; returns {cmd, timeout, description} or nil, why.
local function command(name, c, default_timeout)
  if type(c) == "string" then
    c = { cmd = c }
  end
  if type(c) ~= "table" or type(c.cmd) ~= "string" then
    return nil, ("command '%s' must be a string or { cmd = \"...\" }"):format(name)
  end
  if c.timeout ~= nil and (type(c.timeout) ~= "number" or c.timeout <= 0) then
    return nil, ("command '%s': timeout must be a number > 0"):format(name)
  end
  return { cmd = c.cmd, timeout = c.timeout or default_timeout,
           description = c.description or c.cmd }
end

Shell.options.commands.check = function(cmds)
  for name, c in pairs(cmds) do
    if not driver.is_name(name) or driver.RESERVED[name] then
      return false, ("command name '%s' cannot be a method name"):format(tostring(name))
    end
    local ok, why = command(name, c, 1)
    if not ok then
      return false, why
    end
  end
  return true
end

local function quote(arg)
  if type(arg) ~= "string" and type(arg) ~= "number" then
    error(hilt.error("invalid_argument", ("shell arguments must be strings or "
      .. "numbers, got %s"):format(type(arg))), 0)
  end
  return "'" .. tostring(arg):gsub("'", "'\\''") .. "'"
end

local function command_line(c, ...)
  local parts = { c.cmd }
  for i = 1, select("#", ...) do
    parts[#parts + 1] = quote((select(i, ...)))
  end
  return table.concat(parts, " ")
end

local function run(self, c, ...)
  local o = self.options
  local line = command_line(c, ...)
  local r = process.run({ o.shell, "-c", line }, { cwd = o.cwd, env = o.env,
    timeout = c.timeout })
  self:log(r.code == 0 and "info" or "warn", "%s: exit %s%s in %.2f s", line,
    tostring(r.code or r.signal), r.timed_out and " (timed out)" or "", r.duration)
  return r
end

-- Streams the command's output as {stream = "stdout"|"stderr", line = s}
-- items, lines without their "\n"; returns {code, signal, timed_out}.
local function run_lines(self, c, emit, ...)
  local o = self.options
  local p <close> = process.spawn({ o.shell, "-c", command_line(c, ...) },
    { cwd = o.cwd, env = o.env, stdin = "null" })
  local lines = hilt.queue(64)
  local readers = {}
  for _, name in ipairs({ "stdout", "stderr" }) do
    readers[#readers + 1] = hilt.spawn(function()
      while true do
        local ok, line = pcall(p[name].read_until, p[name], "\n")
        if not ok or line == nil then
          return
        end
        lines:put({ stream = name, line = (line:gsub("\n$", "")) })
      end
    end)
  end
  local closer <close> = setmetatable({ task = hilt.spawn(function()
    for _, r in ipairs(readers) do pcall(r.join, r) end
    lines:close()
  end) }, { __close = function(t)
    for _, r in ipairs(readers) do r:cancel() end
    t.task:cancel()
  end })
  local timed_out = false
  local timer <close> = setmetatable({ t = hilt.after(c.timeout, function()
    timed_out = true
    pcall(p.kill, p, "term")
    hilt.sleep(2)
    pcall(p.kill, p, "kill")
  end) }, { __close = function(t) t.t:stop() end })
  for item in lines:iter() do
    emit(item)
  end
  local code, signal = p:wait()
  return { code = code, signal = signal, timed_out = timed_out }
end

function Shell:init(opts)
  for name, entry in pairs(opts.commands) do
    local c = command(name, entry, opts.timeout)
    self:export(name, { doc = c.description .. (" (times out after %g s)")
      :format(c.timeout), args = { "...: arguments appended to the command" } },
      function(d, ...) return run(d, c, ...) end)
    self:export_generator(name .. "_lines", { doc = c.description
      .. ", its output streamed line by line",
      args = { "...: arguments appended to the command" } },
      function(d, emit, ...) return run_lines(d, c, emit, ...) end)
  end
end

return Shell
