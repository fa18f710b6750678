// Placeholder until the msgpack binding lands.
#include <lauxlib.h>
#include "bind.h"
int luaopen_hilt_msgpack(lua_State *L)
{
  lua_newtable(L);
  return 1;
}
