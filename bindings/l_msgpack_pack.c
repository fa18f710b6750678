// msgpack.pack: Lua values to msgpack bytes through msgpack-c's packer.
//
// Tables are read raw (no __index, __pairs or __len), so packing runs no
// Lua code. Errors found deep inside a value are carried back up as codes;
// each level adds its step to the path on the way out, and the error is
// raised only once nothing is half-done. The output buffer lives in a
// userdata box that is reused from call to call.
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "l_msgpack.h"
#include "mpk_buf.h"
#include "mpk_scan.h"

// A pack buffer larger than this is freed after use, not kept.
#define PACKBOX_KEEP (64 * 1024)
#define PACKBOX_MT "hilt.msgpack.PackBuffer"

typedef struct {
  mpk_buf_t buf;
  int busy;  // a pack is writing into buf
} packbox_t;

enum { PACK_OK = 0, PACK_EFAIL, PACK_ENOMEM, PACK_AGAIN };
enum { KIND_PLAIN, KIND_ARRAY, KIND_MAP, KIND_BINARY, KIND_EXT, KIND_FLOAT32 };

typedef struct {
  lua_State *L;
  mpk_buf_t *buf;
  int max_depth;
  int empty_as_map;
  int depth;
  const void *open[MPK_DEPTH_MAX]; // tables being packed, outermost first
  const void *mt[KIND_FLOAT32 + 1]; // marker metatables by kind
  const void *mt_uint64;
  char what[96];                   // set on failure: "cannot pack a function"
  const char *why;                 // "" or a parenthesised explanation
  mpk_path_t path;
} packer_t;

static int pack_value(packer_t *p, int idx);

// msgpack-c's packer calls its write callback through a pointer. A packer
// made at each use around this static function lets the compiler see the
// target, inline it, and turn most writes into fixed-size copies.
static inline int buf_write(void *data, const char *s, size_t n)
{
  mpk_buf_t *b = data;
  if (n > b->cap - b->len) {
    return mpk_buf_write(b, s, n);
  }
  if (n > 0) {
    memcpy(b->data + b->len, s, n);
    b->len += n;
  }
  return 0;
}

#define PACKER(p) (&(msgpack_packer){.data = (p)->buf, .callback = buf_write})

// --- failures -------------------------------------------------------------------

static int pack_fail(packer_t *p, const char *why, const char *fmt,
                     const char *arg)
{
  snprintf(p->what, sizeof p->what, fmt, arg);
  p->why = why;
  mpk_path_init(&p->path);
  return PACK_EFAIL;
}

static int fail_type(packer_t *p, int idx)
{
  lua_State *L = p->L;
  int t = lua_type(L, idx);
  if (t == LUA_TUSERDATA && luaL_getmetafield(L, idx, "__name") != LUA_TNIL) {
    char name[64];
    snprintf(name, sizeof name, "userdata (%s)", lua_tostring(L, -1));
    lua_pop(L, 1);
    return pack_fail(p, "", "cannot pack a %s", name);
  }
  const char *name = t == LUA_TLIGHTUSERDATA ? "light userdata"
                                             : lua_typename(L, t);
  return pack_fail(p, "", "cannot pack a %s", name);
}

static int fail_too_long(packer_t *p, const char *what)
{
  return pack_fail(p, " (msgpack allows 4294967295)", "cannot pack %s",
                   what);
}

// --- scalars and markers --------------------------------------------------------

static int pack_number(packer_t *p, int idx)
{
  if (lua_isinteger(p->L, idx)) {
    msgpack_pack_int64(PACKER(p), lua_tointeger(p->L, idx));
  } else {
    msgpack_pack_double(PACKER(p), lua_tonumber(p->L, idx));
  }
  return PACK_OK;
}

static int pack_string(packer_t *p, int idx)
{
  size_t n;
  const char *s = lua_tolstring(p->L, idx, &n);
  if (n > UINT32_MAX) {
    return fail_too_long(p, "a string that long");
  }
  msgpack_pack_str_with_body(PACKER(p), s, n);
  return PACK_OK;
}

