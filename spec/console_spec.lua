-- hilt.console against a simulated board on the other end of a socket:
-- expect with matches split across reads, timeouts, binary output, run
-- with exit codes, login, the log file, the end of the stream, and a
-- megabyte scanned.
local hilt = require("hilt")
local net = require("hilt.net")
local console = require("hilt.console")
local device_sim = require("hilt.sim.board")

-- A console on one end of a unix socket, the simulator (or fn) on the
-- other. Returns the console and a function that tears both down.
local function board(opts, fn)
  local dir = os.tmpname()
  os.remove(dir)
  local far
  local l = net.listen("unix://" .. dir, function(s)
    far = s
    local ok, err = pcall(fn or device_sim.run, s, opts)
    if not ok and not hilt.is_error(err, "cancelled") and not hilt.is_error(err, "unavailable") then
      error(err, 0)
    end
    s:shutdown()
  end)
  local con = console.new(net.connect("unix://" .. dir),
    { timeout = 5, name = "sim", log = opts and opts.log })
  return con, function()
    con:close()
    l:close()
    if far then far:close() end
    hilt.sleep(0.02)
  end
end

describe("a console", function()
  it("finds a prompt written in pieces, and says which pattern matched", function()
    local con, done = board({ split = true })
    local i, m, before = con:expect({ "=> $", "(%w+) login: $" })
    assert.are.equal(2, i)
    assert.are.equal("sim login: ", m[0])
    assert.are.equal("sim", m[1])
    assert.matches("U%-Boot 2024%.01%-sim", before)
    assert.matches("Run /sbin/init", before)
    done()
  end)

  it("logs in and runs commands, returning output and exit codes", function()
    local con, done = board({ password = "pw" })
    assert.is_true(con:login({ user = "root", password = "pw", prompt = "# $" }))
    assert.are.same({ "Linux sim 6.1.0-sim\n", 0 }, { con:run("uname") })
    assert.are.same({ "", 0 }, { con:run("true") })
    assert.are.same({ "", 1 }, { con:run("false") })
    assert.are.same({ "", 3 }, { con:run("fail 3") })
    assert.are.same({ "sh: nosuch: not found\n", 127 }, { con:run("nosuch") })
    assert.are.same({ "a b\n", 0 }, { con:run("echo a b") })
    assert.are.equal("sim\n", con:run_check("hostname"))
    local ok, err = pcall(con.run_check, con, "fail 2")
    assert.is_false(ok)
    assert.are.equal("failed", err.code)
    assert.matches("'fail 2' exited 2", err.message)
    done()
  end)

  it("refuses a wrong password", function()
    local con, done = board({ password = "pw" })
    local ok, err = pcall(con.login, con, { user = "root", password = "no", prompt = "# $" })
    assert.is_false(ok)
    assert.are.equal("failed", err.code)
    assert.matches("login incorrect for root", err.message)
    done()
  end)

  it("times out with the last output in the message, keeping the output", function()
    local con, done = board()
    con:expect("login: $")
    local t0 = hilt.now()
    local ok, err = pcall(con.expect, con, "never printed", 0.2)
    assert.is_false(ok)
    assert.are.equal("timeout", err.code)
    assert.is_true(hilt.now() - t0 < 1)
    assert.matches('waiting for "never printed"', err.message)
    con:sendline("root")
    assert.are.equal(1, (con:expect("# $")))
    done()
  end)

  it("carries binary output", function()
    local con, done = board()
    con:login({ user = "root", prompt = "# $" })
    -- (The echo of the typed line shows af''ter; only the output says after.)
    con:sendline("binary; echo af''ter")
    local _, _, before = con:expect("after\r\n")
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    assert.is_truthy(before:find(table.concat(all), 1, true))
    done()
  end)

  it("raises unavailable when the stream ends while waiting", function()
    local con, done = board(nil, function(s) s:write("bye\r\n") end)
    local ok, err = pcall(con.expect, con, "login:")
    assert.is_false(ok)
    assert.are.equal("unavailable", err.code)
    assert.matches('last output: "bye\\\\r\\\\n"', err.message)
    done()
  end)

  it("finds a pattern after a megabyte of output", function()
    local con, done = board()
    con:login({ user = "root", prompt = "# $" })
    local cmd = "yes 200000; echo 'the' 'end'"
    con:sendline(cmd)
    local _, _, before = con:expect("the end\r\n", 20)
    assert.are.equal(#cmd + 2 + 200000 * 3, #before)
    done()
  end)

  it("logs what it reads and writes, stamped, line by line", function()
    local path = os.tmpname()
    local con, done = board({ log = path })
    con:login({ user = "root", prompt = "# $" })
    con:run("echo logged")
    done()
    local f = assert(io.open(path))
    local text = f:read("a")
    f:close()
    os.remove(path)
    assert.matches("\n%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ < U%-Boot 2024%.01%-sim", text)
    assert.matches("Z > root\n", text)
    assert.matches("Z < logged\n", text)
    assert.is_nil(text:find("\r", 1, true))
  end)
end)
