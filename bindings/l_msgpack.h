// Internal declarations shared by the hilt.msgpack binding files:
// l_msgpack.c (module, array/map markers), l_msgpack_types.c (Binary, Ext,
// Float32), l_msgpack_uint64.c, l_msgpack_opts.c, l_msgpack_pack.c,
// l_msgpack_decode.c (msgpack bytes to Lua), l_msgpack_unpack.c and
// l_msgpack_unpacker.c (the streaming reader).
#ifndef HILT_L_MSGPACK_H
#define HILT_L_MSGPACK_H

#include <lauxlib.h>
#include <lua.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "mpk_buf.h"
#include "mpk_err.h"
#include "mpk_path.h"

// Every function of the module is a closure over these upvalues, so the
// hot paths reach the marker metatables without a registry lookup.
enum {
  MP_UV_ARRAY = 1,
  MP_UV_MAP,
  MP_UV_BINARY,
  MP_UV_EXT,
  MP_UV_FLOAT32,
  MP_UV_UINT64,
  MP_UV_PACKBOX,   // pack's reusable output buffer
  MP_NUP = MP_UV_PACKBOX
};

#define MP_MT_ARRAY "hilt.msgpack.Array"
#define MP_MT_MAP "hilt.msgpack.Map"
#define MP_MT_BINARY "hilt.msgpack.Binary"
#define MP_MT_EXT "hilt.msgpack.Ext"
#define MP_MT_FLOAT32 "hilt.msgpack.Float32"
#define MP_MT_UINT64 "hilt.msgpack.UInt64"
#define MP_MT_UNPACKER "hilt.msgpack.Unpacker"

/// Registers `funcs` into the table at the top of the stack, each a
/// closure over the MP_NUP upvalues found at stack index uv and after.
void hilt__msgpack_setfuncs(lua_State *L, int uv, const luaL_Reg *funcs);

// --- options (l_msgpack_opts.c) ---------------------------------------------

enum { MP_OPT_PACK = 1, MP_OPT_UNPACK = 2, MP_OPT_STREAM = 4 };

typedef struct {
  int max_depth;        // 0..MPK_DEPTH_MAX
  int empty_as_map;     // pack: {} becomes a map, not an array
  int binary_as_string; // unpack: bin becomes a plain string
  int nil_as_null;      // unpack: nil becomes msgpack.null
  size_t max_size;      // unpacker: largest value in bytes, 0 for none
} mp_opts_t;

/// Reads the options table at idx (nil or none for the defaults) into o,
/// accepting only the options of `which` (MP_OPT_*). Raises through
/// luaL_argerror on an unknown option or a bad value.
void hilt__msgpack_opts(lua_State *L, int idx, int which, mp_opts_t *o);

// --- value types (l_msgpack_types.c, l_msgpack_uint64.c) -------------------

/// Pushes the metatables of Binary, Ext and Float32, in that order.
void hilt__msgpack_types_open(lua_State *L);

/// msgpack.binary(s), msgpack.ext(type, data), msgpack.float32(x) and
/// msgpack.is_binary(v).
int hilt__msgpack_binary(lua_State *L);
int hilt__msgpack_ext(lua_State *L);
int hilt__msgpack_float32(lua_State *L);
int hilt__msgpack_is_binary(lua_State *L);

/// Pushes a Binary / Ext holding a copy of s[0..n). Must run inside a
/// module closure (they read its upvalues). Raise only on memory errors.
void hilt__msgpack_push_binary(lua_State *L, const char *s, size_t n);
void hilt__msgpack_push_ext(lua_State *L, int type, const char *s, size_t n);

/// Pushes the UInt64 metatable (creating it on first use).
void hilt__msgpack_uint64_open(lua_State *L);

/// Pushes a UInt64 box for v. Must run inside a module closure.
void hilt__msgpack_push_uint64(lua_State *L, uint64_t v);

/// The constructor msgpack.uint64(x).
int hilt__msgpack_uint64_new(lua_State *L);

// --- pack (l_msgpack_pack.c) ------------------------------------------------

/// Pushes a new, empty pack buffer box (a userdata owning an mpk_buf_t).
void hilt__msgpack_packbox_new(lua_State *L);

/// msgpack.pack(value [, opts]) and msgpack.kind(value [, opts]).
int hilt__msgpack_pack(lua_State *L);
int hilt__msgpack_kind(lua_State *L);

/// Appends the value at idx to buf, packed with the default options.
/// Returns 0, or -1 with a description in err[0..n) ("cannot pack a
/// function at value.f"). Must run inside a module closure.
int hilt__msgpack_pack_into(lua_State *L, int idx, mpk_buf_t *buf,
                            char *err, size_t n);

/// Pushes the MP_NUP upvalues the module's functions close over, so other
/// bindings can make closures that pack and decode (see
/// hilt__msgpack_setfuncs). Requires the module to be loaded.
void hilt__msgpack_push_upvalues(lua_State *L);

// --- decoding (l_msgpack_decode.c) ------------------------------------------

enum { MP_DECODE_OK = 0, MP_DECODE_EBYTES, MP_DECODE_EDEPTH, MP_DECODE_EKEY };

#define MP_STRCACHE 32      // cached strings: slots, a power of two
#define MP_STRCACHE_LEN 32  // longest string cached

/// State of one decoding of msgpack bytes to a Lua value. After a failure,
/// `err` describes bad bytes (EBYTES), or `what` the failure and `path`
/// where it is (EDEPTH, EKEY).
typedef struct {
  lua_State *L;
  const char *p;   // the bytes, p[0..len)
  size_t len;
  size_t start;    // offset of the value being decoded
  int max_depth;
  int binary_as_string;
  int nil_as_null;
  mpk_err_t err;
  const char *what;
  mpk_path_t path;
  int cache_base;  // stack index of the first cached string
  struct {
    const char *s;  // the Lua string's bytes, or NULL
    size_t n;
  } cache[MP_STRCACHE];
} mp_decoder_t;

/// Decodes the value at p[*pos] of p[0..len) and pushes it, advancing
/// *pos past it. Returns MP_DECODE_OK, or an MP_DECODE_E* code with
/// nothing pushed and *pos unchanged. Raises only on memory errors, so the
/// caller keeps the bytes owned by a Lua object. Must run inside a module
/// closure. Only d->L need be set.
int hilt__msgpack_decode(mp_decoder_t *d, const char *p, size_t len,
                         size_t *pos, const mp_opts_t *opts);

/// Writes a one-line description of the failure rc of d into out[0..n).
void hilt__msgpack_decode_message(mp_decoder_t *d, int rc, char *out,
                                  size_t n);

/// The short name of a decode failure: "truncated", "malformed",
/// "too_deep" or "bad_key".
const char *hilt__msgpack_decode_code(mp_decoder_t *d, int rc);

// --- unpack (l_msgpack_unpack.c, l_msgpack_unpacker.c) ---------------------

/// msgpack.unpack(bytes [, pos [, opts]]).
int hilt__msgpack_unpack(lua_State *L);

/// Creates the Unpacker metatable with methods closed over the upvalues at
/// uv; pushes nothing.
void hilt__msgpack_unpacker_open(lua_State *L, int uv);

/// msgpack.unpacker([opts]).
int hilt__msgpack_unpacker_new(lua_State *L);

#endif
