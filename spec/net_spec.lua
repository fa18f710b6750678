-- hilt.net: raw byte streams between a listener and connect in this
-- process over TCP and unix sockets (echo, 10 MB each way, half-close,
-- flow control both ways, cancelled reads, errors), and stdio in a child
-- hilt.
local hilt = require("hilt")
local net = require("hilt.net")
local process = require("hilt.process")
local poll = require("spec.support.wait").poll

local function tmpdir()
  local p = assert(io.popen("mktemp -d /tmp/hilt-net-spec.XXXXXX"))
  local dir = p:read("l")
  p:close()
  return dir
end

-- Echoes what the stream carries until EOF, then shuts down.
local function echo(s)
  for data in function() return s:read() end do
    s:write(data)
  end
  s:shutdown()
end

-- A listener on addr whose on_accept is fn; each accepted stream is kept
-- in `accepted` and closed with the listener by close_all.
local function serve(addr, fn)
  local srv = { accepted = {} }
  srv.l = net.listen(addr, function(s)
    srv.accepted[#srv.accepted + 1] = s
    fn(s)
  end)
  function srv.close_all()
    srv.l:close()
    for _, s in ipairs(srv.accepted) do
      s:close()
    end
  end
  return srv
end

local read_all = require("spec.support.bytes").read_all

-- n bytes in which misplaced or repeated chunks show.
local function pattern(n)
  local parts, i = {}, 0
  while #parts * 16 < n do
    parts[#parts + 1] = ("%015d|"):format(i)
    i = i + 1
  end
  return table.concat(parts):sub(1, n)
end

describe("hilt.net", function()
  local dir

  before_each(function()
    dir = tmpdir()
  end)

  after_each(function()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  for _, kind in ipairs({ "tcp", "unix" }) do
    local function addr()
      return kind == "tcp" and "tcp://127.0.0.1:0" or ("unix://" .. dir .. "/s.sock")
    end

    describe("over " .. kind, function()
      it("echoes", function()
        local srv = serve(addr(), echo)
        local c <close> = net.connect(srv.l:address())
        c:write("hello, ")
        c:write("echo")
        c:shutdown()
        assert.are.equal("hello, echo", read_all(c))
        assert.is_nil(c:read())
        srv.close_all()
      end)

      it("carries 10 MB each way, byte for byte", function()
        local srv = serve(addr(), echo)
        local c <close> = net.connect(srv.l:address())
        local blob = pattern(10 * 1024 * 1024)
        local writer = hilt.spawn(function()
          for i = 1, #blob, 1000003 do
            c:write(blob:sub(i, i + 1000002))
          end
          c:shutdown()
        end)
        local got = read_all(c)
        writer:join()
        assert.are.equal(#blob, #got)
        assert.is_true(blob == got, "the echo differs from what was sent")
        srv.close_all()
      end)

      it("half-closes: the peer reads EOF and can still answer", function()
        local srv = serve(addr(), function(s)
          local got = read_all(s)
          s:write("got " .. got)
          s:close()
        end)
        local c <close> = net.connect(srv.l:address())
        c:write("ping")
        c:shutdown()
        assert.has_error(function() c:write("more") end)
        assert.are.equal("got ping", read_all(c))
        srv.close_all()
      end)
    end)
  end

  it("tells where a listener is bound, with the port chosen for port 0", function()
    local l <close> = net.listen("tcp://127.0.0.1:0", function() end)
    local port = tonumber(l:address():match("^tcp://127%.0%.0%.1:(%d+)$"))
    assert.is_truthy(port and port > 0, l:address())
    assert.matches("^net listener tcp://127%.0%.0%.1:%d+$", tostring(l))
    l:close()
    l:close()  -- idempotent
    assert.matches("%(closed%)$", tostring(l))
  end)

  it("creates unix sockets with mode 0600", function()
    local path = dir .. "/private.sock"
    local l <close> = net.listen("unix://" .. path, function() end)
    assert.are.equal("unix://" .. path, l:address())
    local p = assert(io.popen("stat -c %a '" .. path .. "'"))
    local mode = p:read("l")
    p:close()
    assert.are.equal("600", mode)
  end)

  it("raises unavailable naming the address when nobody listens", function()
    local l = net.listen("tcp://127.0.0.1:0", function() end)
    local where = l:address()
    l:close()
    local ok, err = pcall(net.connect, where)
    assert.is_false(ok)
    assert.is_true(hilt.is_error(err, "unavailable"))
    assert.are.equal("cannot connect to " .. where .. ": connection refused",
      err.message)
    ok, err = pcall(net.connect, "unix://" .. dir .. "/nobody.sock")
    assert.is_true(hilt.is_error(err, "unavailable"))
    assert.matches("nobody.sock: no such file or directory", err.message)
  end)

  it("rejects bad addresses and arguments", function()
    local ok, err = pcall(net.connect, "tcp://x:99999")
    assert.is_true(hilt.is_error(err, "invalid_argument"))
    assert.matches("port must be", err.message)
    ok, err = pcall(net.connect, "stdio")
    assert.is_true(hilt.is_error(err, "invalid_argument"))
    ok, err = pcall(net.connect, 42)
    assert.is_true(hilt.is_error(err, "invalid_argument"))
    ok, err = pcall(function() return net.connect({}) end)
    assert.matches("bad argument #1 to 'connect' %(string expected, got table%)", err)
    ok, err = pcall(function() return net.listen("tcp://127.0.0.1:0", "no") end)
    assert.matches("bad argument #2 to 'listen' %(function expected", err)
    local srv = serve("tcp://127.0.0.1:0", echo)
    local c <close> = net.connect(srv.l:address())
    ok, err = pcall(function() return c:read(-1) end)
    assert.matches("bad argument #1 to 'read' %(max must be >= 0%)", err)
    ok, err = pcall(function() return c:write({}) end)
    assert.matches("bad argument #1 to 'write' %(string expected", err)
    ok, err = pcall(function() return c:read_until("") end)
    assert.matches("bad argument #1 to 'read_until' %(separator must not be empty%)", err)
    ok, err = pcall(function() return c.read("not a stream") end)
    assert.matches("hilt.net.Stream expected, got string", err)
    srv.close_all()
  end)

  it("reads at most max bytes, and lines with read_until", function()
    local srv = serve("tcp://127.0.0.1:0", function(s)
      s:write("one\ntwo\r\nthree")
      s:shutdown()
    end)
    local c <close> = net.connect(srv.l:address())
    assert.are.equal("on", c:read(2))
    assert.are.equal("e\n", c:read_until("\n"))
    assert.are.equal("two\r\n", c:read_until("\r\n"))
    assert.are.equal("three", c:read_until("\n"))
    assert.is_nil(c:read_until("\n"))
    assert.is_nil(c:read())
    srv.close_all()
  end)

  it("raises failed when read_until finds no separator within max", function()
    local srv = serve("tcp://127.0.0.1:0", function(s)
      s:write(("x"):rep(100))
    end)
    local c <close> = net.connect(srv.l:address())
    local ok, err = pcall(c.read_until, c, "\n", 50)
    assert.is_true(hilt.is_error(err, "failed"))
    assert.are.equal("read_until: no separator within 50 bytes", err.message)
    -- The bytes are still there.
    assert.are.equal(("x"):rep(50), c:read(50))
    srv.close_all()
  end)

  it("lets read_until wait for a line longer than the read buffer", function()
    local line = pattern(700 * 1024) .. "\n"
    local srv = serve("tcp://127.0.0.1:0", function(s)
      s:write(line)
    end)
    local c <close> = net.connect(srv.l:address())
    assert.is_true(line == c:read_until("\n", 1024 * 1024))
    srv.close_all()
  end)

  it("keeps the data of a read cancelled by a timeout for the next read", function()
    local go = hilt.queue()
    local srv = serve("tcp://127.0.0.1:0", function(s)
      go:get()
      s:write("late")
    end)
    local c <close> = net.connect(srv.l:address())
    local ok, err = pcall(hilt.timeout, 0.05, c.read, c)
    assert.is_true(hilt.is_error(err, "timeout"))
    go:put(true)
    poll(5, function() return select(2, c:queued()) > 0 end)
    -- Already here: a read under a timeout returns it at once.
    assert.are.equal("late", hilt.timeout(0.05, c.read, c))
    -- And a reader woken by the data but interrupted before it ran
    -- still gets the data.
    local reader = hilt.spawn(function() return c:read() end)
    hilt.yield()
    assert.are.equal("waiting", reader:status())
    srv.accepted[1]:write("woken")
    poll(5, function() return reader:status() ~= "waiting" end)
    reader:cancel()
    local r_ok, got = pcall(reader.join, reader)
    if r_ok then
      assert.are.equal("woken", got)
    else
      assert.are.equal("woken", c:read())
    end
    srv.close_all()
  end)

  it("lets one task read and one write at a time", function()
    local srv = serve("tcp://127.0.0.1:0", function() end)
    local c <close> = net.connect(srv.l:address())
    local first = hilt.spawn(function() return c:read() end)
    hilt.yield()
    local ok, err = pcall(c.read, c)
    assert.is_false(ok)
    assert.matches("another task is already reading from tcp://127%.0%.0%.1:%d+", err)
    first:cancel()
    srv.close_all()
  end)

  it("wakes a task waiting in read with nil when the stream is closed", function()
    local srv = serve("tcp://127.0.0.1:0", function() end)
    local c = net.connect(srv.l:address())
    local reader = hilt.spawn(function() return c:read() end)
    hilt.yield()
    assert.are.equal("waiting", reader:status())
    c:close()
    assert.is_nil(reader:join())
    assert.is_nil(c:read())
    local ok, err = pcall(c.write, c, "x")
    assert.is_true(hilt.is_error(err, "unavailable"))
    assert.matches("the stream is closed", err.message)
    assert.matches("^net stream tcp://127%.0%.0%.1:%d+ %(closed%)$", tostring(c))
    c:close()  -- idempotent
    srv.close_all()
  end)

  it("sends what was queued before close, then closes", function()
    local release, got = hilt.queue(), hilt.queue()
    local srv = serve("tcp://127.0.0.1:0", function(s)
      release:get()
      got:put(read_all(s))
    end)
    local c = net.connect(srv.l:address())
    -- Fill the kernel's buffers until some bytes wait in the stream's own
    -- queue (64 KiB writes never wait), then a little more.
    local piece, sent, extra = pattern(64 * 1024), {}, 8
    for _ = 1, 2000 do
      c:write(piece)
      sent[#sent + 1] = piece
      extra = c:queued() > 0 and extra - 1 or extra
      if extra == 0 then
        break
      end
    end
    assert.is_true(c:queued() > 0, "nothing was queued")
    c:close()
    release:put(true)
    assert.is_true(table.concat(sent) == got:get(), "bytes were lost")
    srv.close_all()
  end)

  it("raises unavailable on a reset connection, for readers and writers", function()
    -- The server stops reading once its buffer is full, so closing leaves
    -- bytes unread in the kernel, which then resets the connection.
    local srv = serve("tcp://127.0.0.1:0", function(s)
      poll(5, function() return select(2, s:queued()) >= 256 * 1024 end)
      hilt.sleep(0.05)
      s:close()
    end)
    local c <close> = net.connect(srv.l:address())
    local writer = hilt.spawn(function()
      for _ = 1, 64 do
        c:write(("r"):rep(1024 * 1024))
      end
    end)
    local ok, err = pcall(c.read, c)
    assert.is_false(ok)
    assert.is_true(hilt.is_error(err, "unavailable"))
    assert.matches("^tcp://127%.0%.0%.1:%d+: connection reset by peer$", err.message)
    ok, err = pcall(writer.join, writer)
    assert.is_false(ok)
    assert.is_true(hilt.is_error(err, "unavailable"), tostring(err))
    assert.matches("^tcp://127%.0%.0%.1:%d+: ", err.message)
    -- And the next write fails at once, with the same reason.
    ok, err = pcall(c.write, c, "more")
    assert.is_true(hilt.is_error(err, "unavailable"))
    srv.close_all()
  end)

  it("raises unavailable when writing to a peer that has gone", function()
    local srv = serve("tcp://127.0.0.1:0", function(s) s:close() end)
    local c <close> = net.connect(srv.l:address())
    assert.is_nil(c:read())  -- the peer's EOF; writing is still allowed
    local ok, err = pcall(function()
      for _ = 1, 100 do
        c:write("x")
        hilt.sleep(0.01)
      end
    end)
    assert.is_false(ok)
    assert.is_true(hilt.is_error(err, "unavailable"))
    assert.matches(": broken pipe$", err.message)
    srv.close_all()
  end)

  it("holds back a writer that outruns a slow reader", function()
    local release = hilt.queue()
    local srv = serve("tcp://127.0.0.1:0", function(s)
      release:get()
      read_all(s)
      s:close()
    end)
    local c <close> = net.connect(srv.l:address())
    local chunk = ("w"):rep(256 * 1024)
    local written = 0
    local writer = hilt.spawn(function()
      for _ = 1, 256 do  -- 64 MiB, far beyond what the kernel buffers
        c:write(chunk)
        written = written + #chunk
      end
      c:shutdown()
    end)
    poll(5, function() return writer:status() == "waiting" and written > 0 end)
    hilt.sleep(0.1)
    assert.are.equal("waiting", writer:status())
    assert.is_true(written < 16 * 1024 * 1024, "wrote " .. written)
    local out = c:queued()
    assert.is_true(out <= 2 * 1024 * 1024, "queued " .. out)
    -- The reading end stops reading too: what waits unread stays small.
    local s = srv.accepted[1]
    local _, unread = s:queued()
    assert.is_true(unread <= 320 * 1024, "buffered " .. unread)
    release:put(true)
    writer:join()
    assert.are.equal(256 * #chunk, written)
    srv.close_all()
  end)

  it("does not keep a finished script alive with a stream nobody waits on", function()
    local r = process.run({ require("hilt.core").exepath(), "-e", [[
        local net = require("hilt.net")
        local l = net.listen("tcp://127.0.0.1:0", function(s) end)
        local s = net.connect(l:address())
        s:write("unread")
        l:close()
        print("done")
      ]] }, { timeout = 10 })
    assert.is_false(r.timed_out, r.stderr)
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("done\n", r.stdout)
  end)

  it("speaks on stdin and stdout with net.stdio()", function()
    local script = dir .. "/upper.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
      local net = require("hilt.net")
      local s = net.stdio()
      assert(net.stdio() == s)
      print("stray prints go to stderr")
      for data in function() return s:read() end do
        s:write(data:upper())
      end
      s:close()
    ]])
    f:close()
    local input = pattern(3 * 1024 * 1024)
    local r = process.run({ require("hilt.core").exepath(), script },
      { input = input, timeout = 20 })
    assert.are.equal(0, r.code, r.stderr)
    assert.is_true(input:upper() == r.stdout, "the output differs")
    assert.matches("stray prints go to stderr", r.stderr)
  end)
end)
