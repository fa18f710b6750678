-- hilt.console: a console on any byte stream (a serial port, a TCP
-- connection, a remote driver's byte stream, a child on a pty): wait for
-- what it prints, type into it, run shell commands and read their exit
-- codes, log everything with timestamps (docs/console.md).
--
--   local con = console.new(lab.dut.serial:connect(), { log = "dut.log" })
--   con:expect("login:", 30)
--   con:sendline("root")
--   local out, code = con:run("uname -a")
--
-- The stream needs read() (bytes, or nil at its end) and write(bytes).
local hilt = require("hilt")
local hcore = require("hilt.core")
local console_log = require("hilt.console_log")

local M = {}

local Console = {}
Console.__index = Console

local DEFAULTS = {
  timeout = 30,      -- seconds expect waits unless told otherwise
  window = 4096,     -- bytes of old output a match may start in
  max_buffer = 1024 * 1024,  -- unmatched output kept; older is dropped
  newline = "\n",
}

--- new(stream [, opts]) -> console. opts: timeout (default 30 s), newline
--- ("\n"), log (a file path, appended to, or a console log object), name
--- (for messages), window (4096: how far back in already searched output
--- a match may start), max_buffer (1 MiB of unmatched output kept), prompt
--- (a pattern for run and login).
function M.new(stream, opts)
  opts = opts or {}
  if type(stream) ~= "table" and type(stream) ~= "userdata" then
    error("bad argument #1 to 'console.new' (a byte stream expected)", 2)
  end
  -- Output not yet consumed is `old` (a list of strings already searched
  -- in full) followed by `buf`, the part a match may still start in: new
  -- data joins only `buf`, so a long stream is searched, and copied, about
  -- once.
  local self = setmetatable({
    stream = stream, buf = "", searched = 0, eof = false, old = {}, old_len = 0,
    name = opts.name or tostring(stream),
    prompt = opts.prompt,
  }, Console)
  for k, v in pairs(DEFAULTS) do
    self[k] = opts[k] == nil and v or opts[k]
  end
  if opts.log then
    self.log = type(opts.log) == "string" and console_log.open(opts.log) or opts.log
    self.own_log = type(opts.log) == "string"
  end
  return self
end

-- --- reading ----------------------------------------------------------------------

-- Reads once more from the stream into the buffer. False at its end.
function Console:fill()
  if self.eof then
    return false
  end
  local data = self.stream:read()
  if data == nil then
    self.eof = true
    return false
  end
  if self.log then
    self.log:write("<", data)
  end
  self.buf = self.buf .. data
  return true
end

-- After a search that found nothing: what lies further back than `window`
-- bytes can no longer start a match, so it moves to `old`, and `old` keeps
-- at most max_buffer bytes.
function Console:settle()
  self.searched = #self.buf
  local keep = self.window
  if keep <= 0 or #self.buf <= keep then
    return
  end
  local cut = #self.buf - keep
  self.old[#self.old + 1] = self.buf:sub(1, cut)
  self.old_len = self.old_len + cut
  self.buf = self.buf:sub(cut + 1)
  self.searched = #self.buf
  while self.old_len > self.max_buffer and #self.old > 1 do
    self.old_len = self.old_len - #table.remove(self.old, 1)
  end
end

-- Everything not consumed before position `upto` of buf, then consumed.
function Console:take(upto)
  local before = table.concat(self.old) .. self.buf:sub(1, upto - 1)
  self.old, self.old_len = {}, 0
  return before
end

local function normalize(patterns)
  if type(patterns) == "string" then
    return { patterns }
  end
  if type(patterns) ~= "table" or #patterns == 0 then
    error("bad argument #1 to 'expect' (a pattern or a list of patterns expected)", 3)
  end
  return patterns
end

-- The first pattern that matches the buffer from `init`, earliest match
-- first: index, start, finish, captures.
local function search(buf, patterns, init, plain)
  local best, bs, be, bcaps
  for i, p in ipairs(patterns) do
    local r = table.pack(buf:find(p, init, plain))
    if r[1] and (bs == nil or r[1] < bs) then
      best, bs, be = i, r[1], r[2]
      bcaps = table.move(r, 3, r.n, 1, {})
    end
  end
  return best, bs, be, bcaps
end

local function describe(patterns)
  local q = {}
  for i, p in ipairs(patterns) do q[i] = ("%q"):format(p) end
  return table.concat(q, " or ")
end

local function tail(s, n)
  s = #s > n and ("..." .. s:sub(-n)) or s
  return (s:gsub("[%c\128-\255]", function(c)
    return c == "\n" and "\\n" or c == "\r" and "\\r" or ("\\x%02x"):format(c:byte())
  end))
end

--- console:expect(patterns [, timeout [, opts]]) -> index, match, before.
--- patterns: a Lua pattern or a list of them; waits until one matches the
--- output not yet consumed (the earliest match wins), consumes up to the
--- end of the match and returns which pattern matched, a table with the
--- whole match at [0] and the captures at 1..n, and the text before the
--- match. opts.plain: the patterns are plain text. Raises `timeout`
--- (with the last output in the message) or `unavailable` when the
--- stream ends first.
function Console:expect(patterns, timeout, opts)
  patterns = normalize(patterns)
  timeout = timeout or self.timeout
  local plain = opts and opts.plain or false
  local deadline = hilt.now() + timeout
  while true do
    local init = self.window > 0 and math.max(1, self.searched - self.window + 1) or 1
    local i, s, e, caps = search(self.buf, patterns, init, plain)
    if i then
      local before = self:take(s)
      caps[0] = self.buf:sub(s, e)
      self.buf = self.buf:sub(e + 1)
      self.searched = 0
      return i, caps, before
    end
    self:settle()
    local left = deadline - hilt.now()
    local ok, more = true, false
    if left > 0 then
      ok, more = pcall(hilt.timeout, left, self.fill, self)
    end
    if not ok and not hcore.is_error(more, "timeout") then
      error(more, 0)
    end
    if left <= 0 or not ok then
      error(hcore.error("timeout", ("%s: expect timed out after %g s waiting "
        .. "for %s; last output: %q"):format(self.name, timeout,
        describe(patterns), tail(self.buf, 200))), 2)
    end
    if not more then
      error(hcore.error("unavailable", ("%s: the console closed while "
        .. "waiting for %s; last output: %q"):format(self.name,
        describe(patterns), tail(self.buf, 200))), 2)
    end
  end
end

--- console:read_pending() -> the output read but not consumed by expect,
--- which is then consumed.
function Console:read_pending()
  local s = self:take(#self.buf + 1)
  self.buf, self.searched = "", 0
  return s
end

-- --- writing ----------------------------------------------------------------------

--- console:send(bytes): writes bytes as they are.
function Console:send(data)
  if self.log then
    self.log:write(">", data)
  end
  self.stream:write(data)
end

--- console:sendline([line]): writes line and the newline.
function Console:sendline(line)
  self:send((line or "") .. self.newline)
end

-- --- shell commands -----------------------------------------------------------------

local function marker()
  return ("%08x"):format(math.random(0, 0x7fffffff))
end

--- console:run(cmd [, timeout]) -> output, code: runs a shell command on
--- the console's shell and returns what it printed (lines ending "\n")
--- and its exit status. The command is framed by markers echoed around it
--- (labgrid's ShellDriver technique), written so that the shell's own
--- echo of the line cannot match them. With a prompt set, waits for the
--- prompt after the command too.
function Console:run(cmd, timeout)
  timeout = timeout or self.timeout
  local m = marker()
  local a, b = "HILT" .. m:sub(1, 4), m:sub(5) .. "MARK"
  local mark = a .. b
  self:sendline(("echo '%s''%s'; %s; echo \"%s\"\"%s$?\""):format(a, b, cmd, a, b))
  local deadline = hilt.now() + timeout
  self:expect(mark .. "\r?\n", timeout)
  local _, caps, output = self:expect(mark .. "(%d+)\r?\n",
    math.max(0, deadline - hilt.now()))
  if self.prompt then
    self:expect(self.prompt, math.max(0.001, deadline - hilt.now()))
  end
  return (output:gsub("\r\n", "\n")), tonumber(caps[1])
end

--- console:run_check(cmd [, timeout]) -> output, raising `failed` with the
--- output unless the command exits 0.
function Console:run_check(cmd, timeout)
  local out, code = self:run(cmd, timeout)
  if code ~= 0 then
    error(hcore.error("failed", ("%s: '%s' exited %d: %s"):format(self.name,
      cmd, code, tail(out, 400))), 2)
  end
  return out
end

--- console:login(opts) -> true: brings the console to a shell prompt:
--- opts.prompt (a pattern; required unless the console has one), user,
--- password, login_prompt ("login: *$"), password_prompt
--- ("[Pp]assword: *$"), timeout. Sends a newline, then answers the login
--- and password prompts until the shell prompt shows; an already
--- logged-in shell is left as it is. A refused login raises `failed`.
function Console:login(opts)
  opts = opts or {}
  local prompt = opts.prompt or self.prompt
  if not prompt then
    error("bad argument #1 to 'login' (a prompt pattern is needed)", 2)
  end
  self.prompt = prompt
  local timeout = opts.timeout or self.timeout
  local deadline = hilt.now() + timeout
  local login = opts.login_prompt or "login: *$"
  local pass = opts.password_prompt or "[Pp]assword: *$"
  local wrong = opts.failed_prompt or "[Ll]ogin incorrect"
  local tries = 0
  -- A prompt may be on the line already; only when none shows within a
  -- second is the console woken with a newline. (Sending one blindly can
  -- make getty print a second login prompt after the user is on its way.)
  local patterns = { prompt, login, pass, wrong }
  local ok, i = pcall(self.expect, self, patterns,
    math.max(0.001, math.min(1, deadline - hilt.now())))
  if not ok then
    if not hcore.is_error(i, "timeout") then
      error(i, 0)
    end
    self:sendline()
    i = nil
  end
  while true do
    if i == nil then
      i = self:expect(patterns, math.max(0.001, deadline - hilt.now()))
    end
    if i == 1 then
      return true
    elseif i == 2 then
      tries = tries + 1
      if not opts.user or tries > 3 then
        error(hcore.error("failed", ("%s: %s"):format(self.name, opts.user
          and ("login incorrect for " .. opts.user)
          or "the console asks for a login and no user was given")), 2)
      end
      self:sendline(opts.user)
    elseif i == 3 then
      self:sendline(opts.password or "")
    elseif tries >= 1 and not opts.retry then
      error(hcore.error("failed", ("%s: login incorrect for %s"):format(
        self.name, tostring(opts.user))), 2)
    end
    i = nil
  end
end

--- console:close(): closes the stream and the log this console opened.
function Console:close()
  if self.own_log and self.log then
    self.log:close()
  end
  self.log = nil
  if self.stream.close then
    self.stream:close()
  end
end
Console.__close = Console.close

function Console:__tostring()
  return "console " .. self.name
end

M.Console = Console
return M
