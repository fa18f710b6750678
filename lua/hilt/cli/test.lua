-- `hilt test [busted args]`: runs Debian's busted inside the runtime. The
-- runner itself runs in the main task, so spec bodies call blocking APIs
-- (sleep, join, queue:get, remote calls) directly. A helper checks after
-- each spec that it left no task, timer or handle behind.
local core = require("hilt.core")

-- Debian installs busted's own modules for Lua 5.1 only; they are plain
-- Lua that runs on 5.4. Its dependencies are installed for 5.4.
local BUSTED_DIRS = { "/usr/share/lua/5.1", "/usr/local/share/lua/5.1" }

local function find_busted()
  for _, dir in ipairs(BUSTED_DIRS) do
    local f = io.open(dir .. "/busted/runner.lua")
    if f then
      f:close()
      return dir
    end
  end
end

local function helper_path()
  local path = package.searchpath("hilt.test.helper", package.path)
  return path
end

-- Our helper goes first; a user's --helper is loaded by ours.
local function with_helper(args)
  local out, user = {}, nil
  local i = 1
  while args[i] ~= nil do
    local a = args[i]
    if a == "--helper" then
      user, i = args[i + 1], i + 1
    elseif a:match("^%-%-helper=") then
      user = a:sub(10)
    else
      out[#out + 1] = a
    end
    i = i + 1
  end
  table.insert(out, 1, "--helper=" .. helper_path())
  return out, user
end

return function(args)
  local dir = find_busted()
  if dir == nil then
    io.stderr:write("hilt test: busted is not installed (apt-get install "
      .. "lua-busted, or run scripts/bootstrap)\n")
    return core.exit(1)
  end
  package.path = package.path .. (";%s/?.lua;%s/?/init.lua"):format(dir, dir)
  local user_helper
  args, user_helper = with_helper(args)
  package.loaded["hilt.test.user_helper"] = user_helper or false
  _G.arg = { [0] = "hilt test" }
  table.move(args, 1, #args, 1, _G.arg)
  -- busted ends with os.exit(code, true); route it through the loop so
  -- handles close and the exit status is kept.
  os.exit = function(code)
    if code == true or code == nil then
      code = 0
    elseif code == false then
      code = 1
    end
    return core.exit(code)
  end
  -- The chunk name becomes busted's program name in its messages.
  local run = load("return require('busted.runner')({ standalone = false })",
    "@hilt test")
  run()
end
