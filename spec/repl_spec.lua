-- `hilt repl` on a real terminal (tmux): typing, completion of names,
-- driver trees and bus paths, multi-line chunks, output from tasks while a
-- line is typed, Ctrl-C on a long remote call (the exporter sees it
-- cancelled), Ctrl-D, and history across runs. Without a terminal it
-- reads chunks from its input.
local exporter = require("spec.support.exporter")
local tmux = require("spec.support.tmux")
local wait = require("spec.support.wait")

local PROMPT = "\n>$"

local function start_repl(dir, args)
  local argv = { exporter.hilt, "repl" }
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  local pane = tmux.start(argv, { env = { HILT_HISTORY = dir .. "/history",
    HILT_SPEC_ERR = "" } })
  pane:wait_for("Ctrl%-D leaves%.\n>$")
  return pane
end

-- Types a line and waits for the prompt after it.
local function enter(pane, line)
  pane:type(line)
  pane:keys("Enter")
end

local function with_pane(fn, args)
  return function()
    local dir = exporter.tmpdir()
    local pane = start_repl(dir, args)
    local ok, err = pcall(fn, pane, dir)
    pane:close()
    os.remove(dir .. "/history")
    os.remove(dir)
    if not ok then
      error(err, 0)
    end
  end
end

describe("hilt repl on a terminal", function()
  it("prints values, continues unfinished chunks and shows errors briefly", with_pane(function(p)
    enter(p, "1 + 1")
    p:wait_for("> 1 %+ 1\n2\n>$")
    enter(p, "{ n = 1, t = { 2, 3 }, bin = '\\0\\255' }")
    p:wait_for('{ bin = "\\0\\xff", n = 1, t = { 2, 3 } }\n>$')
    enter(p, "=lab.power:on()")
    p:wait_for('\n"on"\n>$')
    enter(p, "for i = 1, 2 do")
    p:wait_for("\n>>$")
    enter(p, "print('line', i)")
    enter(p, "end")
    p:wait_for(">> end\nline%s+1\nline%s+2\n>$")
    enter(p, "error('boom')")
    local screen = p:wait_for(">$")
    assert.matches("stdin:1: boom\nstack traceback:", screen)
    assert.not_matches("hilt/repl", screen)
  end))

  it("completes globals, fields, the driver tree and bus paths", with_pane(function(p)
    p:type("pri")
    p:keys("Tab")
    p:wait_for("> print$")
    p:keys("C-u")
    p:type("lab.du")
    p:keys("Tab")
    p:wait_for("> lab%.dut$")
    p:type(".po")
    p:keys("Tab")
    p:wait_for("> lab%.dut%.power$")
    -- Several choices: listed below, the line drawn again under them.
    p:type(":")
    p:keys("Tab")
    local screen = p:wait_for("\n> lab%.dut%.power:$")
    assert.matches("on%s", screen)
    assert.matches("off%s", screen)
    p:keys("C-u")
    enter(p, "st = bus:state_register('/lab/oven/temp') st:changed(21)")
    p:wait_for("\n>$")
    p:type("bus:get('/lab/ov")
    p:keys("Tab")
    p:wait_for("> bus:get%('/lab/oven/$")
    p:keys("Tab")
    p:wait_for("> bus:get%('/lab/oven/temp$")
    p:type("')")
    p:keys("Enter")
    p:wait_for("\n21\n>$")
  end))

  it("draws output from tasks above the line being typed", with_pane(function(p)
    enter(p, "hilt.spawn(function() hilt.sleep(0.3) print('tick') end)")
    p:wait_for("\n>$")
    p:type("40 +")
    local screen = p:wait_for("tick\n> 40 %+$")
    assert.not_matches("tick.*40 %+.*tick", screen)
    enter(p, " 2")
    p:wait_for("> 40 %+ 2\n42\n>$")
  end))

  it("drops the line typed on Ctrl-C and leaves on Ctrl-D", with_pane(function(p)
    p:type("half a line")
    p:keys("C-c")
    p:wait_for("half a line%^C\n>$")
    enter(p, "'still here'")
    p:wait_for('"still here"\n>$')
    p:keys("C-d")
    assert.are.equal(0, p:exit_status())
  end))

  it("keeps the history across runs", function()
    local dir = exporter.tmpdir()
    local p = start_repl(dir)
    enter(p, "answer = 6 * 7")
    p:wait_for("\n>$")
    p:keys("C-d")
    assert.are.equal(0, p:exit_status())
    p:close()
    p = start_repl(dir)
    p:keys("Up")
    p:wait_for("> answer = 6 %* 7$")
    p:keys("Enter")
    enter(p, "answer")
    p:wait_for("\n42\n>$")
    p:close()
    os.remove(dir .. "/history")
    os.remove(dir)
  end)
end)

