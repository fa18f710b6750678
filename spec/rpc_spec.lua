-- hilt.rpc: unary calls over a pair, a unix socket and TCP; routers;
-- errors as values; timeouts on both ends; a standard msgpack-RPC client.
local hilt = require("hilt")
local rpc = require("hilt.rpc")

local function lab()
  return {
    power = {
      on = function(ch) return "on " .. tostring(ch) end,
      fail = function() error("fuse blown") end,
      slow = function() hilt.sleep(5) return 1 end,
      _secret = function() return "hidden" end,
    },
    add = function(a, b) return a + b end,
    level = 3,
  }
end

describe("hilt.rpc", function()
  it("calls methods by path and through proxies over a pair", function()
    local a, b = rpc.pair(nil, lab())
    assert.are.equal("on 2", a:call("power/on", 2))
    -- nil, false and nothing are results like any other.
    local b2, c2 = rpc.pair(nil, { none = function() end,
      no = function() return false end, null = function() return nil end })
    assert.is_nil(b2:call_with({ timeout = 1 }, "none"))
    assert.is_false(b2:call_with({ timeout = 1 }, "no"))
    assert.is_nil(b2:call_with({ timeout = 1 }, "null"))
    b2:close()
    c2:close()
    assert.are.equal(5, a.remote.add(2, 3))
    a:close()
    b:close()
  end)

  it("exposes only functions and tables, never _names", function()
    local a, b = rpc.pair(nil, lab())
    for _, path in ipairs({ "power/_secret", "level", "power/off", "power", "" }) do
      local ok, err = pcall(a.call, a, path)
      assert.is_false(ok)
      assert.are.equal("not_found", err.code)
    end
    local _, err = pcall(a.call, a, "power/off")
    assert.are.equal("no method 'power/off' (nothing exposed as 'off' in 'power')", err.message)
    a:close()
    b:close()
  end)

  it("raises remote failures as errors with the remote traceback", function()
    local a, b = rpc.pair(nil, lab())
    local ok, err = pcall(a.call, a, "power/fail")
    assert.is_false(ok)
    assert.is_true(hilt.is_error(err, "failed"))
    assert.matches("fuse blown", err.message)
    assert.matches("stack traceback", err.traceback)
    -- It prints as a remote error, with the handler's frames only.
    assert.matches("fuse blown %(failed, from pair%)$", tostring(err))
    assert.are.equal("pair", err.remote)
    assert.is_nil(err.traceback:find("xpcall", 1, true))
    a:close()
    b:close()
  end)

  it("expires a call on both ends", function()
    local seen
    local a, b = rpc.pair(nil, {
      slow = function()
        local ok, e = pcall(hilt.sleep, 5)
        seen = e
        error(e)
      end,
    })
    local ok, err = pcall(a.call_with, a, { timeout = 0.05 }, "slow")
    assert.is_false(ok)
    assert.are.equal("expired", err.code)
    hilt.sleep(0.05)
    assert.are.equal("expired", seen.code)
    a:close()
    b:close()
  end)

  it("lets a handler call back its caller", function()
    local a, b = rpc.pair({ whoami = function() return "client" end }, {
      ask = function() return rpc.caller():call("whoami") end,
    })
    assert.are.equal("client", a:call("ask"))
    a:close()
    b:close()
  end)

  it("fails pending calls unavailable when the peer goes", function()
    local a, b = rpc.pair(nil, lab())
    local reset
    a:on_reset(function(why) reset = why end)
    local t = hilt.spawn(function() return pcall(a.call, a, "power/slow") end)
    hilt.sleep(0.02)
    b:close()
    local ok, err = t:join()
    assert.is_false(ok)
    assert.are.equal("unavailable", err.code)
    hilt.sleep(0.01)
    assert.are.equal("closed by the peer", reset)
  end)

  it("serves a unix socket and a TCP port", function()
    local path = os.tmpname()
    os.remove(path)
    local srv = rpc.serve("unix://" .. path, lab())
    local conn = rpc.connect("unix://" .. path)
    assert.are.equal(7, conn.remote.add(3, 4))
    conn:close()
    srv:close()
    local tcp = rpc.serve(("tcp://127.0.0.1:%d"):format(math.random(20000, 40000)), lab())
    conn = rpc.connect(tcp:address())
    assert.are.equal("on 1", conn.remote.power.on(1))
    conn:close()
    tcp:close()
    hilt.sleep(0.05)  -- the server's end reads the EOF and closes
  end)

  it("refuses a wrong token and needs one off loopback", function()
    local path = os.tmpname()
    os.remove(path)
    local srv = rpc.serve("unix://" .. path, lab(), { token = "s3cret" })
    local ok, err = pcall(rpc.connect, "unix://" .. path, { token = "nope" })
    assert.is_false(ok)
    assert.are.equal("unauthenticated", err.code)
    local conn = rpc.connect("unix://" .. path, { token = "s3cret" })
    assert.are.equal(3, conn.remote.add(1, 2))
    conn:close()
    srv:close()
    hilt.sleep(0.05)
    ok, err = pcall(rpc.serve, "tcp://0.0.0.0:7421", lab())
    assert.is_false(ok)
    assert.matches("needs a token", err.message)
  end)

  -- The server runs in its own hilt process, since the python client is
  -- run with io.popen, which blocks this one's loop.
  it("answers a standard msgpack-RPC client (python3-msgpack)", function()
    local sock = os.tmpname()
    os.remove(sock)
    local server = os.tmpname()
    local f = assert(io.open(server, "w"))
    f:write(([[
local hilt = require("hilt")
local rpc = require("hilt.rpc")
local srv = rpc.serve("unix://%s", { add = function(a, b) return a + b end,
  power = { on = function(x) return "on " .. x end } })
hilt.sleep(3)
srv:close()
]]):format(sock))
    f:close()
    local client = os.tmpname()
    f = assert(io.open(client, "w"))
    f:write([[
import msgpack, socket, sys, time
for _ in range(300):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.01)
u = msgpack.Unpacker(raw=False)
def call(i, method, params):
    s.sendall(msgpack.packb([0, i, method, params]))
    while True:
        for m in u:
            return m
        u.feed(s.recv(65536))
print(call(1, "add", [2, 40]))
print(call(2, "power/on", ["a"]))
r = call(3, "nope", [])
print(r[0], r[1], r[2]["code"], r[3])
]])
    f:close()
    local hilt_bin = require("hilt.core").exepath()
    os.execute(("%s %s >/dev/null 2>&1 &"):format(hilt_bin, server))
    local p = io.popen(("/usr/bin/python3 %s %s"):format(client, sock))
    local out = p:read("a")
    p:close()
    os.remove(server)
    os.remove(client)
    assert.are.equal("[1, 1, None, 42]\n[1, 2, None, 'on a']\n1 3 not_found None\n", out)
  end)
  -- hilt as a child speaking on its stdin and stdout, driven by python.
  it("serves a parent process over stdio", function()
    local server = os.tmpname()
    local f = assert(io.open(server, "w"))
    f:write([[
local hilt = require("hilt")
local rpc = require("hilt.rpc")
local done = false
rpc.serve("stdio", { add = function(a, b) return a + b end,
  bye = function() done = true return "bye" end })
print("stray output goes to stderr, not into the stream")
while not done do hilt.sleep(0.01) end
]])
    f:close()
    local client = os.tmpname()
    f = assert(io.open(client, "w"))
    f:write([[
import msgpack, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
u = msgpack.Unpacker(raw=False)
def call(i, m, params):
    p.stdin.write(msgpack.packb([0, i, m, params])); p.stdin.flush()
    while True:
        for msg in u:
            return msg
        u.feed(p.stdout.read1(65536))
print(call(1, "add", [2, 3]))
print(call(2, "bye", []))
p.stdin.close()
print("exit", p.wait())
]])
    f:close()
    local hilt_bin = require("hilt.core").exepath()
    local p = io.popen(("timeout 20 /usr/bin/python3 %s %s %s"):format(client, hilt_bin, server))
    local out = p:read("a")
    p:close()
    os.remove(server)
    os.remove(client)
    assert.are.equal("[1, 1, None, 5]\n[1, 2, None, 'bye']\nexit 0\n", out)
  end)
  it("lets a script end with its connections open, unless asked to stay", function()
    local proc = require("spec.support.proc")
    local r = proc.script([[
local rpc = require("hilt.rpc")
local a, b = rpc.pair(nil, { add = function(x, y) return x + y end })
print(a.remote.add(2, 3))
]], nil, { cmd = "timeout 10 " .. proc.quote(proc.hilt) })
    assert.are.same({ "5\n", 0 }, { r.out, r.code })
    r = proc.script([[
local hilt = require("hilt")
local rpc = require("hilt.rpc")
local a, b = rpc.pair(nil, { add = function(x, y) return x + y end })
a:keep_alive(true)
hilt.after(0.1, function() print("still here") a:close() end)
]], nil, { cmd = "timeout 10 " .. proc.quote(proc.hilt) })
    assert.are.same({ "still here\n", 0 }, { r.out, r.code })
  end)

  it("serves calls on a connection made by a task that has since ended", function()
    local back
    local srv = rpc.serve("tcp://127.0.0.1:0", {}, { on_connect = function(c) back = c end })
    local conn
    hilt.spawn(function()
      conn = rpc.connect(srv:address(), { router = { hi = function(n) return n + 1 end } })
    end):join()
    -- The ended task's thread went back to the pool that the handlers'
    -- tasks are taken from: a call that came in on it must not run there.
    for n = 1, 20 do
      assert.are.equal(n + 1, back:call("hi", n))
    end
    conn:close()
    srv:close()
    hilt.sleep(0.05)
  end)

end)
