-- hilt.console_hub: one device console shared by many clients on an
-- exporter. The hub reads the device all the time, whoever is attached,
-- into a scrollback, an optional log file and every attached viewer; one
-- viewer may also type (the writer), any number only watch. A viewer that
-- attaches or leaves takes nothing from the others, and output is read
-- (and logged) even when nobody watches.
--
--   local hub = console_hub.new(function() return serial.open(path, opts) end,
--                               { name = "dut.console", log = "dut.log" })
--   hub:start()
--   hub:attach(stream, "rw")      -- inside an export_stream handler
local hilt = require("hilt")
local hcore = require("hilt.core")
local log = require("hilt.log")
local console_log = require("hilt.console_log")

local M = {}

local Hub = {}
Hub.__index = Hub

local VIEWER_QUEUE = 1024      -- chunks a viewer may fall behind
local SCROLLBACK = 64 * 1024   -- bytes kept for viewers that attach later

--- new(open, opts) -> hub. open() returns the device's byte stream (read,
--- write, close) or raises; opts: name, log (a file path), scrollback
--- (bytes, default 64 KiB), retry (seconds between attempts to reopen a
--- device that went away, default 1).
function M.new(open, opts)
  opts = opts or {}
  return setmetatable({
    open_device = open, name = opts.name or "console",
    scrollback_max = opts.scrollback or SCROLLBACK, retry = opts.retry or 1,
    log_path = opts.log, viewers = {}, writer = nil, back = {}, back_len = 0,
    running = false,
  }, Hub)
end

function Hub:note(level, fmt, ...)
  log.at(level, self.name, fmt, ...)
end