describe("hilt repl against an exporter", function()
  local CONFIG = [[
return { children = { host = { type = "shell", timeout = 60, commands = {
  wait = { cmd = "sleep", description = "Sleep N seconds" } } } } }
]]

  it("completes its tree, shows its help, and cancels a long call on Ctrl-C", function()
    local exp = exporter.start(CONFIG)
    local dir = exporter.tmpdir()
    local p = start_repl(dir, { exp.addr })
    local ok, err = pcall(function()
      p:wait_for("lab is the exporter at unix://")
      -- The tree and its methods come from the exporter's report.
      p:type("lab.ho")
      p:keys("Tab")
      p:wait_for("> lab%.host$")
      p:type(":wa")
      p:keys("Tab")
      p:wait_for("> lab%.host:wait$")
      p:keys("C-u")
      enter(p, "help(lab.host)")
      p:wait_for("wait%(%.%.%.%)%s+Sleep N seconds")
      enter(p, "lab.host:wait(30)")
      p:wait_for("> lab%.host:wait%(30%)$")
      require("hilt").sleep(0.5)  -- the call reaches the exporter
      p:keys("C-c")
      p:wait_for("cancelled[^\n]*\n>$")
      assert.is_true(wait.poll(5, function()
        return exp:log():find("call host.wait cancelled") ~= nil
      end), exp:log())
      -- The prompt is back and the connection still serves.
      enter(p, "lab.host:help():match('wait')")
      p:wait_for('"wait"\n>$')
    end)
    p:close()
    exp:remove()
    os.remove(dir)
    if not ok then
      error(err, 0)
    end
  end)
end)

describe("hilt repl without a terminal", function()
  it("runs the chunks of its input and prints their values", function()
    local r = exporter.cli({ "repl" }, { input = "x = 20\nfor i = 1, 2 do\nx = x + i\nend\nx\nerror('no')\n'after'\n",
      env = { HILT_HISTORY = "" } })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("\n23\n", r.stdout)
    assert.matches("stdin:1: no", r.stdout)
    assert.matches('"after"\n$', r.stdout)
  end)

  it("answers --help and refuses bad arguments", function()
    local r = exporter.cli({ "repl", "--help" })
    assert.are.equal(0, r.code)
    assert.matches("usage: hilt repl", r.stdout)
    r = exporter.cli({ "repl", "a", "b" })
    assert.are.equal(2, r.code)
    assert.matches("one exporter address at most", r.stderr)
    -- A hub out of reach is said, not fatal: the lab may be all one wants.
    r = exporter.cli({ "repl", "--hub", "unix:///nonexistent/hub.sock" }, { input = "1\n",
      env = { HILT_HISTORY = "" } })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("bus the hub at unix:///nonexistent/hub.sock %(not reachable now: ", r.stdout)
    assert.matches("\n1\n$", r.stdout)
    r = exporter.cli({ "repl", "unix:///nonexistent/lab.sock" }, { input = "" })
    assert.are.equal(3, r.code)
    assert.matches("cannot reach the exporter at unix:///nonexistent/lab.sock", r.stderr)
  end)
end)
