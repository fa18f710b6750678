// msgpack bytes to Lua values, for unpack and the unpacker: one pass over
// the bytes with mpk_item, building tables as it goes. A container's count
// is checked against the bytes left before a table is sized from it, so a
// hostile header costs nothing.
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
#include "mpk_item.h"

static int decode_value(mp_decoder_t *d, size_t *pos, int depth);

// Pushes a string. Map keys repeat from record to record, so short strings
// are kept in stack slots: a repeat costs a compare and a push instead of
// Lua hashing and interning it again.
// Keys are a few bytes long: a byte loop beats a call to memcmp.
static inline int same_bytes(const char *a, const char *b, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (a[i] != b[i]) {
      return 0;
    }
  }
  return 1;
}

static void decode_str(mp_decoder_t *d, const char *s, size_t n)
{
  if (n == 0 || n > MP_STRCACHE_LEN || d->cache_base == 0) {
    lua_pushlstring(d->L, s, n);
    return;
  }
  unsigned h = ((unsigned)n * 31u + (unsigned char)s[0] * 7u +
                (unsigned char)s[n - 1]) & (MP_STRCACHE - 1);
  if (d->cache[h].n == n && same_bytes(d->cache[h].s, s, n)) {
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
static void path_key(mp_decoder_t *d, const mpk_item_t *k)
{
  switch (k->kind) {
  case MPK_STR:
  case MPK_BIN:
    mpk_path_key(&d->path, k->p, k->n);
    break;
  case MPK_UINT:
    mpk_path_uindex(&d->path, k->v.u);
    break;
  case MPK_INT:
    mpk_path_index(&d->path, k->v.i);
    break;
  case MPK_FLOAT32:
  case MPK_FLOAT64:
    mpk_path_number(&d->path, k->v.f);
    break;
  case MPK_BOOL:
    mpk_path_text(&d->path, k->v.b ? "[true]" : "[false]");
    break;
  default:
    mpk_path_text(&d->path, k->kind == MPK_ARRAY ? "[<array>]"
                            : k->kind == MPK_MAP ? "[<map>]"
                                                 : "[<ext>]");
  }
}

// Bytes that end too soon or start no value.
static int bytes_fail(mp_decoder_t *d, int code, size_t at)
{
  d->err.code = code;
  d->err.start = d->start;
  d->err.given = d->len - d->start;
  d->err.at = at;
  d->err.limit = 0;
  d->err.byte = code == MPK_EBADBYTE ? (unsigned char)d->p[at] : 0;
  mpk_path_init(&d->path);
  return MP_DECODE_EBYTES;
}

// Reads the next item, or fails with what is wrong with its bytes.
static inline int next_item(mp_decoder_t *d, size_t *pos, mpk_item_t *it)
{
  int rc = mpk_item_read(d->p, d->len, pos, it);
  return rc == MPK_OK ? MP_DECODE_OK : bytes_fail(d, rc, *pos);
}

static int decode_array(mp_decoder_t *d, uint32_t n, size_t *pos,
                        int depth)
{
  lua_State *L = d->L;
  int has_nil = 0;
  lua_createtable(L, n <= INT32_MAX ? (int)n : 0, 0);
  for (uint32_t i = 0; i < n; i++) {
    if (*pos < d->len && d->p[*pos] == '\xc0' && !d->nil_as_null) {
      has_nil = 1;
      *pos += 1;
      continue;
    }
    int rc = decode_value(d, pos, depth);
    if (rc != MP_DECODE_OK) {
      lua_pop(L, 1);
      mpk_path_index(&d->path, (int64_t)i + 1);
      return rc;
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  if (has_nil) {
    lua_pushinteger(L, (lua_Integer)n);
    lua_setfield(L, -2, "n");
  }
  lua_pushvalue(L, lua_upvalueindex(MP_UV_ARRAY));
  lua_setmetatable(L, -2);
  return MP_DECODE_OK;
}

static int check_key(mp_decoder_t *d, const mpk_item_t *k)
{
  if (k->kind == MPK_NIL && !d->nil_as_null) {
    return decode_fail(d, MP_DECODE_EKEY,
                       "map has a nil key, which a Lua table cannot hold,");
  }
  if ((k->kind == MPK_FLOAT64 || k->kind == MPK_FLOAT32) &&
      isnan(k->v.f)) {
    return decode_fail(d, MP_DECODE_EKEY,
                       "map has a NaN key, which a Lua table cannot hold,");
  }
  return MP_DECODE_OK;
}

// Pushes the key and the value of the next pair, or nothing on failure.
static int decode_pair(mp_decoder_t *d, size_t *pos, int depth)
{
  size_t at = *pos;
  mpk_item_t k;
  int rc = next_item(d, &at, &k);
  if (rc == MP_DECODE_OK) {
    rc = check_key(d, &k);
  }
  if (rc != MP_DECODE_OK) {
    return rc;
  }
  rc = decode_value(d, pos, depth);
  if (rc != MP_DECODE_OK) {
    // The key itself holds the failure: no key step fits, so say so.
    mpk_path_text(&d->path, ".<key>");
    return rc;
  }
  rc = decode_value(d, pos, depth);
  if (rc != MP_DECODE_OK) {
    lua_pop(d->L, 1);
    path_key(d, &k);
  }
  return rc;
}

static int decode_map(mp_decoder_t *d, uint32_t n, size_t *pos, int depth)
{
  lua_State *L = d->L;
  lua_createtable(L, 0, n <= INT32_MAX ? (int)n : 0);
  for (uint32_t i = 0; i < n; i++) {
    int rc = decode_pair(d, pos, depth);
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

// Every item takes at least one byte, so a count the bytes left cannot
// hold is truncated input, known before anything is sized from it.
static int decode_container(mp_decoder_t *d, const mpk_item_t *it,
                            size_t head, size_t *pos, int depth)
{
  if (depth >= d->max_depth) {
    return decode_fail(d, MP_DECODE_EDEPTH, "nesting too deep");
  }
  uint64_t items = it->kind == MPK_MAP ? 2 * (uint64_t)it->n : it->n;
  if (items > d->len - *pos) {
    return bytes_fail(d, MPK_EMORE, head);
  }
  if (it->kind == MPK_ARRAY) {
    return decode_array(d, it->n, pos, depth + 1);
  }
  return decode_map(d, it->n, pos, depth + 1);
}

static void decode_uint(mp_decoder_t *d, uint64_t u)
{
  if (u <= (uint64_t)LUA_MAXINTEGER) {
    lua_pushinteger(d->L, (lua_Integer)u);
  } else {
    hilt__msgpack_push_uint64(d->L, u);
  }
}

static int decode_value(mp_decoder_t *d, size_t *pos, int depth)
{
  lua_State *L = d->L;
  size_t head = *pos;
  mpk_item_t it;
  int rc = next_item(d, pos, &it);
  if (rc != MP_DECODE_OK) {
    return rc;
  }
  switch (it.kind) {
  case MPK_NIL:
    if (d->nil_as_null) {
      lua_pushlightuserdata(L, NULL);
    } else {
      lua_pushnil(L);
    }
    break;
  case MPK_BOOL:
    lua_pushboolean(L, it.v.b);
    break;
  case MPK_UINT:
    decode_uint(d, it.v.u);
    break;
  case MPK_INT:
    lua_pushinteger(L, (lua_Integer)it.v.i);
    break;
  case MPK_FLOAT32:
  case MPK_FLOAT64:
    lua_pushnumber(L, (lua_Number)it.v.f);
    break;
  case MPK_STR:
    decode_str(d, it.p, it.n);
    break;
  case MPK_BIN:
    if (d->binary_as_string) {
      lua_pushlstring(L, it.p, it.n);
    } else {
      hilt__msgpack_push_binary(L, it.p, it.n);
    }
    break;
  case MPK_EXT:
    hilt__msgpack_push_ext(L, it.ext_type, it.p, it.n);
    break;
  default:
    return decode_container(d, &it, head, pos, depth);
  }
  return MP_DECODE_OK;
}

// Whether the value at p[at] is an array or a map (whose string keys are
// worth caching).
static int starts_container(const char *p, size_t len, size_t at)
{
  if (at >= len) {
    return 0;
  }
  unsigned b = (unsigned char)p[at];
  return (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf);
}

int hilt__msgpack_decode(mp_decoder_t *d, const char *p, size_t len,
                         size_t *pos, const mp_opts_t *opts)
{
  d->p = p;
  d->len = len;
  d->start = *pos;
  d->max_depth = opts->max_depth;
  d->binary_as_string = opts->binary_as_string;
  d->nil_as_null = opts->nil_as_null;
  d->what = NULL;
  d->cache_base = 0;
  size_t at = *pos;
  if (!starts_container(p, len, at)) {
    int rc = decode_value(d, &at, 0);  // no keys to cache
    if (rc == MP_DECODE_OK) {
      *pos = at;
    }
    return rc;
  }
  // Each level of nesting holds a table and a key, and a value or a
  // metatable for a moment; the string cache takes its slots below them.
  luaL_checkstack(d->L, 3 * (d->max_depth + 1) + MP_STRCACHE,
                  "msgpack.unpack");
  d->cache_base = lua_gettop(d->L) + 1;
  lua_settop(d->L, d->cache_base + MP_STRCACHE - 1);
  memset(d->cache, 0, sizeof d->cache);
  int rc = decode_value(d, &at, 0);
  if (rc == MP_DECODE_OK) {
    lua_replace(d->L, d->cache_base);
    *pos = at;
  }
  lua_settop(d->L, d->cache_base - (rc != MP_DECODE_OK));
  return rc;
}

void hilt__msgpack_decode_message(mp_decoder_t *d, int rc, char *out,
                                  size_t n)
{
  if (rc == MP_DECODE_EBYTES) {
    mpk_err_format(&d->err, out, n);
  } else if (rc == MP_DECODE_EDEPTH) {
    snprintf(out, n, "nesting deeper than %d level%s at %s", d->max_depth,
             d->max_depth == 1 ? "" : "s", mpk_path_get(&d->path));
  } else {
    snprintf(out, n, "%s at %s", d->what, mpk_path_get(&d->path));
  }
}

const char *hilt__msgpack_decode_code(mp_decoder_t *d, int rc)
{
  if (rc == MP_DECODE_EBYTES) {
    return mpk_err_name(d->err.code);
  }
  return rc == MP_DECODE_EDEPTH ? "too_deep" : "bad_key";
}
