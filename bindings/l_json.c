// hilt.json: JSON for Lua, built on jansson (docs/json-http.md). This file
// opens the module and decodes; l_json_encode.c encodes.
//
// JSON arrays and objects decode to tables carrying hilt.msgpack's Array
// and Map markers, and null to json.null (msgpack.null), so a value read
// as JSON goes out as msgpack in the same shape, and back.
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "bind.h"
#include "l_json.h"
#include "l_msgpack.h"

#define BOX_MT "hilt.json.Box"

// --- the box -------------------------------------------------------------------

void hilt__json_box_free(jbox_t *box)
{
  json_decref(box->root);
  box->root = NULL;
  // jansson allocates with malloc unless told otherwise, and hilt never
  // tells it otherwise.
  free(box->out);
  box->out = NULL;
}

static int box_gc(lua_State *L)
{
  hilt__json_box_free(lua_touserdata(L, 1));
  return 0;
}

jbox_t *hilt__json_box_new(lua_State *L)
{
  jbox_t *box = lua_newuserdatauv(L, sizeof *box, 0);
  box->root = NULL;
  box->out = NULL;
  lua_pushvalue(L, lua_upvalueindex(JS_UV_BOX));
  lua_setmetatable(L, -2);
  return box;
}

// --- decode --------------------------------------------------------------------

typedef struct {
  lua_State *L;
  int max_depth;
} decoder_t;

static int push_value(decoder_t *d, json_t *v, int depth);

// Pushes a table with the marker metatable of upvalue uv; fails when it
// would be one level too many.
static int push_container(decoder_t *d, int depth, int narr, int nrec,
                          int uv)
{
  if (depth >= d->max_depth || !lua_checkstack(d->L, 3)) {
    return -1;
  }
  lua_createtable(d->L, narr, nrec);
  lua_pushvalue(d->L, lua_upvalueindex(uv));
  lua_setmetatable(d->L, -2);
  return 0;
}

static int push_array(decoder_t *d, json_t *v, int depth)
{
  size_t n = json_array_size(v);
  if (push_container(d, depth, (int)n, 0, JS_UV_ARRAY) != 0) {
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    if (push_value(d, json_array_get(v, i), depth + 1) != 0) {
      return -1;
    }
    lua_rawseti(d->L, -2, (lua_Integer)i + 1);
  }
  return 0;
}

static int push_object(decoder_t *d, json_t *v, int depth)
{
  const char *key;
  size_t n;
  json_t *item;
  if (push_container(d, depth, 0, (int)json_object_size(v), JS_UV_MAP) != 0) {
    return -1;
  }
  json_object_keylen_foreach(v, key, n, item)
  {
    lua_pushlstring(d->L, key, n);
    if (push_value(d, item, depth + 1) != 0) {
      return -1;
    }
    lua_rawset(d->L, -3);
  }
  return 0;
}

// Pushes v; returns 0, or -1 when nested deeper than max_depth (leaving
// the stack to the caller to reset).
static int push_value(decoder_t *d, json_t *v, int depth)
{
  lua_State *L = d->L;
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return push_object(d, v, depth);
  case JSON_ARRAY:
    return push_array(d, v, depth);
  case JSON_STRING:
    lua_pushlstring(L, json_string_value(v), json_string_length(v));
    return 0;
  case JSON_INTEGER:
    lua_pushinteger(L, (lua_Integer)json_integer_value(v));
    return 0;
  case JSON_REAL:
    lua_pushnumber(L, (lua_Number)json_real_value(v));
    return 0;
  case JSON_TRUE:
  case JSON_FALSE:
    lua_pushboolean(L, json_is_true(v));
    return 0;
  default:
    lua_pushlightuserdata(L, NULL);  // json.null
    return 0;
  }
}

// The short name of a jansson failure, for scripts.
static const char *error_code(const json_error_t *err)
{
  switch (json_error_code(err)) {
  case json_error_premature_end_of_input:
    return "truncated";
  case json_error_stack_overflow:
    return "too_deep";
  case json_error_out_of_memory:
    return "no_memory";
  default:
    return "malformed";
  }
}

static int check_decode_opts(lua_State *L, int idx)
{
  int ok = 1;
  lua_Integer depth = JS_DEPTH_MAX;
  if (lua_isnoneornil(L, idx)) {
    return JS_DEPTH_MAX;
  }
  luaL_checktype(L, idx, LUA_TTABLE);
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING ||
        strcmp(lua_tostring(L, -2), "max_depth") != 0) {
      luaL_argerror(L, idx,
                    lua_pushfstring(L, "unknown option '%s'",
                                    luaL_tolstring(L, -2, NULL)));
    }
  }
  if (lua_getfield(L, idx, "max_depth") != LUA_TNIL) {
    depth = lua_tointegerx(L, -1, &ok);
  }
  if (!ok || depth < 0 || depth > JS_DEPTH_MAX) {
    luaL_argerror(L, idx, "option 'max_depth' must be an integer in 0..128");
  }
  lua_pop(L, 1);
  return (int)depth;
}

// decode(s [, opts]) -> value | nil, message, code
static int l_decode(lua_State *L)
{
  size_t n;
  json_error_t err;
  const char *s = luaL_checklstring(L, 1, &n);
  decoder_t d = {.L = L, .max_depth = check_decode_opts(L, 2)};
  lua_settop(L, 2);
  jbox_t *box = hilt__json_box_new(L);
  box->root = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (box->root == NULL) {
    lua_pushnil(L);
    lua_pushfstring(L, "bad JSON at line %d, column %d: %s", err.line,
                    err.column, err.text);
    lua_pushstring(L, error_code(&err));
    return 3;
  }
  int rc = push_value(&d, box->root, 0);
  hilt__json_box_free(box);
  if (rc != 0) {
    lua_settop(L, 2);
    lua_pushnil(L);
    lua_pushfstring(L, "bad JSON: nesting deeper than %d level%s",
                    d.max_depth, d.max_depth == 1 ? "" : "s");
    lua_pushliteral(L, "too_deep");
    return 3;
  }
  return 1;
}

int luaopen_hilt_json(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"decode", l_decode},
    {"encode", hilt__json_encode},
    {NULL, NULL},
  };
  // The markers and their functions are hilt.msgpack's own.
  luaL_requiref(L, "hilt.msgpack", luaopen_hilt_msgpack, 0);
  int msgpack = lua_gettop(L);
  lua_createtable(L, 0, 6);
  luaL_getmetatable(L, MP_MT_ARRAY);
  luaL_getmetatable(L, MP_MT_MAP);
  luaL_newmetatable(L, BOX_MT);
  lua_pushcfunction(L, box_gc);
  lua_setfield(L, -2, "__gc");
  luaL_setfuncs(L, funcs, JS_NUP);
  lua_getfield(L, msgpack, "array");
  lua_setfield(L, -2, "array");
  lua_getfield(L, msgpack, "map");
  lua_setfield(L, -2, "map");
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  lua_pushinteger(L, JS_DEPTH_MAX);
  lua_setfield(L, -2, "max_depth");
  return 1;
}
