-- Runs the hilt binary under test as a real child process and returns
-- what it printed and how it exited.
local core = require("hilt.core")

local M = {}

M.hilt = core.exepath()

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = quote

--- run(args [, opts]) -> {out=, err=, code=}. args is a list of words for
--- hilt; opts.stdin is text fed to it, opts.env a prefix like "A=1".
function M.run(args, opts)
  opts = opts or {}
  local errfile = os.tmpname()
  local infile = os.tmpname()
  local f = assert(io.open(infile, "w"))
  f:write(opts.stdin or "")
  f:close()
  local words = {}
  for i, a in ipairs(args) do
    words[i] = quote(a)
  end
  local cmd = ("%s %s %s <%s 2>%s; echo \"<rc=$?>\""):format(
    opts.env or "", opts.cmd or quote(M.hilt), table.concat(words, " "),
    quote(infile), quote(errfile))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  local code = tonumber(out:match("<rc=(%d+)>\n$"))
  out = out:gsub("<rc=%d+>\n$", "")
  f = assert(io.open(errfile))
  local err = f:read("a")
  f:close()
  os.remove(errfile)
  os.remove(infile)
  return { out = out, err = err, code = code }
end

--- script(source [, args, opts]) runs Lua source text as a script file.
function M.script(source, args, opts)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(source)
  f:close()
  local list = { path }
  for _, a in ipairs(args or {}) do
    list[#list + 1] = a
  end
  local r = M.run(list, opts)
  os.remove(path)
  r.path = path
  return r
end

return M
