// msgpack-c objects to Lua values, for unpack and the unpacker.
//
// Arrays and maps get the Array and Map markers, so that packing them
// again gives the same kinds (an empty map stays a map); an array holding
// nil also gets its length as field n. A map key Lua cannot hold (nil,
// NaN) is a failure reported with its path, never a crash. With the null
// option, nil decodes to msgpack.null, which tables can hold.
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "l_msgpack.h"

static int decode_object(mp_decoder_t *d, const msgpack_object *o,
                         int depth);

// Pushes a string. Map keys repeat from record to record, so short strings
// are kept in stack slots: a repeat costs a compare and a push instead of
// Lua hashing and interning it again.
static void decode_str(mp_decoder_t *d, const char *s, size_t n)
{
  if (n == 0 || n > MP_STRCACHE_LEN || d->cache_base == 0) {
    lua_pushlstring(d->L, s, n);
    return;
  }
  unsigned h = ((unsigned)n * 31u + (unsigned char)s[0] * 7u +
                (unsigned char)s[n - 1]) & (MP_STRCACHE - 1);
  if (d->cache[h].n == n && memcmp(d->cache[h].s, s, n) == 0) {
    lua_pushvalue(d->L, d->cache_base + (int)h);
    return;
  }
  d->cache[h].s = lua_pushlstring(d->L, s, n);
  d->cache[h].n = n;
  lua_copy(d->L, -1, d->cache_base + (int)h);
}

static int decode_fail(mp_decoder_t *d, int rc, const char *what)
{
  d->what = what;
  mpk_path_init(&d->path);
  return rc;
}

// Adds the step of map key k to the path of a failure.
static void path_key(mp_decoder_t *d, const msgpack_object *k)
{
  switch (k->type) {
  case MSGPACK_OBJECT_STR:
    mpk_path_key(&d->path, k->via.str.ptr, k->via.str.size);
    break;
  case MSGPACK_OBJECT_BIN:
    mpk_path_key(&d->path, k->via.bin.ptr, k->via.bin.size);
    break;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    mpk_path_uindex(&d->path, k->via.u64);
    break;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    mpk_path_index(&d->path, k->via.i64);
    break;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    mpk_path_number(&d->path, k->via.f64);
    break;
  case MSGPACK_OBJECT_BOOLEAN:
    mpk_path_text(&d->path, k->via.boolean ? "[true]" : "[false]");
    break;
  default:
    mpk_path_text(&d->path, k->type == MSGPACK_OBJECT_ARRAY ? "[<array>]"
                            : k->type == MSGPACK_OBJECT_MAP ? "[<map>]"
                                                            : "[<ext>]");
  }
}

