-- hilt.registry: finds driver classes by type name ("power.sim") and client
-- classes by client name ("power"). Shipped ones live in drivers/ next to
-- lua/ (drivers/power/sim.lua, drivers/power/client.lua); a type that is
-- neither registered nor shipped is tried as a Lua module, so a config can
-- name its own drivers ("mylab.relay" -> require("mylab.relay")).
local driver = require("hilt.driver")

local M = {}

-- The shipped types, for messages that list what exists.
M.SHIPPED = { "composite", "console.sim", "console.tcp", "net.tcp", "net.unix",
  "power.command", "power.sim", "serial", "shell" }

local function root_dir()
  local init = package.searchpath("hilt", package.path)
  return init and init:match("^(.*)/lua/hilt/init%.lua$")
end

--- drivers_dir() -> where the shipped drivers are: drivers/ beside the
--- directory that holds hilt/init.lua (the source tree's lua/, or an
--- install's share/hilt/lua/), or $HILT_DRIVERS_DIR.
function M.drivers_dir()
  if M._dir == nil then
    local root = root_dir()
    M._dir = os.getenv("HILT_DRIVERS_DIR") or (root and (root .. "/drivers"))
      or false
  end
  return M._dir or nil
end

local function load_shipped(rel)
  local dir = M.drivers_dir()
  if not dir then
    return nil
  end
  local file = dir .. "/" .. rel .. ".lua"
  local f = io.open(file)
  if not f then
    return nil
  end
  f:close()
  local chunk, err = loadfile(file)
  if not chunk then
    error(err, 0)
  end
  return chunk() or true
end

local function require_module(name)
  local ok, res = pcall(require, name)
  if ok then
    return res
  end
  if type(res) == "string" and res:find("module '" .. name .. "' not found", 1, true) then
    return nil
  end
  error(res, 0)
end

--- driver_class(type_name) -> Class, or nil and a message saying what
--- exists. A driver file that fails to load raises its error.
function M.driver_class(type_name)
  local cls = driver.find(type_name)
  if cls then
    return cls
  end
  local res = load_shipped(type_name:gsub("%.", "/"))
  if res == nil then
    res = require_module(type_name)
  end
  cls = driver.find(type_name)
  if cls == nil and type(res) == "table" and rawget(res, "exports") then
    cls = res
  end
  if cls then
    return cls
  end
  local near = driver.nearest(type_name, M.SHIPPED)
  return nil, ("unknown driver type '%s' (%sshipped: %s; or a Lua module "
    .. "that defines it)"):format(type_name,
    near and ("did you mean '" .. near .. "'? ") or "",
    table.concat(M.SHIPPED, ", "))
end

local clients = {}

--- client_class(name) -> the client class for a driver's `client` name,
--- or nil when hilt has none (the caller falls back to the generic one).
function M.client_class(name)
  if clients[name] ~= nil then
    return clients[name] or nil
  end
  local ok, res = pcall(load_shipped, name:gsub("%.", "/") .. "/client")
  if ok and type(res) == "table" then
    clients[name] = res
  else
    if not ok then
      require("hilt.log").warn("client class '%s' failed to load: %s", name,
        tostring(res))
    end
    clients[name] = false
  end
  return clients[name] or nil
end

--- register_client(name, class): a client class made in a script.
function M.register_client(name, cls)
  clients[name] = cls
end

return M