-- Keeps the last scrollback_max bytes.
function Hub:remember(data)
  local back = self.back
  back[#back + 1] = data
  self.back_len = self.back_len + #data
  while self.back_len - #back[1] >= self.scrollback_max do
    self.back_len = self.back_len - #table.remove(back, 1)
  end
end

--- hub:scrollback([n]) -> the last n bytes the device sent (default all
--- kept).
function Hub:scrollback(n)
  local s = table.concat(self.back)
  return n and s:sub(-n) or s
end

function Hub:fan_out(data)
  self:remember(data)
  if self.log then
    self.log:write("<", data)
  end
  for v in pairs(self.viewers) do
    if not v.q:try_put(data) then
      -- This viewer cannot keep up: it is let go rather than holding up
      -- the device and every other viewer.
      v.dropped = true
      v.q:close()
      self.viewers[v] = nil
    end
  end
end

-- Opens the device, waiting `retry` seconds between failed attempts while
-- the hub runs. Returns the stream, or nil once stopped.
function Hub:connect_device()
  local warned = false
  while self.running do
    local ok, dev = pcall(self.open_device)
    if ok then
      if warned then
        self:note("info", "device is back")
      end
      return dev
    end
    if not warned then
      self:note("warn", "cannot open the device: %s (retrying every %g s)",
        hcore.is_error(dev) and dev.message or tostring(dev), self.retry)
      warned = true
    end
    hilt.sleep(self.retry)
  end
end

-- The reader: device output to everyone, for as long as the hub runs; a
-- device that goes away is reopened.
function Hub:read_loop()
  while self.running do
    local dev = self:connect_device()
    if not dev then
      return
    end
    self.dev = dev
    while true do
      local ok, data = pcall(dev.read, dev)
      if not ok or data == nil then
        self.dev = nil
        pcall(dev.close, dev)
        if self.running then
          self:note("warn", "the device went away: %s",
            ok and "end of stream" or (hcore.is_error(data) and data.message
              or tostring(data)))
        end
        break
      end
      self:fan_out(data)
    end
  end
end

--- hub:start(): opens the log and starts reading the device.
function Hub:start()
  if self.running then
    return
  end
  if self.log_path then
    self.log = console_log.open(self.log_path)
  end
  self.running = true
  self.reader = hilt.spawn(self.read_loop, self)
end

--- hub:device() -> the device stream; raises `unavailable` while there
--- is none (the hub keeps trying to reopen it).
function Hub:device()
  if self.dev then
    return self.dev
  end
  error(hcore.error("unavailable", ("%s: the device is not available "
    .. "(hilt retries every %g s)"):format(self.name, self.retry)), 0)
end

--- hub:write(data): types into the device.
function Hub:write(data)
  local dev = self:device()
  if self.log then
    self.log:write(">", data)
  end
  dev:write(data)
end

-- Copies the viewer's queue to its stream until either ends.
local function feed(v, stream)
  for data in v.q:iter() do
    stream:write(data)
  end
  if v.dropped then
    stream:write("\r\n[hilt: this viewer fell behind and was detached]\r\n")
  end
end

--- hub:attach(stream, mode [, backlog]) -> returns when the viewer leaves:
--- sends the device's output to stream (first the last `backlog` bytes of
--- scrollback, default 0); mode "rw" also sends what stream carries to the
--- device (one such writer at a time; another raises `failed`), "ro"
--- ignores it.
function Hub:attach(stream, mode, backlog)
  if mode == "rw" and self.writer then
    error(hcore.error("failed", ("%s already has a writer (attached %s); "
      .. "watch it read-only, or close the other"):format(self.name,
      os.date("!%H:%M:%S", math.floor(self.writer.since)) .. " UTC")), 0)
  end
  local v = { q = hilt.queue(VIEWER_QUEUE), since = hcore.time() }
  self.viewers[v] = true
  if mode == "rw" then
    self.writer = v
  end
  local input, out
  local ok, err = pcall(function()
    if backlog and backlog > 0 then
      stream:write(self:scrollback(backlog))
    end
    if mode ~= "rw" then
      return feed(v, stream)
    end
    -- The viewer leaves when its input ends (it closed its side) or its
    -- output cannot be delivered.
    input = hilt.spawn(function()
      for data in function() return stream:read() end do
        self:write(data)
      end
    end)
    out = hilt.spawn(feed, v, stream)
    local done = hilt.wait_first({ input, out })
    local okj, e = pcall(done.join, done)
    if not okj then
      error(e, 0)
    end
  end)
  -- However it ended (the viewer left, the call was cancelled), neither
  -- helper task outlives the attachment.
  for _, t in ipairs({ input, out }) do
    if t and not t:done() then
      t:cancel()
      pcall(t.join, t)
    end
  end
  self.viewers[v] = nil
  if self.writer == v then
    self.writer = nil
  end
  v.q:close()
  if not ok and not hcore.is_error(err, "cancelled")
      and not hcore.is_error(err, "unavailable") then
    error(err, 0)
  end
end

--- hub:stop(): stops reading, detaches every viewer, closes the device
--- and the log.
function Hub:stop()
  self.running = false
  for v in pairs(self.viewers) do
    v.q:close()
  end
  if self.reader then
    self.reader:cancel()
    pcall(self.reader.join, self.reader)
    self.reader = nil
  end
  if self.dev then
    pcall(self.dev.close, self.dev)
    self.dev = nil
  end
  if self.log then
    self.log:close()
    self.log = nil
  end
end

--- exports(Class): gives a driver class whose instances keep a hub in
--- self.hub the members every console shares: connect (read-write),
--- watch (read-only) and scrollback.
function M.exports(Class)
  Class:export_stream("connect", { doc = "The console, both ways: what "
    .. "the device sends, and what is written goes to it. One writer at a time.",
    args = { "backlog: bytes of past output to send first (default 0)" } },
    function(self, stream, backlog)
      self.hub:attach(stream, "rw", tonumber(backlog))
    end)
  Class:export_stream("watch", { doc = "The console's output only; any "
    .. "number may watch.", args = { "backlog: bytes of past output to send first" } },
    function(self, stream, backlog)
      self.hub:attach(stream, "ro", tonumber(backlog))
    end)
  Class:export("scrollback", { doc = "The last bytes the device sent.",
    args = { "n: how many (default all kept)" } }, function(self, n)
    return self.hub:scrollback(tonumber(n))
  end)
end

return M
