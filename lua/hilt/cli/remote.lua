-- What `hilt ls`, `hilt call` and `hilt logs` share: reaching an exporter
-- and the exit statuses (docs/cli.md): 0 success, 1 the call failed, 2 a
-- bad command line or a path the tree lacks, 3 the exporter unreachable
-- or lost.
local hcore = require("hilt.core")
local client = require("hilt.client")

local M = {}

M.EXIT_FAILED, M.EXIT_USAGE, M.EXIT_UNAVAILABLE = 1, 2, 3

function M.die(cmd, code, fmt, ...)
  io.stdout:flush()
  io.stderr:write("hilt ", cmd, ": ", fmt:format(...), "\n")
  io.stderr:flush()
  return hcore.exit(code)
end

--- command(cmd, argv, spec, usage, min, max, missing) -> opts, pos: the
--- options of `hilt cmd` (args.parse's spec; -h/--help added), with
--- between min and max positional arguments. Prints the help, or the
--- problem and the usage (exiting 2), and then returns nil.
function M.command(cmd, argv, spec, usage, min, max, missing)
  spec.help, spec.alias = "flag", spec.alias or { h = "help" }
  local opts, pos = require("hilt.cli.args").parse(argv, 2, spec)
  if not opts then
    M.die(cmd, M.EXIT_USAGE, "%s\n%s", pos, usage)
    return nil
  end
  if opts.help then
    io.stdout:write(usage)
    return nil
  end
  if #pos < min or #pos > max then
    M.die(cmd, M.EXIT_USAGE, "%s\n%s", missing, usage)
    return nil
  end
  return opts, pos
end

--- exit status for an error a call raised.
function M.status(err)
  if hcore.is_error(err, "unavailable") or hcore.is_error(err, "unauthenticated") then
    return M.EXIT_UNAVAILABLE
  elseif hcore.is_error(err, "not_found") or hcore.is_error(err, "invalid_argument") then
    return M.EXIT_USAGE
  end
  return M.EXIT_FAILED
end

function M.describe(err)
  if hcore.is_error(err) then
    return ("%s (%s)"):format(err.message, err.code)
  end
  return tostring(err)
end

--- connect(cmd, addr, opts) -> client tree, or exits 3 saying why.
function M.connect(cmd, addr, opts)
  local ok, lab = pcall(client.connect, addr, { token = opts.token
    or os.getenv("HILT_TOKEN"), logs = opts.logs and 0 or nil })
  if not ok then
    return M.die(cmd, M.status(lab) == M.EXIT_FAILED and M.EXIT_FAILED
      or M.EXIT_UNAVAILABLE, "%s", M.describe(lab))
  end
  return lab
end

--- find(lab, path) -> node, member, or nil and why: "dut.power.on" or
--- "dut/power/on" names a member; the last name is the member.
function M.find(lab, path)
  local names = {}
  for name in path:gsub("/", "."):gmatch("[^.]+") do
    names[#names + 1] = name
  end
  local node, walked = lab, {}
  for i = 1, #names - 1 do
    local nxt = node.children[names[i]]
    if nxt == nil then
      local have = {}
      for k in pairs(node.children) do have[#have + 1] = k end
      table.sort(have)
      return nil, ("no node '%s'%s (%s)"):format(
        table.concat(walked, ".") .. (#walked > 0 and "." or "") .. names[i],
        #walked > 0 and "" or " at the top",
        #have > 0 and ("children there: " .. table.concat(have, ", "))
          or "it has no children")
    end
    walked[#walked + 1] = names[i]
    node = nxt
  end
  local name = names[#names]
  local member = name and node._members[name]
  if member == nil then
    local have = {}
    for _, m in ipairs(node.methods) do have[#have + 1] = m.name end
    return nil, ("%s has no method '%s' (%s)"):format(
      node.path == "" and "the root" or node.path, tostring(name),
      #have > 0 and ("methods: " .. table.concat(have, ", ")) or "it has none")
  end
  return node, member
end

return M
