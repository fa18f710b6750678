-- hilt as a standalone interpreter, compared with what Lua's lua does.
local proc = require("spec.support.proc")

describe("hilt as an interpreter", function()
  it("runs a script with the arg table and ... as lua does", function()
    local r = proc.script([[print(arg[0] ~= nil, arg[1], arg[2], arg[-1] ~= nil, ...)]], { "a", "b c" })
    assert.are.equal("true\ta\tb c\ttrue\ta\tb c\n", r.out)
    assert.are.equal(0, r.code)
  end)

  it("hilt run script.lua does the same", function()
    local path = os.tmpname()
    local f = io.open(path, "w") f:write("print(arg[0] == ..., arg[1])") f:close()
    local r = proc.run({ "run", path, path })
    os.remove(path)
    assert.are.equal("true\t" .. path .. "\n", r.out)
  end)

  it("runs -e and -l in order before the script", function()
    local r = proc.run({ "-e", "x = 1", "-l", "hilt.queue", "-lQ=hilt.queue", "-e", "print(x, type(Q.new))" })
    assert.are.equal("1\tfunction\n", r.out)
  end)

  it("-v prints the version", function()
    local r = proc.run({ "-v" })
    assert.matches("^hilt %d+%.%d+%.%d+ %(Lua 5%.4%)\n$", r.out)
  end)

  it("- runs stdin as the script", function()
    local r = proc.run({ "-", "x" }, { stdin = "print('from stdin', ...)" })
    assert.are.equal("from stdin\tx\n", r.out)
  end)

  it("runs stdin when it is not a terminal and no script is given", function()
    assert.are.equal("7\n", proc.run({}, { stdin = "print(3 + 4)" }).out)
  end)

  it("-i enters the prompt after the script: expressions, continued lines", function()
    local r = proc.run({ "-i", "-e", "y = 2" }, { stdin = "y * 21\nfor i = 1, 2 do\nprint(i)\nend\nerror('oops')\n" })
    assert.matches("42\n", r.out)
    assert.matches(">> >> 1\n2\n", r.out)
    assert.matches("oops", r.err)
    assert.are.equal(0, r.code)
  end)

  it("skips a shebang line", function()
    local r = proc.script("#!/usr/bin/env hilt\nprint('ok')\n")
    assert.are.same({ "ok\n", 0 }, { r.out, r.code })
  end)

  it("exits 1 with the message and the script's traceback on an error", function()
    local r = proc.script("local function f() error('bad thing') end\nf()\n")
    assert.are.equal(1, r.code)
    assert.matches("^hilt: .-:1: bad thing\nstack traceback:\n", r.err)
    assert.matches("in local 'f'", r.err)
    assert.is_nil(r.err:find("cli/main.lua", 1, true))
  end)

  it("exits 1 with a clear message for a syntax error or a missing file", function()
    local r = proc.script("x = = 1")
    assert.are.equal(1, r.code)
    assert.matches("^hilt: .-:1: unexpected symbol near '='\n$", r.err)
    r = proc.run({ "/nonexistent/script.lua" })
    assert.are.equal(1, r.code)
    assert.are.equal("hilt: cannot open /nonexistent/script.lua\n", r.err:gsub(": No such.*", "\n"))
  end)

  it("rejects an unknown option with the usage", function()
    local r = proc.run({ "-z" })
    assert.are.equal(1, r.code)
    assert.matches("unrecognized option '%-z'\nusage: hilt", r.err)
    r = proc.run({ "-e" })
    assert.matches("'%-e' needs argument", r.err)
  end)

  it("--help answers with the options and commands", function()
    local r = proc.run({ "--help" })
    assert.are.equal(0, r.code)
    assert.matches("%-e stat", r.out)
    assert.matches("test %[busted args%]", r.out)
    assert.matches("HILT_LOG", r.out)
  end)

  it("runs LUA_INIT unless -E is given", function()
    assert.are.equal("init\n", proc.run({ "-e", "" }, { env = "LUA_INIT='print(\"init\")'" }).out)
    assert.are.equal("", proc.run({ "-E", "-e", "" }, { env = "LUA_INIT='print(\"init\")'" }).out)
  end)

  it("finds its Lua library from any working directory", function()
    local r = proc.run({ "-e", "print(require('hilt').version)" }, { env = "cd / &&" })
    assert.matches("^%d+%.%d+%.%d+\n$", r.out)
  end)

  it("falls back to its own library when HILT_LUA_DIR lacks one", function()
    local r = proc.run({ "-e", "" }, { env = "HILT_LUA_DIR=/nonexistent" })
    assert.are.equal(0, r.code)
  end)
end)

