return function(argv)
  local f = assert(loadfile(argv[1]))
  f(table.unpack(argv, 2))
end
