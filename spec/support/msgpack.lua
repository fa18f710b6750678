-- Helpers shared by the msgpack specs: hex views of bytes, whole-string
-- decoding, nested values and caught errors.
local msgpack = require("hilt.msgpack")
local assert = require("luassert")

local M = {}

function M.hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

function M.unhex(h)
  return (h:gsub("%s", ""):gsub("%x%x", function(x)
    return string.char(tonumber(x, 16))
  end))
end

--- Unpacks all of s, checking that the whole string was one value.
function M.decode(s, opts)
  local v, pos = msgpack.unpack(s, 1, opts)
  assert.are.equal(#s + 1, pos)
  return v
end

function M.nested(depth)
  local v = 1
  for _ = 1, depth do v = { v } end
  return v
end

function M.err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  return err
end

return M