static int pack_binary(packer_t *p, int idx)
{
  size_t n;
  if (lua_getfield(p->L, idx, "data") != LUA_TSTRING) {
    lua_pop(p->L, 1);
    return pack_fail(p, " (its data is not a string)", "cannot pack %s",
                     "a broken msgpack.binary");
  }
  const char *s = lua_tolstring(p->L, -1, &n);
  if (n > UINT32_MAX) {
    lua_pop(p->L, 1);
    return fail_too_long(p, "a binary that long");
  }
  msgpack_pack_bin_with_body(PACKER(p), s, n);
  lua_pop(p->L, 1);
  return PACK_OK;
}

static int pack_ext(packer_t *p, int idx)
{
  lua_State *L = p->L;
  size_t n = 0;
  int ok;
  lua_getfield(L, idx, "type");
  lua_Integer type = lua_tointegerx(L, -1, &ok);
  int is_str = lua_getfield(L, idx, "data") == LUA_TSTRING;
  const char *s = lua_tolstring(L, -1, &n);
  if (!ok || type < -128 || type > 127 || !is_str || n > UINT32_MAX) {
    lua_pop(L, 2);
    return pack_fail(p, " (it needs an integer type in -128..127 and string "
                        "data)",
                     "cannot pack %s", "a broken msgpack.ext");
  }
  msgpack_pack_ext_with_body(PACKER(p), s, n, (int8_t)type);
  lua_pop(L, 2);
  return PACK_OK;
}

static int pack_float32(packer_t *p, int idx)
{
  if (lua_getfield(p->L, idx, "value") != LUA_TNUMBER) {
    lua_pop(p->L, 1);
    return pack_fail(p, " (its value is not a number)", "cannot pack %s",
                     "a broken msgpack.float32");
  }
  msgpack_pack_float(PACKER(p), (float)lua_tonumber(p->L, -1));
  lua_pop(p->L, 1);
  return PACK_OK;
}

static int pack_userdata(packer_t *p, int idx)
{
  lua_State *L = p->L;
  if (lua_getmetatable(L, idx)) {
    const void *mt = lua_topointer(L, -1);
    lua_pop(L, 1);
    if (mt == p->mt_uint64) {
      msgpack_pack_uint64(PACKER(p), *(const uint64_t *)lua_touserdata(L, idx));
      return PACK_OK;
    }
  }
  return fail_type(p, idx);
}

// --- tables ---------------------------------------------------------------------

// Pushes the step of the key at idx onto the path of a failure.
static void path_key(packer_t *p, int idx)
{
  lua_State *L = p->L;
  char step[40];
  size_t n;
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: {
    const char *s = lua_tolstring(L, idx, &n);
    mpk_path_key(&p->path, s, n);
    return;
  }
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      mpk_path_index(&p->path, lua_tointeger(L, idx));
    } else {
      mpk_path_number(&p->path, lua_tonumber(L, idx));
    }
    return;
  case LUA_TBOOLEAN:
    mpk_path_text(&p->path, lua_toboolean(L, idx) ? "[true]" : "[false]");
    return;
  default:
    snprintf(step, sizeof step, "[<%s>]", luaL_typename(L, idx));
    mpk_path_text(&p->path, step);
  }
}

// Marks the table at idx as open; fails on a cycle or too deep a nesting.
static int pack_enter(packer_t *p, int idx)
{
  const void *t = lua_topointer(p->L, idx);
  for (int i = 0; i < p->depth; i++) {
    if (p->open[i] == t) {
      return pack_fail(p, " (a table that contains itself)", "%s",
                       "cannot pack a reference cycle");
    }
  }
  if (p->depth >= p->max_depth) {
    char what[40];
    snprintf(what, sizeof what, "%d level%s", p->max_depth,
             p->max_depth == 1 ? "" : "s");
    return pack_fail(p, "", "nesting deeper than %s", what);
  }
  // Each level holds a key and a value, and a marker's field or metatable
  // for a moment. Grown here, level by level, so packing a scalar never
  // grows a task's stack.
  if (!lua_checkstack(p->L, 4)) {
    return PACK_ENOMEM;
  }
  p->open[p->depth++] = t;
  return PACK_OK;
}

