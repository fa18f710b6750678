-- hilt.serial on pseudo-terminals: serial.openpty's master end stands in
-- for the device (small simulators written here in Lua), serial.open
-- opens the other end through the termios fallback. Settings as the
-- kernel keeps them (read back with stty), timeouts that keep their
-- bytes, lines split across writes, every byte value, 1 MB each way at
-- once, the controls a pty has and has not, a device that goes away while
-- a read waits, and the errors of opening.
local hilt = require("hilt")
local serial = require("hilt.serial")
local poll = require("spec.support.wait").poll
local proc = require("spec.support.proc")

-- n bytes in which misplaced or repeated chunks show.
local function pattern(n, tag)
  local parts, i = {}, 0
  while #parts * 16 < n do
    parts[#parts + 1] = ("%s%014d|"):format(tag, i)
    i = i + 1
  end
  return table.concat(parts):sub(1, n)
end

-- Reads exactly n bytes from a stream or port.
local function read_n(s, n)
  local parts, have = {}, 0
  while have < n do
    local data = assert(s:read(n - have))
    parts[#parts + 1] = data
    have = have + #data
  end
  return table.concat(parts)
end

-- What `stty -a` says of the terminal at path.
local function stty(path)
  local p = assert(io.popen("stty -F " .. path .. " -a 2>&1"))
  local out = p:read("a")
  p:close()
  return out
end

local function assert_error(code, pattern_, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  assert.is_true(hilt.is_error(err, code), ("expected %s, got %s"):format(
    code, tostring(hilt.is_error(err) and err.code .. ": " .. err.message or err)))
  assert.matches(pattern_, err.message)
  return err
end

-- A simulated device: answers each line with "echo: " and the line.
local function echo_device(dev)
  return hilt.spawn(function()
    for line in function() return dev:read_until("\n") end do
      dev:write("echo: " .. line)
    end
  end)
end

describe("hilt.serial", function()
  local dev, path

  before_each(function()
    dev, path = serial.openpty()
  end)

  after_each(function()
    dev:close()
  end)

  describe("opening", function()
    it("opens a pty by path through the termios fallback", function()
      assert.matches("^/dev/pts/%d+$", path)
      assert.matches("^net stream pty /dev/pts/%d+$", tostring(dev))
      local port <close> = serial.open(path)
      assert.are.equal(path, port.path)
      assert.are.equal("termios", port.backend)
      assert.are.equal("serial port " .. path, tostring(port))
      local sim <close> = echo_device(dev)
      port:write("ping\n")
      assert.are.equal("echo: ping\n", port:read_until("\n", 5))
      port:close()
      port:close()  -- idempotent
      assert.are.equal("serial port " .. path .. " (closed)", tostring(port))
    end)

    it("opens the same pty again after closing it", function()
      for i = 1, 3 do
        local port <close> = serial.open(path)
        dev:write("round " .. i)
        assert.are.equal("round " .. i, read_n(port, #("round " .. i)))
      end
    end)

    it("raises not_found naming a path that does not exist", function()
      assert_error("not_found", "^serial /dev/ttyNOPE9: no such file or directory$",
        serial.open, "/dev/ttyNOPE9")
    end)

    it("opens exclusively when asked", function()
      local port <close> = serial.open(path, { exclusive = true })
      dev:write("x")
      assert.are.equal("x", port:read(nil, 5))
    end)

    it("raises failed for a device it may not open", function()
      local id = io.popen("id -u; command -v setpriv")
      local uid, setpriv = id:read("l", "l")
      id:close()
      if uid ~= "0" or not setpriv then
        return pending("needs root and setpriv, to open the pty as nobody")
      end
      local as_nobody = setpriv .. " --reuid=65534 --regid=65534 --clear-groups "
        .. proc.quote(proc.hilt)
      -- A checkout under a directory only root may enter (mktemp -d) is
      -- out of nobody's reach, and so is the hilt being tested.
      if proc.run({ "-e", "" }, { cmd = as_nobody }).code ~= 0 then
        return pending("nobody cannot run the hilt under test from here")
      end
      local r = proc.run({ "-e", ([[
        local ok, err = pcall(require("hilt.serial").open, %q)
        io.write(err.code, "|", err.message)]]):format(path) },
        { cmd = as_nobody })
      assert.are.equal(0, r.code, r.err)
      assert.matches("^failed|serial " .. path .. ": permission denied", r.out)
    end)

    it("raises failed for a path too long to be one", function()
      assert_error("failed", "^serial /dev/xxx+%.%.%.: name too long$", serial.open, "/dev/" .. ("x"):rep(300))
    end)

    it("raises failed for a path that is not a terminal", function()
      assert_error("failed", "^serial /dev/null: not a serial port %(not a terminal device%)$",
        serial.open, "/dev/null")
    end)

    it("raises not_found listing the ports when no port matches", function()
      local err = assert_error("not_found",
        "^no serial port matches vid=0x0403 pid=0x6001; ",
        serial.open, { vid = 0x0403, pid = 0x6001 })
      local ports = serial.list()
      if #ports == 0 then
        assert.matches("there are no serial ports here$", err.message)
      else
        assert.matches("ports here: " .. ports[1].path:gsub("%p", "%%%0"), err.message)
      end
      assert_error("not_found", 'description="no such adapter"',
        serial.open, { description = "no such adapter" })
    end)

    it("rejects bad specs and options, naming them", function()
      local cases = {
        { { 42 }, "bad argument #1 to 'open' %(path or match table expected, got number%)" },
        { { {} }, "bad argument #1 to 'open' %(a match needs vid, pid, serial or description%)" },
        { { { vid = 0x0403, product = "x" } }, "bad argument #1 to 'open' %(unknown match field 'product'%)" },
        { { { vid = 0x10000 } }, "vid and pid must be 0..0xffff" },
        { { { vid = "0403" } }, "vid must be an integer, got 0403" },
        { { path, { baudrate = 9600 } }, "bad argument #2 to 'open' %(unknown option 'baudrate'%)" },
        { { path, { baud = "fast" } }, "baud must be an integer, got fast" },
        { { path, { baud = 0 } }, "baud must be > 0, got 0" },
        { { path, { bits = 9 } }, "bits must be 5, 6, 7 or 8, got 9" },
        { { path, { stop = 1.5 } }, "stop must be an integer, got 1.5" },
        { { path, { parity = "evn" } }, "parity must be none, odd, even, mark or space, got 'evn'" },
        { { path, { flow = "hardware" } }, "flow must be none, xonxoff, rtscts or dtrdsr, got 'hardware'" },
        { { path, { dtr = "yes" } }, "dtr must be a boolean, got string" },
        { { path, "fast" }, "bad argument #2 to 'open' %(options table expected, got string%)" },
        { { path, { exclusive = 1 } }, "exclusive must be a boolean, got number" },
        { { path .. "\0x" }, "bad argument #1 to 'open' %(path must not hold a NUL byte%)" },
      }
      for _, c in ipairs(cases) do
        local ok, err = pcall(function()
          local port = serial.open(table.unpack(c[1]))  -- not a tail call
          return port
        end)
        assert.is_false(ok)
        assert.is_string(err)
        assert.matches(c[2], err)
        -- The error points at the caller, not into hilt's library.
        assert.matches("^[^:]*serial_spec%.lua:%d+: ", err)
      end
    end)

    it("lists the serial ports of the machine", function()
      local ports = serial.list()
      assert.is_table(ports)
      for _, p in ipairs(ports) do
        assert.matches("^/dev/", p.path)
        assert.is_truthy(({ usb = true, native = true, bluetooth = true })[p.transport])
        assert.is_true(p.vid == nil or math.type(p.vid) == "integer")
      end
    end)

    it("runs `hilt serial list`", function()
      local r = proc.run({ "serial", "list" })
      assert.are.equal(0, r.code, r.err)
      assert.is_truthy(r.out:match("^PATH ") or r.out == "no serial ports found\n", r.out)
      r = proc.run({ "serial", "--help" })
      assert.are.equal(0, r.code)
      assert.matches("usage: hilt serial list", r.out)
      r = proc.run({ "serial", "lst" })
      assert.are.equal(2, r.code)
      assert.matches("unknown command 'lst'", r.err)
    end)
  end)

  describe("settings", function()
    it("applies them, as get() and the kernel read them back", function()
      local port <close> = serial.open(path, { baud = 9600, bits = 7,
        parity = "even", stop = 2, flow = "xonxoff" })
      assert.are.same({ baud = 9600, bits = 7, parity = "even", stop = 2,
        flow = "xonxoff" }, port:get())
      local t = stty(path)
      assert.matches("speed 9600 baud", t)
      assert.matches("[^-]cstopb", t)
      assert.matches("[^-]ixon", t)
      assert.matches("-echo ", t)
      assert.matches("-icanon", t)
      port:set({ baud = 57600, flow = "rtscts", stop = 1 })
      assert.are.same({ baud = 57600, bits = 7, parity = "even", stop = 1,
        flow = "rtscts" }, port:get())
      t = stty(path)
      assert.matches("speed 57600 baud", t)
      assert.matches("-cstopb", t)
      assert.matches("[^-]crtscts", t)
      assert.matches("-ixon", t)
    end)

    it("defaults to 115200 8N1 without flow control", function()
      local port <close> = serial.open(path)
      assert.are.same({ baud = 115200, bits = 8, parity = "none", stop = 1,
        flow = "none" }, port:get())
      assert.matches("speed 115200 baud", stty(path))
    end)

    it("raises failed naming a baud rate the device refuses, and keeps the settings", function()
      local port <close> = serial.open(path, { baud = 19200 })
      assert_error("failed", "^serial " .. path .. ": baud rate 250000 is not supported",
        port.set, port, { baud = 250000 })
      assert.are.equal(19200, port:get().baud)
      assert.matches("speed 19200 baud", stty(path))
      assert_error("failed", "baud rate 12345 is not supported",
        serial.open, path, { baud = 12345 })
      assert_error("failed", "flow control dtrdsr is not supported by this device",
        port.set, port, { flow = "dtrdsr" })
    end)

    it("rejects bad settings, naming them", function()
      local port <close> = serial.open(path)
      local ok, err = pcall(port.set, port, { bits = 4 })
      assert.matches("bad argument #1 to 'set' %(bits must be 5, 6, 7 or 8, got 4%)", err)
      ok, err = pcall(port.set, port, { speed = 9600 })
      assert.matches("bad argument #1 to 'set' %(unknown setting 'speed'%)", err)
      ok, err = pcall(port.set, port, "9600")
      assert.matches("bad argument #1 to 'set' %(table expected, got string%)", err)
      assert.are.equal(115200, port:get().baud)
    end)
  end)

  describe("reading and writing", function()
    it("raises timeout from a read, and keeps what comes later", function()
      local port <close> = serial.open(path)
      local t0 = hilt.now()
      assert_error("timeout", "^serial " .. path .. ": read timed out after 0.05 s$",
        port.read, port, nil, 0.05)
      assert.is_true(hilt.now() - t0 < 1)
      dev:write("late")
      assert.are.equal("late", port:read(nil, 5))
      -- No timeout: waits as long as it takes.
      hilt.spawn(function() hilt.sleep(0.05) dev:write("x") end)
      assert.are.equal("x", port:read())
    end)

    it("reads at most max bytes", function()
      local port <close> = serial.open(path)
      dev:write("abcdef")
      assert.are.equal("abc", port:read(3, 5))
      assert.are.equal("def", read_n(port, 3))
      local ok, err = pcall(port.read, port, -1)
      assert.matches("bad argument #1 to 'read' %(max must be an integer >= 0, got %-1%)", err)
      ok, err = pcall(port.read, port, nil, "soon")
      assert.matches("bad argument #2 to 'read' %(timeout must be a number >= 0, got soon%)", err)
    end)

    it("reads a line split across writes with read_until", function()
      local port <close> = serial.open(path)
      local sim <close> = hilt.spawn(function()
        for _, piece in ipairs({ "he", "ll", "o\r", "\nnext" }) do
          dev:write(piece)
          hilt.sleep(0.01)
        end
      end)
      assert.are.equal("hello\r\n", port:read_until("\r\n", 5))
      assert.are.equal("next", read_n(port, 4))
    end)

    it("keeps what read_until read when it times out", function()
      local port <close> = serial.open(path)
      dev:write("abc")
      assert_error("timeout", "read_until timed out after 0.05 s",
        port.read_until, port, "\n", 0.05)
      dev:write("def\n")
      assert.are.equal("abcdef\n", port:read_until("\n", 5))
      dev:write(("x"):rep(100))
      assert_error("failed", "^read_until: no separator within 50 bytes$",
        port.read_until, port, "\n", 5, 50)
      assert.are.equal(("x"):rep(100), read_n(port, 100))
    end)

    it("carries every byte value both ways", function()
      local port <close> = serial.open(path)
      local all = {}
      for b = 0, 255 do
        all[#all + 1] = string.char(b)
      end
      all = table.concat(all)
      dev:write(all)
      assert.are.equal(all, read_n(port, 256))
      port:write(all:reverse())
      assert.are.equal(all:reverse(), read_n(dev, 256))
    end)

    it("carries 1 MB each way at once, byte for byte", function()
      local port <close> = serial.open(path)
      local down, up = pattern(1024 * 1024, "D"), pattern(1024 * 1024, "U")
      local function send(s, data)
        for i = 1, #data, 100003 do
          s:write(data:sub(i, i + 100002))
        end
      end
      local tasks = {
        hilt.spawn(send, dev, down),
        hilt.spawn(send, port, up),
        hilt.spawn(read_n, port, #down),
        hilt.spawn(read_n, dev, #up),
      }
      local r = hilt.wait_all(tasks)
      assert.is_true(r[3][1] == down, "what the port read differs from what the device sent")
      assert.is_true(r[4][1] == up, "what the device read differs from what the port sent")
      port:drain()
    end)

    it("lets one task read at a time, and loses nothing to a cancelled read", function()
      local port <close> = serial.open(path)
      local first = hilt.spawn(function() return port:read() end)
      hilt.yield()
      local ok, err = pcall(port.read, port)
      assert.is_false(ok)
      assert.matches("another task is already reading from serial " .. path, err)
      first:cancel()
      assert.is_true(hilt.is_error(select(2, pcall(first.join, first)), "cancelled"))
      dev:write("kept")
      assert.are.equal("kept", read_n(port, 4))
    end)

    it("ends a waiting read with nil when another task closes the port", function()
      local port = serial.open(path)
      local reader = hilt.spawn(function() return port:read() end)
      hilt.yield()
      port:close()
      assert.is_nil(reader:join())
      assert.is_nil(port:read())
      assert_error("unavailable", "^serial " .. path .. ": the port is closed$",
        port.write, port, "x")
      assert_error("unavailable", "the port is closed", port.get, port)
    end)
  end)

  describe("controls", function()
    it("raises failed for the modem lines, which a pty has not", function()
      local port <close> = serial.open(path)
      local msg = "^serial " .. path .. ": %s: not supported by a pseudo%%-terminal$"
      assert_error("failed", msg:format("dtr"), port.dtr, port, true)
      assert_error("failed", msg:format("rts"), port.rts, port, false)
      assert_error("failed", msg:format("lines"), port.lines, port)
      assert_error("failed", msg:format("dtr"), serial.open, path, { dtr = true })
      local ok, err = pcall(port.dtr, port, 1)
      assert.matches("bad argument #1 to 'dtr' %(boolean expected, got number%)", err)
    end)

    it("sends a break for as long as asked, without blocking others", function()
      local port <close> = serial.open(path)
      local ticks = 0
      local ticker <close> = hilt.spawn(function()
        while true do hilt.sleep(0.01) ticks = ticks + 1 end
      end)
      local t0 = hilt.now()
      port:send_break(0.1)
      assert.is_true(hilt.now() - t0 >= 0.1)
      assert.is_true(ticks >= 3, "the loop was blocked during the break")
      port:send_break(0)
    end)

    it("flushes input that has arrived and was not read", function()
      local port <close> = serial.open(path)
      dev:write("stale")
      poll(5, function() return select(2, port._stream:queued()) > 0 end)
      port:flush("input")
      dev:write("fresh")
      assert.are.equal("fresh", read_n(port, 5))
      port:flush("output")
      port:flush()
      local ok, err = pcall(port.flush, port, "all")
      assert.matches("bad argument #1 to 'flush' %(which must be input, output or both, got all%)", err)
    end)

    it("drains: returns once what was written has left", function()
      local port <close> = serial.open(path)
      local data = pattern(300 * 1024, "W")
      local reader = hilt.spawn(read_n, dev, #data)
      port:write(data)
      port:drain()
      assert.are.equal(0, (port._stream:queued()))
      assert.is_true(reader:join() == data)
    end)
  end)

  describe("a device that goes away", function()
    it("fails a waiting read promptly with unavailable", function()
      local port <close> = serial.open(path)
      local reader = hilt.spawn(function() return pcall(port.read, port) end)
      hilt.yield()
      assert.are.equal("waiting", reader:status())
      local t0 = hilt.now()
      dev:close()
      local ok, err = reader:join()
      assert.is_true(hilt.now() - t0 < 1)
      assert.is_false(ok)
      assert.is_true(hilt.is_error(err, "unavailable"))
      assert.are.equal("serial " .. path .. ": device gone (hung up)", err.message)
      -- From then on the port only fails, until it is closed.
      assert_error("unavailable", "device gone", port.read, port)
      assert_error("unavailable", "device gone", port.read_until, port, "\n")
      assert_error("unavailable", "device gone", port.write, port, "x")
      assert_error("unavailable", "device gone", port.set, port, { baud = 9600 })
      port:close()
      assert.is_nil(port:read())
    end)

    it("gives what arrived before it went, then the error", function()
      local port <close> = serial.open(path)
      dev:write("last words\npartial")
      poll(5, function() return select(2, port._stream:queued()) >= 18 end)
      dev:close()
      poll(5, function() return not pcall(port.drain, port) end)
      assert.are.equal("last words\n", port:read_until("\n"))
      assert_error("unavailable", "device gone", port.read_until, port, "\n")
      assert.are.equal("partial", port:read())
      assert_error("unavailable", "device gone %(hung up%)", port.read, port)
    end)

    it("drops what the device still had queued when it goes", function()
      local port <close> = serial.open(path)
      local writer = hilt.spawn(function()
        return pcall(dev.write, dev, pattern(3 * 1024 * 1024, "Q"))
      end)
      poll(5, function() return (dev:queued()) > 0 end)
      dev:close()
      local ok, err = writer:join()
      assert.is_false(ok)
      assert.matches("the stream is closed", tostring(err))
      port:close()
      -- Nothing lingers: the spec's check for active handles would fail.
    end)

    it("fails a read when the simulator's task ends and closes its end", function()
      local port <close> = serial.open(path)
      local answered = hilt.queue()
      local sim = hilt.spawn(function()
        local d <close> = dev
        d:write("ok: " .. d:read_until("\n"))
        -- Closing hangs the port up at once, dropping what it has not
        -- read yet (as unplugging does): wait until it has the answer.
        answered:get()
      end)
      port:write("bye\n")
      assert.are.equal("ok: bye\n", port:read_until("\n", 5))
      local reader = hilt.spawn(function() return pcall(port.read, port, nil, 5) end)
      hilt.yield()
      answered:put(true)
      local ok, err = reader:join()
      assert.is_false(ok)
      assert.is_true(hilt.is_error(err, "unavailable"), tostring(err))
      assert.matches("device gone", err.message)
      sim:join()
    end)
  end)
end)
