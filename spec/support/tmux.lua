-- A program on a real terminal for the specs: tmux runs it in a pane of
-- its own server (a private socket), keys are typed with send-keys and
-- the screen read with capture-pane, as a user would see it.
--
--   local tmux = require("spec.support.tmux")
--   local t = tmux.start({ exporter.hilt, "repl" }, { env = { HILT_HISTORY = f } })
--   t:wait_for("> $")
--   t:type("1+1") t:keys("Enter")
--   t:wait_for("\n2\n")
--   t:keys("C-d")
--   assert(t:exit_status() == 0)
--   t:close()
local hilt = require("hilt")
local process = require("hilt.process")
local exporter = require("spec.support.exporter")

local M = {}

local Pane = {}
Pane.__index = Pane

-- Quoted for the shell tmux runs the command with.
local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function Pane:tmux(...)
  local argv = { "tmux", "-S", self.socket, ... }
  local r = process.run(argv, { timeout = 10 })
  if r.code ~= 0 then
    error(("tmux %s failed (%s): %s"):format(select(1, ...), tostring(r.code), r.stderr), 2)
  end
  return r.stdout
end

--- start(argv [, opts]) -> pane: runs argv in a new tmux server, on a
--- terminal of opts.width x opts.height (100 x 30), with opts.env added.
--- pane:exit_status() says how the program ended.
function M.start(argv, opts)
  opts = opts or {}
  local dir = exporter.tmpdir()
  local self = setmetatable({ dir = dir, socket = dir .. "/tmux.sock" }, Pane)
  local words = {}
  for k, v in pairs(opts.env or {}) do words[#words + 1] = k .. "=" .. quote(v) end
  for _, a in ipairs(argv) do words[#words + 1] = quote(a) end
  -- The shell around the program ignores Ctrl-C (the program sets its
  -- own handler) so that it stays to write the exit status.
  self.status_file = dir .. "/status"
  local cmd = ("trap '' INT; env %s; echo $? > %s; exec sleep 600"):format(
    table.concat(words, " "), quote(self.status_file))
  self:tmux("-f", "/dev/null", "new-session", "-d", "-x", tostring(opts.width or 100),
    "-y", tostring(opts.height or 30), cmd)
  return self
end

--- pane:type(text): types text as is.
function Pane:type(text)
  self:tmux("send-keys", "-l", text)
end

--- pane:keys(...): presses keys by tmux's names ("Enter", "Tab", "C-c").
function Pane:keys(...)
  self:tmux("send-keys", ...)
end

--- pane:screen() -> the lines shown, trailing blank lines dropped.
function Pane:screen()
  return (self:tmux("capture-pane", "-p"):gsub("%s+$", ""))
end

--- pane:wait_for(pattern [, seconds]) -> screen: waits until the screen
--- matches the Lua pattern; raises with the screen when it does not.
function Pane:wait_for(pattern, seconds)
  local deadline = hilt.now() + (seconds or 5)
  local screen = self:screen()
  while not screen:find(pattern) and hilt.now() < deadline do
    hilt.sleep(0.05)  -- each look is a tmux process
    screen = self:screen()
  end
  if not screen:find(pattern) then
    error(("the screen never matched %q; it shows:\n%s"):format(pattern, screen), 2)
  end
  return screen
end

--- pane:exit_status([seconds]) -> the program's exit status once it has
--- ended (waiting up to seconds, default 5), or nil.
function Pane:exit_status(seconds)
  local deadline = hilt.now() + (seconds or 5)
  repeat
    local f = io.open(self.status_file)
    local status = f and f:read("n")
    if f then f:close() end
    if status then
      return status
    end
    hilt.sleep(0.05)
  until hilt.now() > deadline
  return nil
end

--- pane:close(): ends the tmux server and removes its directory.
function Pane:close()
  pcall(self.tmux, self, "kill-server")
  process.run({ "rm", "-rf", self.dir })
end

return M