// Writes a one-byte stand-in for a header whose count is not known yet.
static size_t header_hold(packer_t *p)
{
  size_t at = p->buf->len;
  msgpack_pack_nil(PACKER(p));
  return at;
}

typedef struct {
  char bytes[8];
  size_t len;
} header_t;

static int header_write(void *data, const char *s, size_t n)
{
  header_t *h = data;
  memcpy(h->bytes + h->len, s, n);
  h->len += n;
  return 0;
}

// Puts the header msgpack-c writes for `count` elements in place of the
// stand-in at `at`.
static int header_set(packer_t *p, size_t at, int kind, size_t count)
{
  header_t h = {.len = 0};
  msgpack_packer hp;
  if (count > UINT32_MAX) {
    return fail_too_long(p, "a table that long");
  }
  msgpack_packer_init(&hp, &h, header_write);
  if (kind == KIND_ARRAY) {
    msgpack_pack_array(&hp, count);
  } else {
    msgpack_pack_map(&hp, count);
  }
  mpk_buf_splice(p->buf, at, 1, h.bytes, h.len);
  return PACK_OK;
}

// t[1..n], nil for the missing ones.
static int pack_array(packer_t *p, int idx, lua_Integer n)
{
  lua_State *L = p->L;
  msgpack_pack_array(PACKER(p), (size_t)n);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    int rc = pack_value(p, lua_gettop(L));
    lua_pop(L, 1);
    if (rc != PACK_OK) {
      mpk_path_index(&p->path, i);
      return rc;
    }
  }
  return PACK_OK;
}

// The key at k and the value above it. String keys, the common case, go
// straight to pack_string.
static int pack_pair(packer_t *p, int k)
{
  int rc = lua_type(p->L, k) == LUA_TSTRING ? pack_string(p, k)
                                             : pack_value(p, k);
  if (rc != PACK_OK) {
    // The key itself could not be packed: no key step fits, so say so.
    mpk_path_text(&p->path, ".<key>");
    return rc;
  }
  rc = pack_value(p, k + 1);
  if (rc != PACK_OK) {
    path_key(p, k);
  }
  return rc;
}

// The entries of the table at idx as a map, in one pass: from the key and
// value on top of the stack (lua_next's) to the last entry.
static int pack_pairs(packer_t *p, int idx)
{
  lua_State *L = p->L;
  size_t at = header_hold(p);
  size_t count = 0;
  int k = lua_gettop(L) - 1;
  do {
    int rc = pack_pair(p, k);
    if (rc != PACK_OK) {
      lua_pop(L, 2);
      return rc;
    }
    lua_pop(L, 1);
    count++;
  } while (lua_next(L, idx));
  return header_set(p, at, KIND_MAP, count);
}

static int pack_map(packer_t *p, int idx)
{
  lua_pushnil(p->L);
  if (!lua_next(p->L, idx)) {
    msgpack_pack_map(PACKER(p), 0);
    return PACK_OK;
  }
  return pack_pairs(p, idx);
}

