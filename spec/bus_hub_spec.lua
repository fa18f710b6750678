-- The hub's semantics, as ESHET's server: paths and their errors, the four
-- kinds, what a client leaving does to each, /meta/ls, ids that evict.
local hub_mod = require("hilt.bus.hub")

local function err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return err.message
end

-- A connection whose peer records what the hub tells it.
local function client(hub, handlers)
  local seen = { events = {}, states = {} }
  local peer = handlers or {}
  peer.event = function(path, v) seen.events[#seen.events + 1] = { path, v } end
  peer.state = function(path, known, v)
    seen.states[#seen.states + 1] = { path, known, v }
  end
  local c = hub:connect(peer)
  c.seen = seen
  return c
end

describe("the bus hub", function()
  local hub
  before_each(function() hub = hub_mod.new() end)

  it("checks paths and keeps leaves from nesting", function()
    local c = client(hub)
    assert.are.equal("invalid_path", err_of(c.action_register, c, "a/b"))
    assert.are.equal("invalid_path", err_of(c.action_register, c, "/a b"))
    assert.are.equal("invalid_path", err_of(c.action_register, c, "/a/"))
    assert.are.equal("path_should_be_binary", err_of(c.action_register, c, 42))
    c:action_register("/a/b")
    assert.are.equal("path_is_directory", err_of(c.action_register, c, "/a"))
    assert.are.equal("not_a_directory", err_of(c.action_register, c, "/a/b/c"))
    assert.are.equal("path_already_exists", err_of(client(hub).action_register, client(hub), "/a/b"))
    assert.are.equal("path_is_wrong_type", err_of(c.event_register, c, "/a/b"))
  end)

  it("forwards action calls to the owner and its answer back", function()
    local owner = client(hub, { call = function(path, args) return args[1] + args[2] end })
    owner:action_register("/calc/add")
    local c = client(hub)
    assert.are.equal(5, c:action_call("/calc/add", { 2, 3 }))
    assert.are.equal("path_not_found", err_of(c.action_call, c, "/calc/sub", {}))
    owner:disconnect()
    assert.are.equal("path_not_found", err_of(c.action_call, c, "/calc/add", { 1, 1 }))
  end)

  it("answers get from a state, and sends set to its owner", function()
    local sets = {}
    local owner = client(hub, { state_set = function(path, v) sets[#sets + 1] = v return true end })
    owner:state_register("/oven/temp")
    local c = client(hub)
    assert.are.equal("state_unknown", err_of(c.get, c, "/oven/temp"))
    owner:state_changed("/oven/temp", 180)
    assert.are.equal(180, c:get("/oven/temp"))
    assert.is_true(c:set("/oven/temp", 200))
    assert.are.same({ 200 }, sets)
    assert.are.equal(180, c:get("/oven/temp"))  -- only the owner changes it
    assert.are.equal("not_owner", err_of(c.state_changed, c, "/oven/temp", 1))
  end)

  it("lets observers come first, and turns states unknown when the owner goes", function()
    local obs = client(hub)
    local known, value = obs:state_observe("/door/open")
    assert.is_false(known)
    local owner = client(hub)
    owner:state_register("/door/open")
    owner:state_changed("/door/open", true)
    owner:state_changed("/door/open", true)   -- told again, unchanged
    owner:disconnect()
    assert.are.same({ { "/door/open", true, true }, { "/door/open", true, true },
                      { "/door/open", false } }, obs.seen.states)
    -- A new owner may take it; the node stayed for its observer.
    local owner2 = client(hub)
    owner2:state_register("/door/open")
    assert.are.equal("state", hub:ls("/door/open"))
    obs:disconnect()
    owner2:disconnect()
    assert.are.equal("path_not_found", err_of(hub.ls, hub, "/door/open"))
  end)

  it("sends events to every listener, listening before the owner exists", function()
    local l1, l2 = client(hub), client(hub)
    l1:event_listen("/bell/ring")
    l1:event_listen("/bell/ring")   -- once per connection
    local owner = client(hub)
    owner:event_register("/bell/ring")
    l2:event_listen("/bell/ring")
    owner:event_emit("/bell/ring", "ding")
    assert.are.same({ { "/bell/ring", "ding" } }, l1.seen.events)
    assert.are.same({ { "/bell/ring", "ding" } }, l2.seen.events)
    owner:disconnect()
    assert.are.equal("event", hub:ls("/bell/ring"))  -- listeners keep it
  end)

  it("lists directories through /meta/ls", function()
    local c = client(hub, { call = function() end })
    c:action_register("/lab/power/on")
    c:state_register("/lab/temp")
    assert.are.same({ "dir", { { "lab", "dir" } } }, c:action_call("/meta/ls", { "/" }))
    assert.are.same({ "dir", { { "power", "dir" }, { "temp", "state" } } },
      c:action_call("/meta/ls", { "/lab" }))
    assert.are.equal("action", c:action_call("/meta/ls", { "/lab/power/on" }))
    assert.are.equal("path_not_found", err_of(c.action_call, c, "/meta/ls", { "/nope" }))
  end)

  it("evicts a stale connection that had the same id", function()
    local closed
    local old = client(hub, { close = function(why) closed = why end, call = function() end })
    assert.are.equal("board-7", old:hello("board-7"))
    old:action_register("/board7/reset")
    local new = client(hub, { call = function() return "new" end })
    new:hello("board-7")
    assert.matches("replaced", closed)
    new:action_register("/board7/reset")
    assert.are.equal("new", client(hub):action_call("/board7/reset", {}))
    assert.matches("^hilt%-%x+%-%d+$", client(hub):hello())
  end)
end)
