// The value types of hilt.msgpack for msgpack kinds that Lua lacks:
// Binary (bin bytes), Ext (an extension type and its bytes) and Float32 (a
// number to pack as float32). Each is a plain table, {data=}, {type=,
// data=} or {value=}, with a metatable: fields read as fields, and __eq
// makes equal contents compare equal.
#include <lauxlib.h>

#include "l_msgpack.h"

static int has_mt(lua_State *L, int idx, const char *name)
{
  if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) {
    return 0;
  }
  luaL_getmetatable(L, name);
  int is = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return is;
}

// Pushes the field of the table at idx only if it holds a string.
static const char *get_bytes(lua_State *L, int idx, const char *field,
                             size_t *n)
{
  lua_getfield(L, idx, field);
  if (lua_type(L, -1) != LUA_TSTRING) {
    lua_pop(L, 1);
    return NULL;
  }
  return lua_tolstring(L, -1, n);
}

// --- Binary -------------------------------------------------------------------

void hilt__msgpack_push_binary(lua_State *L, const char *s, size_t n)
{
  lua_createtable(L, 0, 1);
  lua_pushlstring(L, s, n);
  lua_setfield(L, -2, "data");
  lua_pushvalue(L, lua_upvalueindex(MP_UV_BINARY));
  lua_setmetatable(L, -2);
}

// binary(s) -> Binary; binary(Binary) -> the same Binary.
int hilt__msgpack_binary(lua_State *L)
{
  lua_settop(L, 1);
  if (has_mt(L, 1, MP_MT_BINARY)) {
    return 1;
  }
  luaL_checktype(L, 1, LUA_TSTRING);
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "data");
  lua_pushvalue(L, lua_upvalueindex(MP_UV_BINARY));
  lua_setmetatable(L, -2);
  return 1;
}

int hilt__msgpack_is_binary(lua_State *L)
{
  lua_pushboolean(L, has_mt(L, 1, MP_MT_BINARY));
  return 1;
}

static int binary_tostring(lua_State *L)
{
  size_t n;
  if (get_bytes(L, 1, "data", &n) == NULL) {
    lua_pushliteral(L, "msgpack.binary(invalid)");
  }
  return 1;
}

static int binary_len(lua_State *L)
{
  size_t n = 0;
  get_bytes(L, 1, "data", &n);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

static int binary_eq(lua_State *L)
{
  size_t n1, n2;
  const char *a = get_bytes(L, 1, "data", &n1);
  const char *b = get_bytes(L, 2, "data", &n2);
  lua_pushboolean(L, a != NULL && b != NULL && lua_rawequal(L, -1, -2));
  return 1;
}

// b .. x and x .. b concatenate the bytes, like strings.
static int binary_concat(lua_State *L)
{
  for (int i = 1; i <= 2; i++) {
    size_t n;
    if (has_mt(L, i, MP_MT_BINARY) && get_bytes(L, i, "data", &n) != NULL) {
      lua_replace(L, i);
    }
  }
  luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  lua_settop(L, 2);
  lua_concat(L, 2);
  return 1;
}

// --- Ext ------------------------------------------------------------------------

void hilt__msgpack_push_ext(lua_State *L, int type, const char *s, size_t n)
{
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, type);
  lua_setfield(L, -2, "type");
  lua_pushlstring(L, s, n);
  lua_setfield(L, -2, "data");
  lua_pushvalue(L, lua_upvalueindex(MP_UV_EXT));
  lua_setmetatable(L, -2);
}

// ext(type, data) -> Ext, type an integer in -128..127.
int hilt__msgpack_ext(lua_State *L)
{
  lua_Integer type = luaL_checkinteger(L, 1);
  luaL_argcheck(L, type >= -128 && type <= 127, 1,
                "ext type must be in -128..127");
  luaL_checktype(L, 2, LUA_TSTRING);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, type);
  lua_setfield(L, -2, "type");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "data");
  lua_pushvalue(L, lua_upvalueindex(MP_UV_EXT));
  lua_setmetatable(L, -2);
  return 1;
}

static int ext_tostring(lua_State *L)
{
  size_t n = 0;
  lua_getfield(L, 1, "type");
  get_bytes(L, 1, "data", &n);
  lua_pushfstring(L, "msgpack.ext(%d, %d bytes)", (int)lua_tointeger(L, 2),
                  (int)n);
  return 1;
}

static int ext_eq(lua_State *L)
{
  size_t n;
  lua_getfield(L, 1, "type");
  lua_getfield(L, 2, "type");
  int eq = lua_rawequal(L, -1, -2);
  const char *a = get_bytes(L, 1, "data", &n);
  const char *b = get_bytes(L, 2, "data", &n);
  lua_pushboolean(L, eq && a != NULL && b != NULL && lua_rawequal(L, -1, -2));
  return 1;
}

// --- Float32 ---------------------------------------------------------------------

// float32(x) -> Float32 whose value is x rounded to single precision, the
// number the receiver will see.
int hilt__msgpack_float32(lua_State *L)
{
  lua_Number x = luaL_checknumber(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushnumber(L, (lua_Number)(float)x);
  lua_setfield(L, -2, "value");
  lua_pushvalue(L, lua_upvalueindex(MP_UV_FLOAT32));
  lua_setmetatable(L, -2);
  return 1;
}

static int float32_tostring(lua_State *L)
{
  lua_getfield(L, 1, "value");
  lua_pushfstring(L, "msgpack.float32(%s)", luaL_tolstring(L, -1, NULL));
  return 1;
}

static int float32_eq(lua_State *L)
{
  lua_getfield(L, 1, "value");
  lua_getfield(L, 2, "value");
  lua_pushboolean(L, lua_compare(L, -1, -2, LUA_OPEQ));
  return 1;
}

// ---------------------------------------------------------------------------------

static void new_mt(lua_State *L, const char *name, const luaL_Reg *meta)
{
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
}

void hilt__msgpack_types_open(lua_State *L)
{
  static const luaL_Reg binary_meta[] = {
    {"__tostring", binary_tostring}, {"__len", binary_len},
    {"__eq", binary_eq},             {"__concat", binary_concat},
    {NULL, NULL},
  };
  static const luaL_Reg ext_meta[] = {
    {"__tostring", ext_tostring},
    {"__eq", ext_eq},
    {NULL, NULL},
  };
  static const luaL_Reg float32_meta[] = {
    {"__tostring", float32_tostring},
    {"__eq", float32_eq},
    {NULL, NULL},
  };
  new_mt(L, MP_MT_BINARY, binary_meta);
  new_mt(L, MP_MT_EXT, ext_meta);
  new_mt(L, MP_MT_FLOAT32, float32_meta);
}