// The table at idx as an array in one pass, if lua_next visits exactly
// the keys 1, 2, ..., n in order: the shape of a list. Starts from key 1
// and its value on top of the stack. Returns PACK_AGAIN, its output
// rolled back, when any other key shows up.
static int pack_sequence(packer_t *p, int idx)
{
  lua_State *L = p->L;
  size_t at = header_hold(p);
  lua_Integer n = 0;
  int v = lua_gettop(L);
  do {
    if (!lua_isinteger(L, v - 1) || lua_tointeger(L, v - 1) != n + 1) {
      lua_pop(L, 2);
      mpk_buf_truncate(p->buf, at);
      return PACK_AGAIN;
    }
    n++;
    int rc = pack_value(p, v);
    if (rc != PACK_OK) {
      lua_pop(L, 2);
      mpk_path_index(&p->path, n);
      return rc;
    }
    lua_pop(L, 1);
  } while (lua_next(L, idx));
  return header_set(p, at, KIND_ARRAY, (size_t)n);
}

// Counts the entries of the table at idx and decides its kind: an array
// when every key is a positive integer and at least half of 1..max is
// present (the rest pack as nil), a map otherwise.
static int classify(lua_State *L, int idx, size_t *count, lua_Integer *max)
{
  size_t n = 0;
  lua_Integer hi = 0;
  int positive = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    n++;
    if (positive) {
      lua_Integer k = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
      positive = k > 0;
      hi = k > hi ? k : hi;
    }
  }
  *count = n;
  *max = hi;
  return positive && (uint64_t)hi <= 2 * (uint64_t)n ? KIND_ARRAY : KIND_MAP;
}

// A table without a marker. Lists and tables whose first key is not a
// positive integer (so maps) take one pass; the rest are classified first.
static int pack_plain(packer_t *p, int idx)
{
  lua_State *L = p->L;
  lua_pushnil(L);
  if (!lua_next(L, idx)) {
    if (p->empty_as_map) {
      msgpack_pack_map(PACKER(p), 0);
    } else {
      msgpack_pack_array(PACKER(p), 0);
    }
    return PACK_OK;
  }
  lua_Integer k = lua_isinteger(L, -2) ? lua_tointeger(L, -2) : 0;
  if (k <= 0) {
    return pack_pairs(p, idx);
  }
  int rc = k == 1 ? pack_sequence(p, idx) : PACK_AGAIN;
  if (rc != PACK_AGAIN) {
    return rc;
  }
  if (k != 1) {
    lua_pop(L, 2);
  }
  size_t count;
  lua_Integer max;
  if (classify(L, idx, &count, &max) != KIND_ARRAY) {
    return pack_map(p, idx);
  }
  if (max > UINT32_MAX) {
    return fail_too_long(p, "a table that long");
  }
  return pack_array(p, idx, max);
}

// An Array's length: its field n when present, else its border (#t).
static int array_length(packer_t *p, int idx, lua_Integer *n)
{
  lua_State *L = p->L;
  int t = lua_getfield(L, idx, "n");
  int ok = 1;
  *n = t == LUA_TNIL ? (lua_Integer)lua_rawlen(L, idx)
                     : lua_tointegerx(L, -1, &ok);
  lua_pop(L, 1);
  if (!ok || *n < 0 || *n > UINT32_MAX) {
    return pack_fail(p, " (n must be an integer in 0..4294967295)",
                     "cannot pack %s", "a msgpack.array with a bad n");
  }
  return PACK_OK;
}

static int pack_container(packer_t *p, int idx, int kind)
{
  int rc = pack_enter(p, idx);
  if (rc != PACK_OK) {
    return rc;
  }
  if (kind == KIND_ARRAY) {
    lua_Integer n;
    rc = array_length(p, idx, &n);
    rc = rc == PACK_OK ? pack_array(p, idx, n) : rc;
  } else if (kind == KIND_MAP) {
    rc = pack_map(p, idx);
  } else {
    rc = pack_plain(p, idx);
  }
  p->depth--;
  return rc;
}

static int marker_kind(packer_t *p, int idx)
{
  if (!lua_getmetatable(p->L, idx)) {
    return KIND_PLAIN;
  }
  const void *mt = lua_topointer(p->L, -1);
  lua_pop(p->L, 1);
  for (int k = KIND_ARRAY; k <= KIND_FLOAT32; k++) {
    if (mt == p->mt[k]) {
      return k;
    }
  }
  return KIND_PLAIN;
}

