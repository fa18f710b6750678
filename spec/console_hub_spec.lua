-- Consoles shared on an exporter (console.tcp in front of a simulated
-- board): one writer and several watchers, nothing lost when viewers come
-- and go, the scrollback, a device that drops and comes back, the log
-- file, and `hilt console` typing into it through its own process.
local hilt = require("hilt")
local net = require("hilt.net")
local process = require("hilt.process")
local device_sim = require("hilt.sim.board")
local exporter = require("spec.support.exporter")

-- A simulated board behind a unix socket: each connection is a fresh
-- boot. board.drop() cuts the connections open now.
local function board()
  local b = { path = os.tmpname(), conns = {} }
  os.remove(b.path)
  b.listener = net.listen("unix://" .. b.path, function(s)
    b.conns[#b.conns + 1] = s
    pcall(device_sim.run, s)
    s:shutdown()
  end)
  function b.drop()
    for _, s in ipairs(b.conns) do s:close() end
    b.conns = {}
  end
  function b.close()
    b.listener:close()
    b.drop()
  end
  return b
end

local read_until_seen = require("spec.support.bytes").read_until_seen

describe("a shared console", function()
  local b, lab, logfile

  before_each(function()
    b = board()
    logfile = os.tmpname()
    lab = hilt.serve({ children = { con = { type = "console.tcp",
      path = b.path, log = logfile, retry = 0.05 } } })
  end)

  after_each(function()
    lab:close()
    b.close()
    os.remove(logfile)
    hilt.sleep(0.02)
  end)

  it("is read while nobody watches, into its scrollback", function()
    hilt.sleep(0.1)
    assert.matches("U%-Boot 2024%.01%-sim.*login: $", lab.con:scrollback())
    assert.matches("login: $", lab.con:scrollback(7))
  end)

  it("has one writer and any number of watchers, who all see the output", function()
    local con = lab.con:console({ timeout = 5 })
    local w1 = lab.con:watch()
    con:login({ user = "root", prompt = "# $" })
    local w2 = lab.con:watch()
    con:run("echo one")
    assert.matches("one\r\n", read_until_seen(w1, "one\r\n"))
    assert.matches("one\r\n", read_until_seen(w2, "one\r\n"))
    -- A second writer is refused; watching stays possible.
    local s2 = lab.con:connect()
    local ok, err = pcall(s2.read, s2)
    assert.is_false(ok)
    assert.are.equal("failed", err.code)
    assert.matches("already has a writer", err.message)
    -- A watcher leaving takes nothing from the others.
    w1:close()
    con:run("echo two")
    assert.matches("two\r\n", read_until_seen(w2, "two\r\n"))
    w2:close()
    con:close()
    hilt.sleep(0.05)  -- the exporter sees the writer leave
    -- Once the writer has gone, another may type.
    local con2 = lab.con:console({ timeout = 5, prompt = "# $" })
    assert.are.same({ "three\n", 0 }, { con2:run("echo three") })
    con2:close()
    hilt.sleep(0.05)
  end)

  it("sends the scrollback first when asked", function()
    hilt.sleep(0.1)
    local w = lab.con:watch(4096)
    assert.matches("U%-Boot", read_until_seen(w, "login: "))
    w:close()
    hilt.sleep(0.05)
  end)

  it("reconnects to a device that went away", function()
    local con = lab.con:console({ timeout = 5 })
    con:login({ user = "root", prompt = "# $" })
    b.drop()
    -- The board boots again on the new connection.
    local w = lab.con:watch()
    assert.matches("U%-Boot", read_until_seen(w, "login: "))
    w:close()
    con:close()
    lab:close()  -- no more reconnecting
    b.drop()
    hilt.sleep(0.05)
  end)

  it("logs what the device sent and what was typed, stamped", function()
    local con = lab.con:console({ timeout = 5 })
    con:login({ user = "root", prompt = "# $" })
    con:run("echo logged")
    con:close()
    hilt.sleep(0.05)
    local f = assert(io.open(logfile))
    local text = f:read("a")
    f:close()
    assert.matches("Z < U%-Boot 2024%.01%-sim", text)
    assert.matches("Z > root\n", text)
    assert.matches("Z < logged\n", text)
  end)
end)

describe("hilt console", function()
  it("types into a remote console and quits with Ctrl-] q", function()
    local b = board()
    local exp = exporter.start(([[
      return { children = { con = { type = "console.tcp", path = %q } } }
    ]]):format(b.path))
    local p = process.spawn({ exporter.hilt, "console", exp.addr, "con",
      "--backlog", "4096" })
    local err = {}
    local errs = hilt.spawn(function()
      for d in function() return p.stderr:read() end do err[#err + 1] = d end
    end)
    local out = read_until_seen(p.stdout, "login: ")
    assert.matches("U%-Boot", out)
    p.stdin:write("root\n")
    read_until_seen(p.stdout, "# ")
    p.stdin:write("echo hello''world\n")
    read_until_seen(p.stdout, "helloworld\r\n")
    p.stdin:write("\29?")
    hilt.sleep(0.1)
    p.stdin:write("\29q")
    local code = hilt.timeout(5, p.wait, p)
    errs:join()
    assert.are.equal(0, code, table.concat(err))
    assert.matches("Ctrl%-%] then: q quit, b break", table.concat(err))
    p:close()
    exp:remove()
    b.close()
  end)

  it("says when a path is not a console", function()
    local b = board()
    local exp = exporter.start([[ return { children = { p = { type = "power.sim" } } } ]])
    local r = exporter.cli({ "console", exp.addr, "p" })
    assert.are.equal(2, r.code)
    assert.matches("p is not a console: p has no method 'connect'", r.stderr)
    exp:remove()
    b.close()
  end)
end)
