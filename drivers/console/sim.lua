-- console.sim: the serial console of a simulated board, for labs without
-- hardware: a pty whose far side plays a board (hilt.sim.board: boot log,
-- login, a small shell), opened through hilt.serial like a real port and
-- shared like one (connect, watch, scrollback). A board whose console was
-- lost boots again.
--
--   console = { type = "console.sim", user = "root", password = "secret" }
local hilt = require("hilt")
local driver = require("hilt.driver")
local serial = require("hilt.serial")
local board = require("hilt.sim.board")
local console_hub = require("hilt.console_hub")

local Sim = driver.class("console.sim", {
  client = "console",
  description = "Serial console of a simulated board",
  options = {
    user = { type = "string", default = "root", doc = "the login" },
    password = { type = "string", doc = "asked after the login when given" },
    autoboot = { type = "number", default = 0,
      doc = "seconds the bootloader waits for a key" },
    log = { type = "string", doc = "file the console is logged to" },
    scrollback = { type = "integer", default = 64 * 1024 },
  },
})

-- Boots a board on a new pty and opens its port.
function Sim:boot()
  local master, path = serial.openpty()
  local o = self.options
  local task = hilt.spawn(function()
    pcall(board.run, master, { user = o.user, password = o.password,
      autoboot = o.autoboot })
  end)
  self.boards[#self.boards + 1] = { master = master, task = task }
  return serial.open(path)
end

function Sim:open()
  self.boards = {}
  self.hub = console_hub.new(function() return self:boot() end,
    { name = self.path ~= "" and self.path or "console", log = self.options.log,
      scrollback = self.options.scrollback, retry = 0.1 })
  self.hub:start()
end

function Sim:close()
  if self.hub then
    self.hub:stop()
    self.hub = nil
  end
  for _, b in ipairs(self.boards or {}) do
    b.master:close()
    b.task:cancel()
  end
  self.boards = {}
end

console_hub.exports(Sim)

Sim:export("send_break", "Send a break (the simulated board ignores it).",
  function(self) return true end)

return Sim
