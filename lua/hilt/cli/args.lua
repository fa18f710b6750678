-- Command-line options for hilt's subcommands: "--name value",
-- "--name=value" and flags, then positional arguments. An option that is
-- not known, or lacks its value, is a usage error naming it. Also how a
-- subcommand ends with an error.
local hcore = require("hilt.core")

local M = {}

--- die(command, code, fmt, ...): "hilt COMMAND: message" on stderr (after
--- what stdout holds), then exit with code.
function M.die(command, code, fmt, ...)
  io.stdout:flush()
  io.stderr:write("hilt ", command, ": ", fmt:format(...), "\n")
  io.stderr:flush()
  return hcore.exit(code)
end

--- usage_error(command, usage, fmt, ...): "hilt COMMAND: message" and the
--- usage on stderr, then exit 2.
function M.usage_error(command, usage, fmt, ...)
  io.stderr:write("hilt ", command, ": ", fmt:format(...), "\n", usage)
  return hcore.exit(2)
end

--- options(command, argv, spec, usage) -> opts, positional: parse's, with
--- --help and -h; or nothing, once it has answered: the usage on stdout
--- for --help, a usage error (exit 2) for a bad option.
function M.options(command, argv, spec, usage)
  spec.help = "flag"
  spec.alias = spec.alias or {}
  spec.alias.h = "help"
  local opts, pos = M.parse(argv, 2, spec)
  if not opts then
    return M.usage_error(command, usage, "%s", pos)
  end
  if opts.help then
    io.stdout:write(usage)
    return
  end
  return opts, pos
end

--- message(err) -> an error's text: a hilt.Error's message, else tostring.
function M.message(err)
  return hcore.is_error(err) and err.message or tostring(err)
end

--- parse(argv, first, spec) -> opts, positional | nil, message.
--- spec: name -> "value" | "flag" | "list" (a value that may repeat,
--- collected in order); short aliases as spec.alias = {t = "token"}.
--- Options stop at "--" or, when spec.stop_at_positional, at the first
--- positional argument (the rest belongs to it, as for `hilt run`).
function M.parse(argv, first, spec)
  local opts, pos = {}, {}
  local i = first
  while argv[i] ~= nil do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do pos[#pos + 1] = argv[j] end
      break
    end
    local name, value = a:match("^%-%-([%w-]+)=(.*)$")
    if not name then
      name = a:match("^%-%-([%w-]+)$") or (a:match("^%-(%a)$") and
        (spec.alias and spec.alias[a:sub(2)] or a:sub(2)))
    end
    if name and a ~= "-" then
      local kind = spec[name]
      if kind == nil then
        return nil, ("unknown option '%s'"):format(a)
      elseif kind == "flag" then
        if value ~= nil then
          return nil, ("option '--%s' takes no value"):format(name)
        end
        opts[name] = true
      else
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then
            return nil, ("option '%s' needs a value"):format(a)
          end
        end
        if kind == "list" then
          opts[name] = opts[name] or {}
          table.insert(opts[name], value)
        else
          opts[name] = value
        end
      end
    else
      pos[#pos + 1] = a
      if spec.stop_at_positional then
        for j = i + 1, #argv do pos[#pos + 1] = argv[j] end
        break
      end
    end
    i = i + 1
  end
  return opts, pos
end

return M
