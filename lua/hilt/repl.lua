-- hilt.repl: the interactive prompt of `hilt repl`. Each chunk typed runs
-- as a task of its own while the loop goes on (drivers' streams, bus
-- callbacks, other tasks); Ctrl-C cancels it, which cancels the remote
-- calls it waits on; Ctrl-D leaves. Lines are edited with libedit
-- (bindings/l_edit.c): history kept across runs, Tab completing names,
-- driver trees and bus paths, other output drawn above the line typed.
--
--   require("hilt.repl").run({ lab = lab, bus = bus, banner = "..." })
local hilt = require("hilt")
local hcore = require("hilt.core")
local eval = require("hilt.repl.eval")
local output = require("hilt.repl.output")

local M = {}

local PROMPT, MORE = "> ", ">> "

--- history_file() -> where the history is kept: $HILT_HISTORY, else
--- ~/.hilt_history; nil (none kept) when HILT_HISTORY is empty.
function M.history_file()
  local f = os.getenv("HILT_HISTORY")
  if f then
    return f ~= "" and f or nil
  end
  local home = os.getenv("HOME")
  return home and (home .. "/.hilt_history") or nil
end

-- The globals chunks see are the program's own, as at Lua's prompt (a
-- script run before with -i shares them): lab, bus, hilt and help are
-- added to them.
local function environment(opts)
  local env = _G
  env.hilt = env.hilt or hilt
  env.lab = opts.lab or env.lab
  env.bus = opts.bus or env.bus
  env.__repl_history = opts.history
  env.help = require("hilt.repl.help").new(env, { write = opts.write })
  return env
end

local Session = {}
Session.__index = Session

-- Runs a chunk as a task of its own and waits for it; Ctrl-C meanwhile
-- cancels that task.
function Session:run_chunk(chunk)
  local task = hilt.spawn(eval.run, chunk)
  self.running = task
  local ok, done, text = pcall(task.join, task)
  self.running = nil
  if not ok then
    done, text = false, eval.describe(done)
  end
  if text then
    self.write(text .. "\n")
  end
  return done
end

-- One typed line: ends a chunk (run), or continues it (nil).
function Session:take_line(line)
  self.pending[#self.pending + 1] = line
  local src = table.concat(self.pending, "\n")
  local chunk, err, more = eval.compile(src, self.env)
  if more then
    return
  end
  self.pending = {}
  if chunk then
    self:run_chunk(chunk)
  else
    self.write(err .. "\n")
  end
end

function Session:remember(line)
  if line:match("%S") and self.editor then
    local ok, why = self.editor:history_add(line)
    if not ok and not self.history_warned then
      self.history_warned = true
      self.write(("(history not saved to %s: %s)\n"):format(self.history, why))
    end
  end
end

-- Reads one line with the editor: Tab first lets the completer fetch
-- what it needs (a bus listing), then completes. Returns the line, or
-- nil and "eof" or "interrupt".
function Session:read_line(prompt)
  local ed = self.editor
  ed:prompt(prompt)
  while true do
    local kind, text = ed:wait()
    if kind == "tab" then
      pcall(self.completer.prepare, self.completer, text)
      ed:resume()
    elseif kind == "line" then
      return text
    else
      return nil, kind
    end
  end
end

function Session:loop()
  while true do
    local line, why = self:read_line(#self.pending == 0 and PROMPT or MORE)
    if line then
      self:remember(line)
      self:take_line(line)
    elseif why == "interrupt" then
      self.pending = {}
    else
      return
    end
  end
end

-- Without a terminal (input from a pipe or a file): the same evaluation,
-- no prompt. The lines are read as Lua's io reads them, which holds the
-- loop while it waits: for scripted input, which is there at once.
function Session:loop_plain()
  for line in io.stdin:lines() do
    self:take_line((line:gsub("\r$", "")))
  end
end

-- Ctrl-C: cancels the running chunk, or drops the line being typed.
function Session:on_sigint()
  if self.running then
    self.write("\n")  -- after the ^C the terminal echoed
    self.running:cancel()
  elseif self.editor and self.editor:reading() then
    self.editor:interrupt()
  end
end

--- run(opts): the REPL until Ctrl-D or the end of input. opts: lab, bus
--- (bound as globals), banner (shown first), history (file; default
--- history_file()).
function M.run(opts)
  local self = setmetatable({ pending = {}, history = opts.history or M.history_file() }, Session)
  self.editor = hcore.editor({ history = self.history, complete = function(before, width)
    return self.completer:complete(before, width)
  end })
  self.write = self.editor and function(s) self.editor:write(s) end
    or function(s) io.stdout:write(s) io.stdout:flush() end
  self.env = environment({ lab = opts.lab, bus = opts.bus, history = self.history,
    write = function(s) self.write(s) end })
  self.completer = require("hilt.repl.complete").new({ env = self.env,
    bus = function() return self.env.bus end })
  -- Without an editor, output goes out as it comes.
  local restore = self.editor and output.route(self.write) or function() end
  hcore.own_sigint(true)
  local sigint = hilt.signal("int", function() self:on_sigint() end)
  -- Back from Ctrl-Z: the shell has set the terminal its own way.
  local sigcont = hilt.signal("cont", function()
    if self.editor then self.editor:redraw() end
  end)
  if opts.banner then
    self.write(opts.banner .. "\n")
  end
  local ok, err = pcall(self.editor and self.loop or self.loop_plain, self)
  sigint:stop()
  sigcont:stop()
  hcore.own_sigint(false)
  restore()
  if self.editor then
    self.editor:close()
  end
  if not ok then
    error(err, 0)
  end
end

return M
