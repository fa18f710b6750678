-- The client of the shell driver: each named command is a method (the
-- generic client's); check() adds labgrid's run_check.
local hilt = require("hilt")
local client = require("hilt.client")

local Shell = client.class("shell")

--- shell:check(name, ...) -> stdout: runs the command `name`, raising a
--- failed hilt.Error with its stderr unless it exits 0.
function Shell:check(name, ...)
  local r = self:call(name, ...)
  if r.code ~= 0 then
    local err = (r.stderr or ""):gsub("%s+$", "")
    error(hilt.error("failed", ("%s.%s exited %s%s%s"):format(self.path, name,
      tostring(r.code or r.signal), r.timed_out and " (timed out)" or "",
      err ~= "" and (": " .. err) or "")), 2)
  end
  return r.stdout
end

return Shell
