-- composite: groups other drivers under one name; exports nothing itself.
local driver = require("hilt.driver")

return driver.class("composite", {
  description = "A group of drivers",
})
