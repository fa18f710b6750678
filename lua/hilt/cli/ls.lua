-- hilt ls ADDR: the driver tree an exporter serves, with labels, methods
-- and their descriptions.
local remote = require("hilt.cli.remote")
local driver = require("hilt.driver")

local USAGE = [[
usage: hilt ls ADDR [--token TOKEN] [--uuids]

Prints the driver tree the exporter at ADDR serves: each node with its
driver type, labels and description, and each method with its arguments
and what it does. Generators are marked [items], byte streams [bytes].

Options:
  --token TOKEN   the exporter's token (default $HILT_TOKEN)
  --uuids         show each node's uuid
  -h, --help      show this help
]]

local KIND = { call = "", generator = " [items]", stream = " [bytes]" }

local function labels(l)
  local keys, out = driver.sorted_keys(l), {}
  for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. l[k] end
  return #out > 0 and ("  {" .. table.concat(out, ", ") .. "}") or ""
end

local function signature(m)
  local a = {}
  for i, arg in ipairs(m.args or {}) do a[i] = arg.name end
  return ("%s(%s)%s"):format(m.name, table.concat(a, ", "), KIND[m.kind] or "")
end

local function print_node(out, node, indent, opts, name)
  out[#out + 1] = ("%s%s (%s)%s%s%s"):format(indent, name, node.type,
    labels(node.labels), node.description ~= "" and ("  " .. node.description) or "",
    opts.uuids and ("  uuid " .. node.uuid) or "")
  local width = 0
  for _, m in ipairs(node.methods) do
    width = math.max(width, #signature(m))
  end
  for _, m in ipairs(node.methods) do
    out[#out + 1] = ("%s    %-" .. width .. "s  %s"):format(indent, signature(m),
      m.doc or "")
    for _, a in ipairs(m.args or {}) do
      if a.doc and a.doc ~= "" then
        out[#out + 1] = ("%s    %s  %s: %s"):format(indent, (" "):rep(width),
          a.name, a.doc)
      end
    end
  end
  for _, cname in ipairs(driver.sorted_keys(node.children)) do
    local c = node.children[cname]
    local own = node.path == "" and cname or (node.path .. "." .. cname)
    if c.path ~= own then
      out[#out + 1] = ("%s  %s -> %s"):format(indent, cname, c.path)
    else
      print_node(out, c, indent .. "  ", opts, cname)
    end
  end
end

return function(argv)
  local opts, pos = remote.command("ls", argv, { token = "value", uuids = "flag" },
    USAGE, 1, 1, "one address expected")
  if not opts then
    return
  end
  local lab = remote.connect("ls", pos[1], opts)
  local r = lab.report
  local out = { ("exporter %s at %s%s"):format(r.name or "?", pos[1],
    opts.uuids and ("  uuid " .. r.uuid) or "") }
  print_node(out, lab, "", opts, ".")
  io.stdout:write(table.concat(out, "\n"), "\n")
  lab:close()
end
