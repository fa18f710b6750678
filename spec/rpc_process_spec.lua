-- hilt.rpc between real processes: a hilt server process and a hilt
-- client in this one, over a unix socket. What a pair in one process
-- cannot show: tracebacks that name the server's file, a deadline seen by
-- both ends, a peer that dies mid-call, calls back across the socket, and
-- a server that exits cleanly when it is done.
local hilt = require("hilt")
local rpc = require("hilt.rpc")
local peer = require("spec.support.peer")

local SERVER = [[
local hilt = require("hilt")
local rpc = require("hilt.rpc")
local last = "none"
return {
  add = function(a, b) return a + b end,
  echo = function(v) return v end,
  big = function(n) return string.rep("x", n) end,
  fail = function(what) error("fuse blown on " .. what) end,
  -- Records how its last run ended, for last_outcome.
  slow = function(s)
    last = "running"
    local ok, err = pcall(hilt.sleep, s)
    last = ok and "completed" or err.code
    if not ok then
      error(err, 0)
    end
    return "done"
  end,
  last_outcome = function() return last end,
  -- Call back the client on the connection that called.
  ask = function(q) return rpc.caller():call("client/answer", q) end,
  sum_via_client = function(a, b) return rpc.caller():call("client/sum", a, b) end,
}
]]

-- The line of SERVER that raises in `fail`, as a traceback names it.
local FAIL_AT = (function()
  local n = 0
  for line in SERVER:gmatch("[^\n]*\n") do
    n = n + 1
    if line:find("fuse blown", 1, true) then
      return ":" .. n .. ":"
    end
  end
end)()

-- Polls fn() until it returns something other than `seen`, for at most a
-- second: the server's handler ends a moment after the call that ended it.
local function changed(seen, fn)
  local v
  for _ = 1, 100 do
    v = fn()
    if v ~= seen then
      return v
    end
    hilt.sleep(0.01)
  end
  return v
end