static int pack_table(packer_t *p, int idx)
{
  int kind = marker_kind(p, idx);
  switch (kind) {
  case KIND_BINARY:
    return pack_binary(p, idx);
  case KIND_EXT:
    return pack_ext(p, idx);
  case KIND_FLOAT32:
    return pack_float32(p, idx);
  default:
    return pack_container(p, idx, kind);
  }
}

static int pack_value(packer_t *p, int idx)
{
  switch (lua_type(p->L, idx)) {
  case LUA_TNIL:
    msgpack_pack_nil(PACKER(p));
    return PACK_OK;
  case LUA_TBOOLEAN:
    if (lua_toboolean(p->L, idx)) {
      msgpack_pack_true(PACKER(p));
    } else {
      msgpack_pack_false(PACKER(p));
    }
    return PACK_OK;
  case LUA_TNUMBER:
    return pack_number(p, idx);
  case LUA_TSTRING:
    return pack_string(p, idx);
  case LUA_TTABLE:
    return pack_table(p, idx);
  case LUA_TUSERDATA:
    return pack_userdata(p, idx);
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(p->L, idx) == NULL) {
      msgpack_pack_nil(PACKER(p));  // msgpack.null
      return PACK_OK;
    }
    return fail_type(p, idx);
  default:
    return fail_type(p, idx);
  }
}

// --- the box and the entry points -----------------------------------------------

static int packbox_gc(lua_State *L)
{
  packbox_t *box = luaL_checkudata(L, 1, PACKBOX_MT);
  mpk_buf_free(&box->buf);
  return 0;
}

void hilt__msgpack_packbox_new(lua_State *L)
{
  packbox_t *box = lua_newuserdatauv(L, sizeof *box, 0);
  mpk_buf_init(&box->buf);
  box->busy = 0;
  if (luaL_newmetatable(L, PACKBOX_MT)) {
    lua_pushcfunction(L, packbox_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
}

// Pushes the box this call writes into. A finalizer run by the garbage
// collector may call pack while another pack is under way, and an error
// may leave a box marked busy; either way a fresh box takes its place.
static packbox_t *packbox_take(lua_State *L)
{
  packbox_t *box = lua_touserdata(L, lua_upvalueindex(MP_UV_PACKBOX));
  if (box->busy) {
    hilt__msgpack_packbox_new(L);
    lua_copy(L, -1, lua_upvalueindex(MP_UV_PACKBOX));
    box = lua_touserdata(L, -1);
  } else {
    lua_pushvalue(L, lua_upvalueindex(MP_UV_PACKBOX));
  }
  mpk_buf_reset(&box->buf);
  box->busy = 1;
  return box;
}

static void packer_init(packer_t *p, lua_State *L, const mp_opts_t *o)
{
  p->L = L;
  p->max_depth = o->max_depth;
  p->empty_as_map = o->empty_as_map;
  p->depth = 0;
  p->buf = NULL;
  p->mt[KIND_PLAIN] = NULL;
  p->mt[KIND_ARRAY] = lua_topointer(L, lua_upvalueindex(MP_UV_ARRAY));
  p->mt[KIND_MAP] = lua_topointer(L, lua_upvalueindex(MP_UV_MAP));
  p->mt[KIND_BINARY] = lua_topointer(L, lua_upvalueindex(MP_UV_BINARY));
  p->mt[KIND_EXT] = lua_topointer(L, lua_upvalueindex(MP_UV_EXT));
  p->mt[KIND_FLOAT32] = lua_topointer(L, lua_upvalueindex(MP_UV_FLOAT32));
  p->mt_uint64 = lua_topointer(L, lua_upvalueindex(MP_UV_UINT64));
}

// Reads pack's options at index 2. unpack returns value, next_pos: a
// number in place of the options is that position, so that
// pack(unpack(s)) works.
static void check_pack_opts(lua_State *L, mp_opts_t *o)
{
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_pushnil(L);
    lua_replace(L, 2);
  }
  hilt__msgpack_opts(L, 2, MP_OPT_PACK, o);
  lua_settop(L, 2);
}

// pack(value [, opts]) -> string
int hilt__msgpack_pack(lua_State *L)
{
  mp_opts_t o;
  luaL_checkany(L, 1);
  check_pack_opts(L, &o);
  luaL_checkstack(L, 4, "msgpack.pack");  // the top level; pack_enter grows
  packer_t p;
  packer_init(&p, L, &o);
  packbox_t *box = packbox_take(L);
  p.buf = &box->buf;
  int rc = pack_value(&p, 1);
  if (rc == PACK_OK && box->buf.failed) {
    rc = PACK_ENOMEM;
  }
  // Not busy from here: the string is copied before the collector can
  // run a finalizer that packs into the same box.
  box->busy = 0;
  if (rc == PACK_OK) {
    lua_pushlstring(L, box->buf.data, box->buf.len);
  }
  mpk_buf_trim(&box->buf, PACKBOX_KEEP);
  if (rc == PACK_ENOMEM) {
    return luaL_error(L, "msgpack.pack: out of memory");
  }
  if (rc != PACK_OK) {
    return luaL_error(L, "msgpack.pack: %s at %s%s", p.what,
                      mpk_path_get(&p.path), p.why);
  }
  return 1;
}

int hilt__msgpack_pack_into(lua_State *L, int idx, mpk_buf_t *buf,
                            char *err, size_t n)
{
  mp_opts_t o = {.max_depth = MPK_DEPTH_MAX};
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 4, "msgpack.pack");  // the top level; pack_enter grows
  packer_t p;
  packer_init(&p, L, &o);
  p.buf = buf;
  int rc = pack_value(&p, idx);
  if (rc == PACK_OK && !buf->failed) {
    return 0;
  }
  if (rc == PACK_OK || rc == PACK_ENOMEM) {
    snprintf(err, n, "out of memory");
  } else {
    snprintf(err, n, "%s at %s%s", p.what, mpk_path_get(&p.path), p.why);
  }
  return -1;
}

