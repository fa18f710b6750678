// msgpack.unpack: one value from a byte string, like string.unpack. The
// bytes are decoded straight into Lua values, in one pass; they belong to
// the string argument, which stays on the stack throughout.
#include <lauxlib.h>

#include "l_msgpack.h"

// The 0-based offset of the 1-based (or negative, from the end) pos.
static size_t check_pos(lua_State *L, int idx, size_t len)
{
  lua_Integer pos = luaL_optinteger(L, idx, 1);
  if (pos < 0 && (size_t)-pos <= len) {
    pos = (lua_Integer)len + pos + 1;
  }
  luaL_argcheck(L, pos >= 1 && (size_t)pos - 1 <= len, idx,
                "initial position out of string");
  return (size_t)pos - 1;
}

// unpack(bytes [, pos [, opts]]) -> value, next_pos
int hilt__msgpack_unpack(lua_State *L)
{
  size_t len;
  luaL_checktype(L, 1, LUA_TSTRING);
  const char *s = lua_tolstring(L, 1, &len);
  size_t off = check_pos(L, 2, len);
  mp_opts_t o;
  hilt__msgpack_opts(L, 3, MP_OPT_UNPACK, &o);
  lua_settop(L, 3);
  mp_decoder_t d = {.L = L};
  int rc = hilt__msgpack_decode(&d, s, len, &off, &o);
  if (rc != MP_DECODE_OK) {
    char msg[320];
    hilt__msgpack_decode_message(&d, rc, msg, sizeof msg);
    return luaL_error(L, "msgpack.unpack: %s", msg);
  }
  lua_pushinteger(L, (lua_Integer)off + 1);
  return 2;
}
