-- hilt.process: child processes (docs/io.md).
--
--   local process = require("hilt.process")
--   local r = process.run("make -j2", { timeout = 600 })
--   if r.code ~= 0 then error(r.stderr) end
--
--   local p <close> = process.spawn({ "tail", "-f", "/var/log/syslog" })
--   for line in function() return p.stdout:read_until("\n") end do ... end
--
-- spawn, the process object and its streams are C
-- (bindings/l_process.c, bindings/l_net_stream.c); run is built here from
-- them, with one task per stream so a child that fills one pipe while we
-- wait on another cannot deadlock.
local hilt = require("hilt")
local core = require("hilt.process.core")

local M = { spawn = core.spawn }

local DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024
local DEFAULT_KILL_GRACE = 2

local RUN_OPTIONS = {
  cwd = true, env = true, input = true, timeout = true, kill_grace = true,
  max_output = true,
}

-- Raises an argument error at run's caller (arg_error, check_run, run,
-- the caller).
local function arg_error(n, msg)
  error(("bad argument #%d to 'run' (%s)"):format(n, msg), 4)
end

-- Why opts[name] is not a number >= min (an integer if asked), or nil.
local function bad_number(opts, name, min, integer)
  local v = opts[name]
  if v == nil or (type(v) == "number" and v == v and v >= min
      and (not integer or math.type(v) == "integer")) then
    return nil
  end
  return ("%s must be %s >= %s"):format(
    name, integer and "an integer" or "a number", min)
end

local function check_run(cmd, opts)
  if type(cmd) ~= "string" and type(cmd) ~= "table" then
    arg_error(1, "command string or argv list expected, got " .. type(cmd))
  end
  if opts == nil then
    return {}
  end
  if type(opts) ~= "table" then
    arg_error(2, "table expected, got " .. type(opts))
  end
  for k in pairs(opts) do
    if not RUN_OPTIONS[k] then
      arg_error(2, ("unknown option '%s'"):format(tostring(k)))
    end
  end
  if opts.input ~= nil and type(opts.input) ~= "string" then
    arg_error(2, "input must be a string, got " .. type(opts.input))
  end
  local why = bad_number(opts, "timeout", 0)
    or bad_number(opts, "kill_grace", 0)
    or bad_number(opts, "max_output", 0, true)
  if why then
    arg_error(2, why)
  end
  return opts
end

-- Runs fn(...), treating a failed stream (the child went away) as done.
local function quietly(fn, ...)
  local ok, err = pcall(fn, ...)
  if not ok and not hilt.is_error(err, "unavailable") then
    error(err, 0)
  end
end

-- Reads a stream to its end, keeping at most `max` bytes; what comes
-- after is read and dropped, and res.truncated says so.
local function collect(stream, max, res)
  local parts, have = {}, 0
  local function take()
    local data = stream:read()
    while data do
      local keep = math.min(#data, max - have)
      if keep < #data then
        res.truncated = true
        data = data:sub(1, keep)
      end
      if keep > 0 then
        parts[#parts + 1] = data
        have = have + keep
      end
      data = stream:read()
    end
  end
  quietly(take)
  return table.concat(parts)
end

local function feed(stream, input)
  quietly(function()
    stream:write(input)
    stream:shutdown()
  end)
end

-- Ends a child that overstays: SIGTERM to its group, then SIGKILL.
local function watchdog(proc, timeout, grace, res)
  hilt.sleep(timeout)
  res.timed_out = true
  proc:kill("term")
  hilt.sleep(grace)
  proc:kill("kill")
end

--- run(cmd [, opts]) -> {code, signal, stdout, stderr, timed_out,
--- truncated, duration}. cmd is an argv list, or a string run by
--- /bin/sh -c. Waits for the child to exit and for its stdout and stderr
--- to end. Raises only when the child cannot be started.
function M.run(cmd, opts)
  opts = check_run(cmd, opts)
  local argv = type(cmd) == "string" and { "/bin/sh", "-c", cmd } or cmd
  local start = hilt.now()
  local proc <close> = core.spawn(argv, {
    cwd = opts.cwd,
    env = opts.env,
    stdin = opts.input and "pipe" or "null",
  }, "run")
  local res = { timed_out = false, truncated = false }
  local max = opts.max_output or DEFAULT_MAX_OUTPUT
  -- Closed (cancelled) in reverse order when run ends, whichever way.
  local out <close> = hilt.spawn(collect, proc.stdout, max, res)
  local err <close> = hilt.spawn(collect, proc.stderr, max, res)
  local input <close> = opts.input and hilt.spawn(feed, proc.stdin, opts.input)
  local dog <close> = opts.timeout and hilt.spawn(watchdog, proc,
    opts.timeout, opts.kill_grace or DEFAULT_KILL_GRACE, res)
  res.code, res.signal = proc:wait()
  res.stdout = out:join()
  res.stderr = err:join()
  res.duration = hilt.now() - start
  return res
end

return M