// kind(value) -> how pack would encode value: "nil", "boolean",
// "integer", "float", "string", "binary", "ext", "float32", "uint64",
// "array" or "map" ("nil" for msgpack.null too); nil for a value pack
// rejects at the top level.
int hilt__msgpack_kind(lua_State *L)
{
  static const char *const kinds[] = {NULL,     "array", "map",
                                      "binary", "ext",   "float32"};
  mp_opts_t o;
  luaL_checkany(L, 1);
  check_pack_opts(L, &o);
  packer_t p;
  packer_init(&p, L, &o);
  int t = lua_type(L, 1);
  if (t == LUA_TTABLE) {
    int kind = marker_kind(&p, 1);
    if (kind == KIND_PLAIN) {
      size_t count;
      lua_Integer max;
      kind = classify(L, 1, &count, &max);
      kind = count == 0 && o.empty_as_map ? KIND_MAP : kind;
    }
    lua_pushstring(L, kinds[kind]);
  } else if (t == LUA_TNUMBER) {
    lua_pushstring(L, lua_isinteger(L, 1) ? "integer" : "float");
  } else if (t == LUA_TLIGHTUSERDATA) {
    lua_pushstring(L, lua_touserdata(L, 1) == NULL ? "nil" : NULL);
  } else if (t == LUA_TUSERDATA && lua_getmetatable(L, 1)) {
    lua_pushstring(L, lua_topointer(L, -1) == p.mt_uint64 ? "uint64" : NULL);
  } else {
    lua_pushstring(L, t <= LUA_TSTRING && t != LUA_TLIGHTUSERDATA
                          ? lua_typename(L, t)
                          : NULL);
  }
  return 1;
}
