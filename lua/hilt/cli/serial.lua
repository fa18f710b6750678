-- hilt serial list: the serial ports of this machine, with what is known
-- of each (description, USB ids and serial number), for writing a port's
-- path or match into a config.
local args = require("hilt.cli.args")
local hcore = require("hilt.core")

local USAGE = [[
usage: hilt serial list [--help]

Lists the serial ports of this machine, one a line: the path, the
transport (usb, native, bluetooth), the USB vendor:product id and serial
number where there are, and the description. A port is opened by path,
or by a match on these in a config or script:
  serial.open({ vid = 0x0403, pid = 0x6001, serial = "A12" })
Pseudo-terminals are not listed; serial.open takes their path too.

Options:
  -h, --help   show this help
]]

-- The columns of a port: path, transport, USB id, serial, description.
local function row(p)
  local id = p.vid and ("%04x:%04x"):format(p.vid, p.pid) or "-"
  local desc = p.description or "-"
  if p.manufacturer and not desc:find(p.manufacturer, 1, true) then
    desc = p.manufacturer .. " " .. desc
  end
  return { p.path, p.transport or "-", id, p.serial or "-", desc }
end

local function print_table(rows)
  local width = {}
  for _, r in ipairs(rows) do
    for i = 1, #r - 1 do
      width[i] = math.max(width[i] or 0, #r[i])
    end
  end
  for _, r in ipairs(rows) do
    local cells = {}
    for i = 1, #r - 1 do
      cells[i] = r[i] .. (" "):rep(width[i] - #r[i])
    end
    cells[#r] = r[#r]
    io.stdout:write(table.concat(cells, "  "), "\n")
  end
end

local function list()
  local ports = require("hilt.serial").list()
  if #ports == 0 then
    io.stdout:write("no serial ports found\n")
    return
  end
  local rows = { { "PATH", "TRANSPORT", "USB ID", "SERIAL", "DESCRIPTION" } }
  for _, p in ipairs(ports) do
    rows[#rows + 1] = row(p)
  end
  print_table(rows)
end

return function(argv)
  local opts, pos = args.options("serial", argv, {}, USAGE)
  if not opts then
    return
  end
  if #pos == 0 then
    io.stdout:write(USAGE)
    return
  end
  if pos[1] ~= "list" or #pos > 1 then
    return args.usage_error("serial", USAGE, "unknown command '%s'",
      table.concat(pos, " "))
  end
  list()
end
