// hilt.msgpack: MessagePack for Lua, built on msgpack-c (docs/msgpack.md).
// This file opens the module and holds the array and map markers; the
// other l_msgpack_*.c files are listed in l_msgpack.h.
#include <lauxlib.h>

#include "bind.h"
#include "l_msgpack.h"
#include "mpk_scan.h"

#define MP_UPVALUES "hilt.msgpack.upvalues"

void hilt__msgpack_push_upvalues(lua_State *L)
{
  luaL_checkstack(L, MP_NUP + 1, "msgpack");
  lua_getfield(L, LUA_REGISTRYINDEX, MP_UPVALUES);
  for (int i = 1; i <= MP_NUP; i++) {
    lua_rawgeti(L, -i, i);
  }
  lua_remove(L, -MP_NUP - 1);
}

void hilt__msgpack_setfuncs(lua_State *L, int uv, const luaL_Reg *funcs)
{
  luaL_checkstack(L, MP_NUP, "msgpack");
  for (int i = 0; i < MP_NUP; i++) {
    lua_pushvalue(L, uv + i);
  }
  luaL_setfuncs(L, funcs, MP_NUP);
}

// Gives the table at arg 1 (a new one if none) the marker metatable of
// upvalue uv. A table may switch between Array and Map, nothing else.
static void set_marker(lua_State *L, int uv)
{
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 2);
    lua_newtable(L);
    lua_replace(L, 1);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_getmetatable(L, 1)) {
    int ours = lua_rawequal(L, -1, lua_upvalueindex(MP_UV_ARRAY)) ||
               lua_rawequal(L, -1, lua_upvalueindex(MP_UV_MAP));
    luaL_argcheck(L, ours, 1, "table already has a metatable");
    lua_pop(L, 1);
  }
  lua_pushvalue(L, lua_upvalueindex(uv));
  lua_setmetatable(L, 1);
}

// array([t [, n]]) -> t, marked to pack as an array of n elements (n
// defaults to t.n, else #t), nil for every missing one.
static int l_array(lua_State *L)
{
  int has_n = !lua_isnoneornil(L, 2);
  lua_Integer n = has_n ? luaL_checkinteger(L, 2) : 0;
  luaL_argcheck(L, n >= 0 && n <= UINT32_MAX, 2,
                "length must be in 0..4294967295");
  set_marker(L, MP_UV_ARRAY);
  if (has_n) {
    lua_pushinteger(L, n);
    lua_setfield(L, 1, "n");
  }
  lua_settop(L, 1);
  return 1;
}

// map([t]) -> t, marked to pack as a map even when empty or a sequence.
static int l_map(lua_State *L)
{
  set_marker(L, MP_UV_MAP);
  lua_settop(L, 1);
  return 1;
}

int luaopen_hilt_msgpack(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"pack", hilt__msgpack_pack},
    {"unpack", hilt__msgpack_unpack},
    {"unpacker", hilt__msgpack_unpacker_new},
    {"array", l_array},
    {"map", l_map},
    {"binary", hilt__msgpack_binary},
    {"is_binary", hilt__msgpack_is_binary},
    {"ext", hilt__msgpack_ext},
    {"float32", hilt__msgpack_float32},
    {"uint64", hilt__msgpack_uint64_new},
    {"kind", hilt__msgpack_kind},
    {NULL, NULL},
  };
  lua_newtable(L);
  int mod = lua_gettop(L);
  // The upvalues, in the order of MP_UV_*.
  luaL_newmetatable(L, MP_MT_ARRAY);
  luaL_newmetatable(L, MP_MT_MAP);
  hilt__msgpack_types_open(L);
  hilt__msgpack_uint64_open(L);
  hilt__msgpack_packbox_new(L);
  // Kept for other bindings' closures (hilt__msgpack_push_upvalues).
  lua_createtable(L, MP_NUP, 0);
  for (int i = 1; i <= MP_NUP; i++) {
    lua_pushvalue(L, mod + i);
    lua_rawseti(L, -2, i);
  }
  lua_setfield(L, LUA_REGISTRYINDEX, MP_UPVALUES);
  lua_pushvalue(L, mod);
  hilt__msgpack_setfuncs(L, mod + 1, funcs);
  lua_pop(L, 1);
  hilt__msgpack_unpacker_open(L, mod + 1);
  lua_settop(L, mod);
  lua_pushinteger(L, MPK_DEPTH_MAX);
  lua_setfield(L, -2, "max_depth");
  // Stands for nil where Lua cannot hold one (a map value); packs as nil.
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  return 1;
}
