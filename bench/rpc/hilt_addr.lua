-- The hilt address of a bench ADDR (tcp:PORT on 127.0.0.1, or unix:PATH),
-- for hilt_echo.lua and hilt_stream.lua.
return function(addr)
  local port = addr:match("^tcp:(%d+)$")
  if port then
    return "tcp://127.0.0.1:" .. port
  end
  local path = addr:match("^unix:(.+)$")
  if path then
    return "unix://" .. path
  end
  error("ADDR must be tcp:PORT or unix:PATH")
end
