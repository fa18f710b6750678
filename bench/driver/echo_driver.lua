-- bench.echo: a driver whose one exported call returns its argument, so
-- that a call through a driver tree costs only what the tree adds.
local driver = require("hilt.driver")

local Echo = driver.class("bench.echo", {
  description = "Returns what it is given (bench/driver)",
})

Echo:export("echo", { doc = "Return x.", args = { "x: any value" } },
  function(_, x)
    return x
  end)

return Echo
