-- Waiting in specs for something that happens on its own time: a task
-- reaching a wait, a child process going away.
local hilt = require("hilt")

local M = {}

--- poll(seconds, ready) -> ready(): calls ready() every 5 ms until it is
--- true or `seconds` have passed.
function M.poll(seconds, ready)
  local deadline = hilt.now() + seconds
  while not ready() and hilt.now() < deadline do
    hilt.sleep(0.005)
  end
  return ready()
end

return M
