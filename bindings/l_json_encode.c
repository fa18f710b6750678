// json.encode: Lua values to a jansson tree, dumped compact with sorted
// keys.
//
// Tables are read raw, so encoding runs no Lua code. Every node joins the
// tree the moment it is made (the root is the single element of a holder
// array in the call's box), so an error raised midway leaves nothing
// unowned. Failures deep inside a value come back up as codes, each level
// adding its step to the path, and are raised once the tree is freed.
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l_json.h"
#include "mpk_path.h"

enum { ENC_OK = 0, ENC_EFAIL, ENC_ENOMEM };

typedef struct {
  lua_State *L;
  const void *mt_array, *mt_map;
  int depth;
  const void *open[JS_DEPTH_MAX];  // tables being encoded, outermost first
  int digits;      // significant digits every real needs: 15 or 17
  char what[96];   // set on failure: "cannot encode a function"
  const char *why; // "" or a parenthesised explanation
  mpk_path_t path;
} encoder_t;

static int encode_into(encoder_t *e, int idx, json_t *into, const char *k,
                       size_t kn);

static int enc_fail(encoder_t *e, const char *why, const char *fmt,
                    const char *arg)
{
  snprintf(e->what, sizeof e->what, fmt, arg);
  e->why = why;
  mpk_path_init(&e->path);
  return ENC_EFAIL;
}

static int fail_type(encoder_t *e, int idx)
{
  lua_State *L = e->L;
  int t = lua_type(L, idx);
  if (t == LUA_TUSERDATA && luaL_getmetafield(L, idx, "__name") != LUA_TNIL) {
    char name[64];
    snprintf(name, sizeof name, "userdata (%s)", lua_tostring(L, -1));
    lua_pop(L, 1);
    return enc_fail(e, "", "cannot encode a %s", name);
  }
  return enc_fail(e, "", "cannot encode a %s",
                  t == LUA_TLIGHTUSERDATA ? "light userdata"
                                          : lua_typename(L, t));
}

// Pushes the step of the key at idx onto the path of a failure.
static void path_key(encoder_t *e, int idx)
{
  lua_State *L = e->L;
  char step[40];
  size_t n;
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *s = lua_tolstring(L, idx, &n);
    mpk_path_key(&e->path, s, n);
  } else if (lua_isinteger(L, idx)) {
    mpk_path_index(&e->path, lua_tointeger(L, idx));
  } else if (lua_type(L, idx) == LUA_TNUMBER) {
    mpk_path_number(&e->path, lua_tonumber(L, idx));
  } else if (lua_type(L, idx) == LUA_TBOOLEAN) {
    mpk_path_text(&e->path, lua_toboolean(L, idx) ? "[true]" : "[false]");
  } else {
    snprintf(step, sizeof step, "[<%s>]", luaL_typename(L, idx));
    mpk_path_text(&e->path, step);
  }
}

// --- scalars ---------------------------------------------------------------------

// JSON reals are dumped with one precision for the whole value: 15
// significant digits when that reads back exactly for every real in it
// (0.1 stays "0.1"), else 17, which always does.
static json_t *new_real(encoder_t *e, double x)
{
  char buf[32];
  snprintf(buf, sizeof buf, "%.15g", x);
  if (strtod(buf, NULL) != x) {
    e->digits = 17;
  }
  return json_real(x);
}

static int new_number(encoder_t *e, int idx, json_t **out)
{
  if (lua_isinteger(e->L, idx)) {
    *out = json_integer((json_int_t)lua_tointeger(e->L, idx));
    return ENC_OK;
  }
  double x = lua_tonumber(e->L, idx);
  if (!isfinite(x)) {
    return enc_fail(e, " (JSON has no NaN or infinity)", "cannot encode %s",
                    isnan(x) ? "NaN" : x > 0 ? "inf" : "-inf");
  }
  *out = new_real(e, x);
  return ENC_OK;
}

// jansson refuses bad UTF-8 and failed allocations alike. True when
// s[0..n) is the first: only then does the unchecked constructor work.
static int bad_utf8(const char *s, size_t n)
{
  json_t *checked = json_stringn(s, n);
  json_t *raw = checked == NULL ? json_stringn_nocheck(s, n) : NULL;
  json_decref(checked);
  json_decref(raw);
  return raw != NULL;
}