describe("hilt.log", function()
  local function logs(level, code)
    return proc.run({ "-e", code }, { env = level and ("HILT_LOG=" .. level) or "" })
  end

  it("writes timestamped lines with level and source to stderr", function()
    local r = logs(nil, "require('hilt').log.info('powered %s on', 'dut')")
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ INFO  %(command line%):1: powered dut on\n$", r.err)
    assert.are.equal("", r.out)
  end)

  it("filters by HILT_LOG", function()
    local code = "local log = require('hilt').log log.debug('d') log.info('i') log.warn('w') log.error('e')"
    local function levels(r)
      local seen = {}
      for tag in r.err:gmatch("Z (%u+)") do seen[#seen + 1] = tag end
      return table.concat(seen, ",")
    end
    assert.are.equal("DEBUG,INFO,WARN,ERROR", levels(logs("debug", code)))
    assert.are.equal("INFO,WARN,ERROR", levels(logs(nil, code)))
    assert.are.equal("WARN,ERROR", levels(logs("warn", code)))
    assert.are.equal("ERROR", levels(logs("error", code)))
    assert.are.equal("", levels(logs("off", code)))
  end)

  it("warns about an unknown HILT_LOG value", function()
    local r = logs("loud", "")
    assert.matches("HILT_LOG=loud is not a level", r.err)
    assert.are.equal(0, r.code)
  end)

  it("level() reads and sets the level; bad levels are errors", function()
    local log = require("hilt").log
    local old = log.level()
    assert.are.equal(old, log.level("error"))
    assert.is_false(log.enabled("warn"))
    log.level(old)
    assert.has_error(function() log.level("loud") end,
      "bad argument #1 to 'level' (unknown log level 'loud' (debug, info, warn, error, off))")
  end)

  it("joins several values like print", function()
    local r = logs(nil, "require('hilt').log('a', 1, true)")
    assert.matches("INFO  %(command line%):1: a 1 true\n", r.err)
  end)

  it("keeps the order of batched and immediate lines", function()
    local code = "local h = require('hilt') h.log.info('1') h.log.warn('2') "
      .. "h.log.info('3') h.sleep(0.01) h.log.info('4') h.log.error('5') h.log.info('6')"
    local r = logs(nil, code)
    local seen = {}
    for n in r.err:gmatch(": (%d)\n") do seen[#seen + 1] = n end
    assert.are.equal("123456", table.concat(seen))
  end)

  it("feeds sinks at their own level, whatever stderr's", function()
    local log = require("hilt").log
    local old = log.level("error")
    local got = {}
    local sink = log.add_sink(function(level, msg, src)
      got[#got + 1] = level .. " " .. src .. " " .. msg
    end, "info")
    log.debug("not this")
    log.info("volts %.1f", 5)
    log.at("warn", "dut.power", "over %d A", 2)
    assert.is_true(log.wanted("info"))
    assert.is_false(log.wanted("debug"))
    log.remove_sink(sink)
    assert.is_false(log.wanted("warn"))
    log.level("debug")
    assert.is_true(log.wanted("debug"))
    log.level(old)
    assert.are.equal(2, #got)
    assert.matches("^info spec/interp_spec.lua:%d+ volts 5.0$", got[1])
    assert.are.equal("warn dut.power over 2 A", got[2])
    assert.has_error(function() log.at("loud", "x", "y") end,
      "bad argument #1 to 'at' (unknown log level 'loud')")
  end)
end)
