return require("hilt.core")