static int new_string(encoder_t *e, int idx, json_t **out)
{
  size_t n;
  const char *s = lua_tolstring(e->L, idx, &n);
  *out = json_stringn(s, n);
  if (*out == NULL && bad_utf8(s, n)) {
    return enc_fail(e, " (JSON strings are UTF-8 text)", "%s",
                    "cannot encode a string that is not valid UTF-8");
  }
  return *out != NULL ? ENC_OK : ENC_ENOMEM;
}

// --- tables --------------------------------------------------------------------

// Marks the table at idx as open; fails on a cycle or too deep a nesting.
static int enter(encoder_t *e, int idx)
{
  const void *t = lua_topointer(e->L, idx);
  for (int i = 0; i < e->depth; i++) {
    if (e->open[i] == t) {
      return enc_fail(e, " (a table that contains itself)", "%s",
                      "cannot encode a reference cycle");
    }
  }
  if (e->depth >= JS_DEPTH_MAX) {
    return enc_fail(e, "", "nesting deeper than %s", "128 levels");
  }
  // A key, a value and a marker's field at each level.
  if (!lua_checkstack(e->L, 4)) {
    return ENC_ENOMEM;
  }
  e->open[e->depth++] = t;
  return ENC_OK;
}

// True when the keys of the table at idx are exactly 1..n, n >= 1.
static int is_sequence(lua_State *L, int idx, lua_Integer *n)
{
  lua_Integer count = 0, max = 0;
  int ok = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
    lua_Integer k = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    ok = ok && k > 0;
    max = k > max ? k : max;
  }
  *n = count;
  return ok && count > 0 && max == count;
}

// The elements 1..n of the table at idx, nil as null.
static int fill_array(encoder_t *e, int idx, json_t *arr, lua_Integer n)
{
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(e->L, idx, i);
    int rc = encode_into(e, lua_gettop(e->L), arr, NULL, 0);
    lua_pop(e->L, 1);
    if (rc != ENC_OK) {
      mpk_path_index(&e->path, i);
      return rc;
    }
  }
  return ENC_OK;
}

// The key at k as an object key: strings as they are, integers in
// decimal. Returns its bytes in *s, *n (buf holds an integer's).
static int object_key(encoder_t *e, int k, char *buf, size_t size,
                      const char **s, size_t *n)
{
  lua_State *L = e->L;
  if (lua_type(L, k) == LUA_TSTRING) {
    *s = lua_tolstring(L, k, n);
    return ENC_OK;
  }
  if (lua_isinteger(L, k)) {
    *n = (size_t)snprintf(buf, size, LUA_INTEGER_FMT, lua_tointeger(L, k));
    *s = buf;
    return ENC_OK;
  }
  enc_fail(e, " (JSON keys are strings; integer keys are written in decimal)",
           "cannot encode a %s key",
           lua_type(L, k) == LUA_TNUMBER ? "float" : luaL_typename(L, k));
  path_key(e, k);
  return ENC_EFAIL;
}

// All entries of the table at idx as members of obj.
static int fill_object(encoder_t *e, int idx, json_t *obj)
{
  lua_State *L = e->L;
  char buf[32];
  const char *s;
  size_t n;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int k = lua_gettop(L) - 1;
    int rc = object_key(e, k, buf, sizeof buf, &s, &n);
    if (rc == ENC_OK && json_object_getn(obj, s, n) != NULL) {
      rc = enc_fail(e, " (an integer key and a string key)",
                    "two keys are both written as \"%s\"", s);
      path_key(e, k);
    } else if (rc == ENC_OK) {
      rc = encode_into(e, k + 1, obj, s, n);
      if (rc != ENC_OK) {
        path_key(e, k);
      }
    }
    lua_pop(L, rc == ENC_OK ? 1 : 2);
    if (rc != ENC_OK) {
      return rc;
    }
  }
  return ENC_OK;
}

// The length of a table with the Array marker: its field n when present,
// else its border (#t).
static int marked_length(encoder_t *e, int idx, lua_Integer *n)
{
  int ok = 1;
  int t = lua_getfield(e->L, idx, "n");
  *n = t == LUA_TNIL ? (lua_Integer)lua_rawlen(e->L, idx)
                     : lua_tointegerx(e->L, -1, &ok);
  lua_pop(e->L, 1);
  if (!ok || *n < 0) {
    return enc_fail(e, " (n must be an integer >= 0)", "cannot encode %s",
                    "a msgpack.array with a bad n");
  }
  return ENC_OK;
}