describe("hilt.rpc between processes", function()
  local server

  -- Each spec gets its own server: one of them kills it. The finally is a
  -- backstop for a failing spec; stop is idempotent.
  local function start()
    server = peer.start(SERVER)
    finally(function() server:stop() end)
    return server
  end

  it("answers calls and reports not_found and failed with the server's traceback", function()
    start()
    local conn = rpc.connect(server.addr)
    assert.are.equal(5, conn.remote.add(2, 3))
    assert.are.equal(1, conn.peer_info.version)

    local ok, err = pcall(conn.call, conn, "nope")
    assert.is_false(ok)
    assert.is_true(hilt.is_error(err, "not_found"))
    assert.are.equal("no method 'nope' (nothing exposed as 'nope')", err.message)

    ok, err = pcall(conn.remote.fail, "relay 3")
    assert.is_false(ok)
    assert.is_true(hilt.is_error(err, "failed"))
    assert.are.equal(server.script .. FAIL_AT .. " fuse blown on relay 3", err.message)
    assert.is_truthy(err.traceback:find("stack traceback", 1, true), err.traceback)
    assert.is_truthy(err.traceback:find(server.script .. FAIL_AT, 1, true), err.traceback)

    -- Failures are values: the connection goes on.
    assert.are.equal(7, conn.remote.add(3, 4))
    conn:close()
    peer.check_exit(server:stop(), 0)
  end)

  it("expires a call on both ends when its deadline passes", function()
    start()
    local conn = rpc.connect(server.addr)
    local t0 = hilt.now()
    local ok, err = pcall(conn.call_with, conn, { timeout = 0.2 }, "slow", 5)
    local took = hilt.now() - t0
    assert.is_false(ok)
    assert.is_true(hilt.is_error(err, "expired"), tostring(err))
    assert.is_true(took >= 0.19 and took < 0.5, ("expired after %.3f s"):format(took))
    -- The handler was stopped with the same outcome, not left running.
    assert.are.equal("expired", changed("running", conn.remote.last_outcome))
    assert.are.equal(3, conn.remote.add(1, 2))
    conn:close()
    peer.check_exit(server:stop(), 0)
  end)

  it("runs the callee's own timer for a call with a timeout", function()
    -- A Python caller that sends a timeout and never an EXPIRE: only the
    -- server's timer can end these (protocol.md section 3, callee states;
    -- section 3, fire-and-forget: "its timeout still bounds the handler").
    -- slow(1), not more, so a server without the timer still ends soon.
    start()
    local out = server:python([=[
p = Peer()
t = time.monotonic()
p.send([3, 1, 'slow', [1], {'timeout': 0.2}])
out['reply'] = p.recv(1.5)
out['took'] = time.monotonic() - t
out['outcome'] = p.call(2, 'last_outcome')[3]
p.send([3, 3, 'slow', [1], {'timeout': 0.2, 'sub': 2}])
time.sleep(0.4)
out['fire_and_forget'] = p.call(4, 'last_outcome')[3]
]=])
    assert.are.equal("expired", out.reply[3].code)
    assert.is_true(out.took < 0.5)
    assert.are.equal("expired", out.outcome)
    assert.are.equal("expired", out.fire_and_forget)
    peer.check_exit(server:stop(), 0)
  end)

  it("fails a pending call unavailable at once when the server is killed", function()
    start()
    local conn = rpc.connect(server.addr)
    local reset
    conn:on_reset(function(why) reset = why end)
    local call = hilt.spawn(function()
      return pcall(conn.call, conn, "slow", 5)
    end)
    assert.are.equal("running", changed("none", conn.remote.last_outcome))

    server:kill("KILL")
    local t0 = hilt.now()
    local ok, err = hilt.timeout(2, call.join, call)
    local took = hilt.now() - t0
    assert.is_false(ok)
    assert.is_true(hilt.is_error(err, "unavailable"), tostring(err))
    assert.is_true(took < 1, ("noticed after %.3f s"):format(took))
    hilt.sleep(0.02)  -- on_reset runs in a task of its own
    assert.are.equal("closed by the peer", reset)
    assert.are.equal("closed", (conn:status()))

    -- The dead connection fails at once too.
    ok, err = pcall(conn.remote.add, 1, 2)
    assert.is_false(ok)
    assert.is_true(hilt.is_error(err, "unavailable"))
    conn:close()
    assert.are.equal(128 + 9, server:stop().code)
  end)

  -- Over the 16 MiB limit the receiver has to close the connection
  -- (section 6), so the doc has the sender refuse instead: the callee
  -- answers failed, the caller fails the call locally.
  local HUGE = 16 * 1024 * 1024 + 1

  it("answers failed when a result would pass the caller's 16 MiB limit", function()
    start()
    local conn = rpc.connect(server.addr)
    local ok, err = pcall(conn.remote.big, HUGE)
    assert.is_false(ok)
    assert.are.equal("failed", err.code, err.message)
    assert.is_truthy(err.message:find("result too large", 1, true), err.message)
    assert.are.equal(3, conn.remote.add(1, 2))
    conn:close()
    peer.check_exit(server:stop(), 0)
  end)

  it("fails locally, invalid_argument, a request over the server's 16 MiB limit", function()
    start()
    local conn = rpc.connect(server.addr)
    local ok, err = pcall(conn.remote.echo, string.rep("x", HUGE))
    assert.is_false(ok)
    assert.are.equal("invalid_argument", err.code, err.message)
    assert.are.equal(3, conn.remote.add(1, 2))
    conn:close()
    peer.check_exit(server:stop(), 0)
  end)

  it("lets the server call back the client on the same connection", function()
    start()
    local conn = rpc.connect(server.addr, { router = { client = {
      answer = function(q)
        if q == "bad" then
          error("no answer to " .. q)
        end
        return "42 for " .. q
      end,
      -- Calls the server from inside the server's call to us.
      sum = function(a, b) return rpc.caller():call("add", a, b) end,
    } } })
    assert.are.equal("42 for life", conn.remote.ask("life"))
    assert.are.equal(9, conn.remote.sum_via_client(4, 5))

    -- The client's failure travels to the server and back.
    local ok, err = pcall(conn.remote.ask, "bad")
    assert.is_false(ok)
    assert.is_true(hilt.is_error(err, "failed"))
    assert.is_truthy(err.message:find("no answer to bad", 1, true), err.message)

    assert.are.equal(3, conn.remote.add(1, 2))
    conn:close()
    peer.check_exit(server:stop(), 0)
  end)
end)
