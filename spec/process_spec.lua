-- hilt.process: run (exit codes, separate and large outputs, input, env,
-- cwd, timeouts that reach the whole group, output limits), spawn with
-- streamed output, wait, kill and close, and the errors a user sees.
local hilt = require("hilt")
local process = require("hilt.process")
local poll = require("spec.support.wait").poll

-- The state letter of pid in /proc ("S", "Z" for a zombie...), or nil
-- once it is gone for good.
local function state(pid)
  local f = io.open(("/proc/%d/stat"):format(pid))
  if f == nil then
    return nil
  end
  local stat = f:read("a")
  f:close()
  return stat:match("%) (%a)")
end

local function gone(pid)
  return state(pid) == nil
end

-- Whether pid has ended: gone, or a zombie of a parent that died (a
-- grandchild is adopted by init, which may not reap it here).
local function ended(pid)
  local st = state(pid)
  return st == nil or st == "Z"
end

describe("hilt.process", function()
  describe("run", function()
    it("runs a shell command and collects its output", function()
      local r = process.run("echo hi")
      assert.are.equal(0, r.code)
      assert.is_nil(r.signal)
      assert.are.equal("hi\n", r.stdout)
      assert.are.equal("", r.stderr)
      assert.is_false(r.timed_out)
      assert.is_false(r.truncated)
      assert.is_true(r.duration >= 0 and r.duration < 5)
    end)

    it("returns exit codes without raising", function()
      assert.are.equal(3, process.run("exit 3").code)
      assert.are.equal(1, process.run({ "false" }).code)
      assert.are.equal(0, process.run({ "true" }).code)
      assert.are.equal(255, process.run("exit 255").code)
    end)

    it("keeps stderr apart from stdout", function()
      local r = process.run({ "sh", "-c", "echo out; echo err >&2; echo out2" })
      assert.are.equal("out\nout2\n", r.stdout)
      assert.are.equal("err\n", r.stderr)
    end)

    it("reads 5 MB on stdout and on stderr without deadlocking", function()
      -- stderr first: a reader of stdout alone would leave the child
      -- blocked on a full stderr pipe.
      local r = process.run("head -c 5000000 /dev/zero | tr '\\0' e >&2; "
        .. "head -c 5000000 /dev/zero | tr '\\0' o", { timeout = 30 })
      assert.are.equal(0, r.code, r.stderr:sub(1, 200))
      assert.are.equal(5000000, #r.stdout)
      assert.are.equal(5000000, #r.stderr)
      assert.is_nil(r.stdout:find("[^o]"))
      assert.is_nil(r.stderr:find("[^e]"))
    end)

    it("feeds input to stdin, then closes it", function()
      assert.are.equal("abc", process.run({ "cat" }, { input = "abc" }).stdout)
      local big = ("0123456789abcdef"):rep(200000)  -- 3.2 MB both ways
      local r = process.run({ "cat" }, { input = big, timeout = 30 })
      assert.is_true(r.stdout == big)
      -- Without input, stdin is /dev/null.
      assert.are.equal("", process.run({ "cat" }).stdout)
      -- A child that does not read its input is no error.
      assert.are.equal(0, process.run("true", { input = ("x"):rep(4e6) }).code)
    end)

    it("sets variables, removes them, and runs in a directory", function()
      local r = process.run("echo \"$HILT_A,${HILT_B-unset},${HOME-unset}\"; pwd",
        { env = { HILT_A = "one", HILT_B = 2, HOME = false }, cwd = "/tmp" })
      assert.are.equal("one,2,unset\n/tmp\n", r.stdout)
      -- The rest of the environment is inherited.
      r = process.run("echo \"$PATH\"")
      assert.are.equal(os.getenv("PATH") .. "\n", r.stdout)
    end)

    it("ends a command that overstays its timeout, with all it started", function()
      local t0 = hilt.now()
      local r = process.run("sleep 30; echo x", { timeout = 0.3 })
      assert.is_true(r.timed_out)
      assert.is_nil(r.code)
      assert.are.equal("SIGTERM", r.signal)
      assert.are.equal("", r.stdout)
      -- Had the sleep survived, its stdout would have kept run waiting.
      assert.is_true(hilt.now() - t0 < 5, "took " .. (hilt.now() - t0))
    end)

    it("kills with SIGKILL what ignores SIGTERM, after kill_grace", function()
      local t0 = hilt.now()
      local r = process.run('trap "" TERM; sleep 30',
        { timeout = 0.2, kill_grace = 0.3 })
      local took = hilt.now() - t0
      assert.is_true(r.timed_out)
      assert.are.equal("SIGKILL", r.signal)
      assert.is_true(took >= 0.45 and took < 5, "took " .. took)
    end)

    it("keeps max_output bytes of each stream and drops the rest", function()
      local r = process.run("head -c 100000 /dev/zero; echo done >&2",
        { max_output = 1000 })
      assert.are.equal(0, r.code)
      assert.are.equal(1000, #r.stdout)
      assert.are.equal("done\n", r.stderr)
      assert.is_true(r.truncated)
      r = process.run("printf abc", { max_output = 3 })
      assert.are.equal("abc", r.stdout)
      assert.is_false(r.truncated)
    end)

    it("raises not_found for a program that does not exist", function()
      local ok, err = pcall(process.run, { "hilt-no-such-program", "x" })
      assert.is_false(ok)
      assert.is_true(hilt.is_error(err, "not_found"))
      assert.are.equal("cannot run 'hilt-no-such-program': no such file or "
        .. "directory", err.message)
      ok, err = pcall(process.run, "true", { cwd = "/hilt-no-such-dir" })
      assert.is_true(hilt.is_error(err, "not_found"))
      assert.are.equal("cannot run '/bin/sh' in '/hilt-no-such-dir': no such "
        .. "file or directory", err.message)
    end)

    it("raises failed for a program it may not run", function()
      local ok, err = pcall(process.run, { "/etc/passwd" })
      assert.is_false(ok)
      assert.is_true(hilt.is_error(err, "failed"))
      assert.are.equal("cannot run '/etc/passwd': permission denied", err.message)
    end)

    it("kills the child when the calling task is cancelled", function()
      local pidfile = os.tmpname()
      local t = hilt.spawn(process.run, "echo $$ >" .. pidfile .. "; sleep 30")
      local pid
      poll(5, function()
        local f = io.open(pidfile)
        pid = f and tonumber(f:read("a"))
        if f then f:close() end
        return pid ~= nil
      end)
      assert.is_truthy(pid)
      t:cancel()
      local ok, err = pcall(t.join, t)
      assert.is_false(ok)
      assert.is_true(hilt.is_error(err, "cancelled"))
      assert.is_true(poll(5, function() return gone(pid) end))
      os.remove(pidfile)
    end)

    it("rejects bad arguments, naming them", function()
      local function err_of(...)
        local ok, err = pcall(process.run, ...)
        assert.is_false(ok)
        return tostring(err)
      end
      assert.matches("bad argument #1 to 'run' %(command string or argv list "
        .. "expected, got nil%)", err_of(nil))
      assert.matches("bad argument #2 to 'run' %(unknown option 'timout'%)",
        err_of("true", { timout = 1 }))
      assert.matches("timeout must be a number >= 0", err_of("true", { timeout = -1 }))
      assert.matches("max_output must be an integer >= 0",
        err_of("true", { max_output = 1.5 }))
      assert.matches("input must be a string", err_of("true", { input = 1 }))
      assert.matches("bad argument #1 to 'run' %(argv%[2%] must be a string, "
        .. "got table%)", err_of({ "echo", {} }))
      assert.matches("bad argument #2 to 'run' %(env.X must be a string, got "
        .. "boolean%)", err_of("true", { env = { X = true } }))
    end)
  end)

  describe("spawn", function()
    it("streams stdout line by line while the child runs", function()
      local p <close> = process.spawn({ "sh", "-c",
        "for i in 1 2 3; do echo line $i; sleep 0.02; done" }, { stdin = "null" })
      assert.is_nil(p.stdin)
      assert.matches("^net stream stdout of process %d+$", tostring(p.stdout))
      local lines = {}
      for line in function() return p.stdout:read_until("\n") end do
        lines[#lines + 1] = line
      end
      assert.are.same({ "line 1\n", "line 2\n", "line 3\n" }, lines)
      assert.are.equal(0, p:wait())
      assert.are.equal(0, p:wait())  -- the result stays
      assert.matches("^process %d+ %(exited 0%)$", tostring(p))
    end)

    it("writes to stdin and half-closes it", function()
      local p <close> = process.spawn({ "tr", "a-z", "A-Z" })
      p.stdin:write("shout\n")
      p.stdin:shutdown()
      assert.are.equal("SHOUT\n", p.stdout:read_until("\n"))
      assert.is_nil(p.stdout:read())
      assert.is_nil(p.stderr:read())
      assert.are.equal(0, p:wait())
    end)

    it("keeps the result of a wait cancelled by a timeout", function()
      local p <close> = process.spawn({ "sh", "-c", "sleep 0.5; exit 7" },
        { stdout = "null", stderr = "null", stdin = "null" })
      assert.is_true(p:running())
      local ok, err = pcall(hilt.timeout, 0.05, p.wait, p)
      assert.is_true(hilt.is_error(err, "timeout"))
      assert.are.equal(7, p:wait())
      assert.is_false(p:running())
    end)

    it("kills the whole process group", function()
      local p <close> = process.spawn({ "sh", "-c", "sleep 30 & echo $!; wait" })
      local sleeper = tonumber(p.stdout:read_until("\n"))
      assert.is_truthy(sleeper)
      assert.is_false(ended(sleeper))
      assert.is_true(p:kill())
      local code, sig = p:wait()
      assert.is_nil(code)
      assert.are.equal("SIGTERM", sig)
      assert.is_true(poll(5, function() return ended(sleeper) end))
      assert.matches("^process %d+ %(killed by SIGTERM%)$", tostring(p))
    end)

    it("takes signals by name or number", function()
      local p <close> = process.spawn({ "sleep", "30" }, { stdout = "null" })
      assert.is_true(p:kill(0))  -- only asks whether it is there
      assert.is_true(p:kill(9))
      assert.are.same({ nil, "SIGKILL" }, { p:wait() })
      local q <close> = process.spawn({ "sleep", "30" })
      assert.is_true(q:kill("SIGINT"))
      assert.are.same({ nil, "SIGINT" }, { q:wait() })
      -- Nothing is left to signal.
      assert.is_false(q:kill("hup"))
      local ok, err = pcall(function() return q:kill("bogus") end)
      assert.matches("bad argument #1 to 'kill' %(unknown signal 'bogus'%)", err)
    end)

    it("kills a running child on close and leaves no zombie", function()
      local p = process.spawn({ "sleep", "30" })
      local pid = p.pid
      assert.is_true(pid > 0)
      local waiter = hilt.spawn(function() return p:wait() end)
      hilt.yield()
      p:close()
      p:close()  -- idempotent
      assert.are.same({ nil, "SIGKILL" }, { waiter:join() })
      assert.is_nil(p.stdout:read())
      assert.is_false(p:kill())
      assert.is_true(poll(5, function() return gone(pid) end))
    end)

    it("lets one task wait at a time", function()
      local p <close> = process.spawn({ "sleep", "30" })
      local first = hilt.spawn(function() return p:wait() end)
      hilt.yield()
      local ok, err = pcall(p.wait, p)
      assert.is_false(ok)
      assert.matches("another task is already waiting for process %d+", err)
      first:cancel()
    end)

    it("passes stdio through with inherit and null", function()
      local p <close> = process.spawn({ "true" },
        { stdin = "null", stdout = "inherit", stderr = "null" })
      assert.is_nil(p.stdin)
      assert.is_nil(p.stdout)
      assert.is_nil(p.stderr)
      assert.are.equal(0, p:wait())
    end)

    it("rejects bad arguments, naming them", function()
      local function err_of(...)
        local args = table.pack(...)
        local ok, err = pcall(function() return process.spawn(table.unpack(args, 1, args.n)) end)
        assert.is_false(ok)
        return tostring(err)
      end
      assert.matches("bad argument #1 to 'spawn' %(list of strings expected, "
        .. "got string%)", err_of("ls"))
      assert.matches("argv must name a program", err_of({}))
      assert.matches("argv%[1%] must name a program", err_of({ "" }))
      assert.matches("argv%[1%] must not hold a NUL byte", err_of({ "a\0b" }))
      assert.matches("bad argument #2 to 'spawn' %(unknown option 'stdot'%)",
        err_of({ "true" }, { stdot = "null" }))
      assert.matches("stdout must be \"pipe\", \"null\" or \"inherit\"",
        err_of({ "true" }, { stdout = "file" }))
      assert.matches("cwd must be a string", err_of({ "true" }, { cwd = {} }))
      assert.matches("env names must be non%-empty strings without '='",
        err_of({ "true" }, { env = { ["A=B"] = "x" } }))
      assert.matches("env must be a table", err_of({ "true" }, { env = "A=1" }))
      assert.matches("bad argument #2 to 'spawn' %(table expected, got number%)",
        err_of({ "true" }, 5))
    end)

    it("accepts numbers as arguments", function()
      local r = process.run({ "echo", 1, 2.5 })
      assert.are.equal("1 2.5\n", r.stdout)
    end)
  end)
end)