// Decides the shape of the table at idx: the marker's, else an array when
// the keys are 1..n or there are none, else an object. *n is the length
// of an array.
static int table_shape(encoder_t *e, int idx, int *array, lua_Integer *n)
{
  const void *mt = NULL;
  if (lua_getmetatable(e->L, idx)) {
    mt = lua_topointer(e->L, -1);
    lua_pop(e->L, 1);
  }
  if (mt == e->mt_array) {
    *array = 1;
    return marked_length(e, idx, n);
  }
  if (mt == e->mt_map) {
    *array = 0;
    return ENC_OK;
  }
  *array = is_sequence(e->L, idx, n) || *n == 0;
  return ENC_OK;
}

// --- values ----------------------------------------------------------------------

// Makes the JSON value of a non-table at idx into *out.
static int new_scalar(encoder_t *e, int idx, json_t **out)
{
  switch (lua_type(e->L, idx)) {
  case LUA_TNIL:
    *out = json_null();
    return ENC_OK;
  case LUA_TBOOLEAN:
    *out = json_boolean(lua_toboolean(e->L, idx));
    return ENC_OK;
  case LUA_TNUMBER:
    return new_number(e, idx, out);
  case LUA_TSTRING:
    return new_string(e, idx, out);
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(e->L, idx) == NULL) {
      *out = json_null();  // json.null
      return ENC_OK;
    }
    return fail_type(e, idx);
  default:
    return fail_type(e, idx);
  }
}

// Adds v to the container into: under the key k[0..kn) of an object, or
// at the end of an array (k NULL). Takes v's reference.
static int attach(encoder_t *e, json_t *into, const char *k, size_t kn,
                  json_t *v)
{
  if (v == NULL) {
    return ENC_ENOMEM;
  }
  int rc = k == NULL ? json_array_append_new(into, v)
                     : json_object_setn_new(into, k, kn, v);
  if (rc == 0) {
    return ENC_OK;
  }
  if (k != NULL && bad_utf8(k, kn)) {
    return enc_fail(e, " (JSON keys are UTF-8 text)", "%s",
                    "cannot encode a key that is not valid UTF-8");
  }
  return ENC_ENOMEM;
}

static int encode_table(encoder_t *e, int idx, json_t *into, const char *k,
                        size_t kn)
{
  int array;
  lua_Integer n = 0;
  int rc = enter(e, idx);
  if (rc != ENC_OK) {
    return rc;
  }
  rc = table_shape(e, idx, &array, &n);
  if (rc == ENC_OK) {
    json_t *c = array ? json_array() : json_object();
    rc = attach(e, into, k, kn, c);
    if (rc == ENC_OK) {
      rc = array ? fill_array(e, idx, c, n) : fill_object(e, idx, c);
    }
  }
  e->depth--;
  return rc;
}

static int encode_into(encoder_t *e, int idx, json_t *into, const char *k,
                       size_t kn)
{
  json_t *v;
  if (lua_type(e->L, idx) == LUA_TTABLE) {
    return encode_table(e, idx, into, k, kn);
  }
  int rc = new_scalar(e, idx, &v);
  return rc == ENC_OK ? attach(e, into, k, kn, v) : rc;
}

// encode(value) -> string
int hilt__json_encode(lua_State *L)
{
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  jbox_t *box = hilt__json_box_new(L);
  encoder_t e = {
    .L = L,
    .mt_array = lua_topointer(L, lua_upvalueindex(JS_UV_ARRAY)),
    .mt_map = lua_topointer(L, lua_upvalueindex(JS_UV_MAP)),
    .digits = 15,
  };
  box->root = json_array();
  int rc = box->root != NULL ? encode_into(&e, 1, box->root, NULL, 0)
                             : ENC_ENOMEM;
  if (rc == ENC_OK) {
    box->out = json_dumps(json_array_get(box->root, 0),
                          JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
                              JSON_REAL_PRECISION(e.digits));
    rc = box->out != NULL ? ENC_OK : ENC_ENOMEM;
  }
  if (rc == ENC_OK) {
    lua_pushstring(L, box->out);
  }
  hilt__json_box_free(box);
  if (rc == ENC_ENOMEM) {
    return luaL_error(L, "json.encode: out of memory");
  }
  if (rc != ENC_OK) {
    return luaL_error(L, "json.encode: %s at %s%s", e.what,
                      mpk_path_get(&e.path), e.why);
  }
  return 1;
}
