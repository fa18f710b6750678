// UInt64: an unsigned 64-bit integer that a Lua integer cannot hold.
// msgpack uint64 values above 2^63-1 decode to one; msgpack.uint64(x)
// makes one to pack. It is a full userdata holding the value, so tostring
// gives the exact decimal and ==, <, <= compare two of them.
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>

#include "l_msgpack.h"

static uint64_t *check_uint64(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, MP_MT_UINT64);
}

void hilt__msgpack_push_uint64(lua_State *L, uint64_t v)
{
  uint64_t *box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = v;
  lua_pushvalue(L, lua_upvalueindex(MP_UV_UINT64));
  lua_setmetatable(L, -2);
}

// Parses a decimal string of digits only. Returns 0 if it is not one or
// does not fit in 64 bits.
static int parse_decimal(const char *s, size_t n, uint64_t *out)
{
  uint64_t v = 0;
  if (n == 0) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (d > 9 || v > (UINT64_MAX - d) / 10) {
      return 0;
    }
    v = v * 10 + d;
  }
  *out = v;
  return 1;
}

// uint64(x): x a non-negative integer, a decimal string such as
// "18446744073709551615", or a UInt64.
int hilt__msgpack_uint64_new(lua_State *L)
{
  uint64_t v = 0;
  if (luaL_testudata(L, 1, MP_MT_UINT64) != NULL) {
    v = *(uint64_t *)lua_touserdata(L, 1);
  } else if (lua_type(L, 1) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    luaL_argcheck(L, parse_decimal(s, n, &v), 1,
                  "not a decimal integer in 0..18446744073709551615");
  } else {
    lua_Integer i = luaL_checkinteger(L, 1);
    luaL_argcheck(L, i >= 0, 1, "must be >= 0");
    v = (uint64_t)i;
  }
  hilt__msgpack_push_uint64(L, v);
  return 1;
}

static int uint64_tostring(lua_State *L)
{
  char s[24];
  snprintf(s, sizeof s, "%" PRIu64, *check_uint64(L, 1));
  lua_pushstring(L, s);
  return 1;
}

static int uint64_eq(lua_State *L)
{
  lua_pushboolean(L, *check_uint64(L, 1) == *check_uint64(L, 2));
  return 1;
}

static int uint64_lt(lua_State *L)
{
  lua_pushboolean(L, *check_uint64(L, 1) < *check_uint64(L, 2));
  return 1;
}

static int uint64_le(lua_State *L)
{
  lua_pushboolean(L, *check_uint64(L, 1) <= *check_uint64(L, 2));
  return 1;
}

void hilt__msgpack_uint64_open(lua_State *L)
{
  static const luaL_Reg meta[] = {
    {"__tostring", uint64_tostring},
    {"__eq", uint64_eq},
    {"__lt", uint64_lt},
    {"__le", uint64_le},
    {NULL, NULL},
  };
  luaL_newmetatable(L, MP_MT_UINT64);
  luaL_setfuncs(L, meta, 0);
}
