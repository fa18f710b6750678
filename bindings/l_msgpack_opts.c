// The options tables of pack, unpack and unpacker. Misspelt options raise,
// so a typo such as {maxdepth = 4} is not silently ignored.
#include <lauxlib.h>
#include <string.h>

#include "l_msgpack.h"
#include "mpk_scan.h"

typedef struct {
  const char *name;
  int which;  // MP_OPT_* that accept it
} opt_name_t;

static const opt_name_t opt_names[] = {
  {"max_depth", MP_OPT_PACK | MP_OPT_UNPACK | MP_OPT_STREAM},
  {"empty", MP_OPT_PACK},
  {"binary", MP_OPT_UNPACK | MP_OPT_STREAM},
  {"null", MP_OPT_UNPACK | MP_OPT_STREAM},
  {"max_size", MP_OPT_STREAM},
  {NULL, 0},
};

static void check_names(lua_State *L, int idx, int which)
{
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    const opt_name_t *o = opt_names;
    while (o->name != NULL && (strcmp(o->name, k) != 0 || !(o->which & which))) {
      o++;
    }
    if (o->name == NULL) {
      luaL_argerror(L, idx,
                    lua_pushfstring(L, "unknown option '%s'",
                                    luaL_tolstring(L, -1, NULL)));
    }
  }
}

static int opt_choice(lua_State *L, int idx, const char *field,
                      const char *no, const char *yes, int dflt)
{
  int is_yes = dflt;
  if (lua_getfield(L, idx, field) != LUA_TNIL) {
    const char *v = lua_tostring(L, -1);
    if (v != NULL && strcmp(v, yes) == 0) {
      is_yes = 1;
    } else if (v != NULL && strcmp(v, no) == 0) {
      is_yes = 0;
    } else {
      luaL_argerror(L, idx,
                    lua_pushfstring(L, "option '%s' must be \"%s\" or \"%s\"",
                                    field, no, yes));
    }
  }
  lua_pop(L, 1);
  return is_yes;
}

static int opt_bool(lua_State *L, int idx, const char *field)
{
  int t = lua_getfield(L, idx, field);
  if (t != LUA_TNIL && t != LUA_TBOOLEAN) {
    luaL_argerror(L, idx,
                  lua_pushfstring(L, "option '%s' must be a boolean", field));
  }
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static lua_Integer opt_int(lua_State *L, int idx, const char *field,
                          lua_Integer lo, lua_Integer hi, lua_Integer dflt)
{
  lua_Integer v = dflt;
  if (lua_getfield(L, idx, field) != LUA_TNIL) {
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < lo || v > hi) {
      luaL_argerror(L, idx,
                    lua_pushfstring(L, "option '%s' must be an integer in "
                                       "%I..%I",
                                    field, lo, hi));
    }
  }
  lua_pop(L, 1);
  return v;
}

void hilt__msgpack_opts(lua_State *L, int idx, int which, mp_opts_t *o)
{
  o->max_depth = MPK_DEPTH_MAX;
  o->empty_as_map = 0;
  o->binary_as_string = 0;
  o->nil_as_null = 0;
  o->max_size = 0;
  if (lua_isnoneornil(L, idx)) {
    return;
  }
  luaL_checktype(L, idx, LUA_TTABLE);
  check_names(L, idx, which);
  o->max_depth = (int)opt_int(L, idx, "max_depth", 0, MPK_DEPTH_MAX,
                              MPK_DEPTH_MAX);
  if (which & MP_OPT_PACK) {
    o->empty_as_map = opt_choice(L, idx, "empty", "array", "map", 0);
  }
  if (which & (MP_OPT_UNPACK | MP_OPT_STREAM)) {
    o->binary_as_string = opt_choice(L, idx, "binary", "object", "string", 0);
    o->nil_as_null = opt_bool(L, idx, "null");
  }
  if (which & MP_OPT_STREAM) {
    o->max_size = (size_t)opt_int(L, idx, "max_size", 0, LUA_MAXINTEGER, 0);
  }
}
