-- The serial driver on a pty with the simulated board on its master side,
-- in one process and behind `hilt serve`; and `hilt console` driven as a
-- user drives it, with its terminal a pty too.
local hilt = require("hilt")
local serial = require("hilt.serial")
local process = require("hilt.process")
local device_sim = require("hilt.sim.board")
local exporter = require("spec.support.exporter")

local read_until_seen = require("spec.support.bytes").read_until_seen

-- A board on a fresh pty: the simulator plays it on the master side.
local function board(opts)
  local master, path = serial.openpty()
  local sim = hilt.spawn(function()
    pcall(device_sim.run, master, opts)
  end)
  return {
    path = path,
    unplug = function() master:close() end,
    close = function()
      master:close()
      sim:cancel()
      pcall(sim.join, sim)
    end,
  }
end

local function stty(path)
  return process.run({ "stty", "-F", path, "-a" }).stdout
end

describe("the serial driver", function()
  it("shares a pty console: login, run, settings, line controls", function()
    local b = board({ split = true })  -- the login prompt comes in two reads
    local lab = hilt.serve({ children = { con = { type = "serial", path = b.path } } })
    local con = lab.con:console({ timeout = 5 })
    con:login({ user = "root", prompt = "# $" })
    assert.are.same({ "Linux sim 6.1.0-sim\n", 0 }, { con:run("uname") })
    local w = lab.con:watch()
    con:run("echo seen''too")
    assert.matches("seentoo\r\n", read_until_seen(w, "seentoo\r\n"))
    w:close()
    assert.are.equal(115200, lab.con:get().baud)
    assert.are.equal(9600, lab.con:set({ baud = 9600 }).baud)
    local ok, err = pcall(lab.con.dtr, lab.con, true)
    assert.is_false(ok)
    assert.are.equal("failed", err.code)
    assert.matches("dtr: not supported by a pseudo%-terminal", err.message)
    assert.is_true(lab.con:send_break(0.01))
    con:close()
    hilt.sleep(0.05)
    lab:close()
    b.close()
  end)

  it("says the device is gone when it vanishes, and stays up", function()
    local b = board()
    local lab = hilt.serve({ children = { con = { type = "serial", path = b.path } } })
    hilt.sleep(0.05)
    assert.matches("login: $", lab.con:scrollback())
    b.unplug()
    hilt.sleep(0.1)
    local ok, err = pcall(lab.con.lines, lab.con)
    assert.is_false(ok)
    assert.are.equal("unavailable", err.code)
    assert.matches("con: the device is not available", err.message)
    -- The scrollback is still there, and the exporter answers.
    assert.matches("login: $", lab.con:scrollback())
    lab:close()
    b.close()
  end)
end)

describe("hilt console on a terminal", function()
  it("puts the terminal in raw mode, passes Ctrl-C through, and restores it", function()
    local b = board()
    local exp = exporter.start(([[
      return { children = { con = { type = "serial", path = %q } } }
    ]]):format(b.path))
    local term, tty = serial.openpty()
    process.run({ "stty", "-F", tty, "sane" })
    assert.matches(" icanon ", stty(tty))
    local errfile = os.tmpname()
    local p = process.spawn({ "sh", "-c", 'exec "$0" console "$1" con --backlog 4096 '
      .. '<"$2" >"$2" 2>>"$3"', exporter.hilt, exp.addr, tty, errfile },
      { stdin = "null", stdout = "null", stderr = "null" })
    read_until_seen(term, "login: ")
    assert.matches(" %-icanon ", stty(tty))
    assert.matches(" %-echo ", stty(tty))
    term:write("root\r")
    read_until_seen(term, "# ")
    -- Ctrl-C goes to the device; hilt console keeps running.
    term:write("\3")
    hilt.sleep(0.1)
    assert.is_true(p:running())
    term:write("\r")
    read_until_seen(term, "# ")
    term:write("\29q")
    local code = hilt.timeout(5, p.wait, p)
    local f = io.open(errfile)
    local err = f:read("a")
    f:close()
    os.remove(errfile)
    assert.are.equal(0, code, err)
    assert.matches("Ctrl%-%] q quits", err)
    assert.matches(" icanon ", stty(tty))
    assert.matches(" echo ", stty(tty))
    p:close()
    term:close()
    exp:remove()
    b.close()
  end)

  it("restores the terminal when the exporter goes away", function()
    local b = board()
    local exp = exporter.start(([[
      return { children = { con = { type = "serial", path = %q } } }
    ]]):format(b.path))
    local term, tty = serial.openpty()
    process.run({ "stty", "-F", tty, "sane" })
    local p = process.spawn({ "sh", "-c", 'exec "$0" console "$1" con <"$2" >"$2" 2>&1',
      exporter.hilt, exp.addr, tty }, { stdin = "null", stdout = "null", stderr = "null" })
    read_until_seen(term, "Ctrl-] q quits")
    assert.matches(" %-icanon ", stty(tty))
    exp:stop("kill")
    local code = hilt.timeout(5, p.wait, p)
    assert.are.equal(3, code)
    assert.matches(" icanon ", stty(tty))
    p:close()
    term:close()
    exp:remove()
    b.close()
  end)
end)