static int decode_array(mp_decoder_t *d, const msgpack_object_array *a,
                        int depth)
{
  lua_State *L = d->L;
  int has_nil = 0;
  lua_createtable(L, a->size <= INT32_MAX ? (int)a->size : 0, 0);
  for (uint32_t i = 0; i < a->size; i++) {
    if (a->ptr[i].type == MSGPACK_OBJECT_NIL && !d->nil_as_null) {
      has_nil = 1;
      continue;
    }
    int rc = decode_object(d, &a->ptr[i], depth);
    if (rc != MP_DECODE_OK) {
      lua_pop(L, 1);
      mpk_path_index(&d->path, (int64_t)i + 1);
      return rc;
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  if (has_nil) {
    lua_pushinteger(L, (lua_Integer)a->size);
    lua_setfield(L, -2, "n");
  }
  lua_pushvalue(L, lua_upvalueindex(MP_UV_ARRAY));
  lua_setmetatable(L, -2);
  return MP_DECODE_OK;
}

static int check_key(mp_decoder_t *d, const msgpack_object *k)
{
  if (k->type == MSGPACK_OBJECT_NIL && !d->nil_as_null) {
    return decode_fail(d, MP_DECODE_EKEY,
                       "map has a nil key, which a Lua table cannot hold,");
  }
  if ((k->type == MSGPACK_OBJECT_FLOAT64 ||
       k->type == MSGPACK_OBJECT_FLOAT32) &&
      isnan(k->via.f64)) {
    return decode_fail(d, MP_DECODE_EKEY,
                       "map has a NaN key, which a Lua table cannot hold,");
  }
  return MP_DECODE_OK;
}

// Pushes the key and the value of kv, or nothing on failure.
static int decode_pair(mp_decoder_t *d, const msgpack_object_kv *kv,
                       int depth)
{
  int rc = check_key(d, &kv->key);
  if (rc != MP_DECODE_OK) {
    return rc;
  }
  rc = decode_object(d, &kv->key, depth);
  if (rc != MP_DECODE_OK) {
    // The key itself holds the failure: no key step fits, so say so.
    mpk_path_text(&d->path, ".<key>");
    return rc;
  }
  rc = decode_object(d, &kv->val, depth);
  if (rc != MP_DECODE_OK) {
    lua_pop(d->L, 1);
    path_key(d, &kv->key);
  }
  return rc;
}

static int decode_map(mp_decoder_t *d, const msgpack_object_map *m,
                      int depth)
{
  lua_State *L = d->L;
  lua_createtable(L, 0, m->size <= INT32_MAX ? (int)m->size : 0);
  for (uint32_t i = 0; i < m->size; i++) {
    int rc = decode_pair(d, &m->ptr[i], depth);
    if (rc != MP_DECODE_OK) {
      lua_pop(L, 1);
      return rc;
    }
    lua_rawset(L, -3);
  }
  lua_pushvalue(L, lua_upvalueindex(MP_UV_MAP));
  lua_setmetatable(L, -2);
  return MP_DECODE_OK;
}

static int decode_container(mp_decoder_t *d, const msgpack_object *o,
                            int depth)
{
  if (depth >= d->max_depth) {
    return decode_fail(d, MP_DECODE_EDEPTH, "nesting too deep");
  }
  if (o->type == MSGPACK_OBJECT_ARRAY) {
    return decode_array(d, &o->via.array, depth + 1);
  }
  return decode_map(d, &o->via.map, depth + 1);
}

static void decode_uint(mp_decoder_t *d, uint64_t u)
{
  if (u <= (uint64_t)LUA_MAXINTEGER) {
    lua_pushinteger(d->L, (lua_Integer)u);
  } else {
    hilt__msgpack_push_uint64(d->L, u);
  }
}

static int decode_object(mp_decoder_t *d, const msgpack_object *o, int depth)
{
  lua_State *L = d->L;
  switch (o->type) {
  case MSGPACK_OBJECT_NIL:
    if (d->nil_as_null) {
      lua_pushlightuserdata(L, NULL);
    } else {
      lua_pushnil(L);
    }
    break;
  case MSGPACK_OBJECT_BOOLEAN:
    lua_pushboolean(L, o->via.boolean);
    break;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    decode_uint(d, o->via.u64);
    break;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    lua_pushinteger(L, (lua_Integer)o->via.i64);
    break;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    lua_pushnumber(L, (lua_Number)o->via.f64);
    break;
  case MSGPACK_OBJECT_STR:
    decode_str(d, o->via.str.ptr, o->via.str.size);
    break;
  case MSGPACK_OBJECT_BIN:
    if (d->binary_as_string) {
      lua_pushlstring(L, o->via.bin.ptr, o->via.bin.size);
    } else {
      hilt__msgpack_push_binary(L, o->via.bin.ptr, o->via.bin.size);
    }
    break;
  case MSGPACK_OBJECT_EXT:
    hilt__msgpack_push_ext(L, o->via.ext.type, o->via.ext.ptr,
                           o->via.ext.size);
    break;
  default:
    return decode_container(d, o, depth);
  }
  return MP_DECODE_OK;
}

int hilt__msgpack_decode(mp_decoder_t *d, const msgpack_object *o,
                         const mp_opts_t *opts)
{
  d->max_depth = opts->max_depth;
  d->binary_as_string = opts->binary_as_string;
  d->nil_as_null = opts->nil_as_null;
  d->what = NULL;
  d->cache_base = 0;
  if (o->type != MSGPACK_OBJECT_ARRAY && o->type != MSGPACK_OBJECT_MAP) {
    return decode_object(d, o, 0);
  }
  // Each level of nesting holds a table and a key, and a value or a
  // metatable for a moment; the string cache takes its slots below them.
  luaL_checkstack(d->L, 3 * (d->max_depth + 1) + MP_STRCACHE,
                  "msgpack.unpack");
  d->cache_base = lua_gettop(d->L) + 1;
  lua_settop(d->L, d->cache_base + MP_STRCACHE - 1);
  memset(d->cache, 0, sizeof d->cache);
  int rc = decode_object(d, o, 0);
  if (rc == MP_DECODE_OK) {
    lua_replace(d->L, d->cache_base);
  }
  lua_settop(d->L, d->cache_base - (rc != MP_DECODE_OK));
  return rc;
}

void hilt__msgpack_decode_message(mp_decoder_t *d, int rc, char *out,
                                  size_t n)
{
  if (rc == MP_DECODE_EDEPTH) {
    snprintf(out, n, "nesting deeper than %d level%s at %s", d->max_depth,
             d->max_depth == 1 ? "" : "s", mpk_path_get(&d->path));
  } else {
    snprintf(out, n, "%s at %s", d->what, mpk_path_get(&d->path));
  }
}

const char *hilt__msgpack_decode_code(int rc)
{
  return rc == MP_DECODE_EDEPTH ? "too_deep" : "bad_key";
}
