-- hilt logs ADDR: follows an exporter's log (calls, driver messages,
-- errors) until Ctrl-C.
local remote = require("hilt.cli.remote")
local log = require("hilt.log")
local client = require("hilt.client")

local USAGE = [[
usage: hilt logs ADDR [--backlog N] [--level LEVEL] [--token TOKEN]

Prints the log of the exporter at ADDR as it is written, one record per
line, until Ctrl-C or the exporter ends.

Options:
  --backlog N     first print up to N past records (default 20)
  --level LEVEL   info (default), warn or error
  --token TOKEN   the exporter's token (default $HILT_TOKEN)
  -h, --help      show this help
]]

return function(argv)
  local opts, pos = remote.command("logs", argv, { backlog = "value",
    level = "value", token = "value" }, USAGE, 1, 1, "one address expected")
  if not opts then
    return
  end
  local lab = remote.connect("logs", pos[1], opts)
  local ok, err = pcall(function()
    for rec in lab:logs({ backlog = tonumber(opts.backlog) or 20, level = opts.level }) do
      if not client.is_log_start(rec) then
        io.stdout:write(("%s %-5s %s: %s\n"):format(log.stamp(rec.time),
          rec.level:upper(), rec.source, rec.message))
      end
      io.stdout:flush()
    end
  end)
  lab:close()
  if not ok then
    return remote.die("logs", remote.status(err), "%s", remote.describe(err))
  end
end
