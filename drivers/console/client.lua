-- The client of consoles (serial, console.tcp): the exported members,
-- plus console(), which wraps the byte stream in hilt.console (expect,
-- run, login).
local client = require("hilt.client")
local console = require("hilt.console")

local Console = client.class("console")

--- node:console([opts]) -> console on connect()'s stream; opts as
--- console.new's, plus backlog (bytes of past output to see first).
function Console:console(opts)
  opts = opts or {}
  local s = self:connect(opts.backlog)
  opts.name = opts.name or self.path
  return console.new(s, opts)
end

return Console
