// Reading msgpack one item at a time: a header and, for strings, binary
// and ext, the payload that follows it. Containers are only announced:
// their elements are the next items. Decoders that build their own values
// (Lua tables, RPC messages) walk a value with it, in one pass, allocating
// only what they build.
#ifndef HILT_MPK_ITEM_H
#define HILT_MPK_ITEM_H

#include <stddef.h>
#include <stdint.h>

#include "mpk_err.h"

typedef enum {
  MPK_NIL,
  MPK_BOOL,
  MPK_UINT,     // positive fixint and uint 8..64
  MPK_INT,      // negative fixint and int 8..64, whatever the sign
  MPK_FLOAT32,
  MPK_FLOAT64,
  MPK_STR,
  MPK_BIN,
  MPK_EXT,
  MPK_ARRAY,
  MPK_MAP,
} mpk_kind_t;

typedef struct {
  int kind;
  int ext_type;     // MPK_EXT: the application's type, -128..127
  uint32_t n;       // payload bytes (STR, BIN, EXT) or items (ARRAY, MAP)
  const char *p;    // payload (STR, BIN, EXT), pointing into the input
  union {
    int b;          // BOOL
    uint64_t u;     // UINT
    int64_t i;      // INT
    double f;       // FLOAT32, FLOAT64
  } v;
} mpk_item_t;

/// Reads the item at p[*pos] of p[0..len). Returns MPK_OK and advances
/// *pos past the header and any payload; MPK_EMORE when the header or
/// payload runs past len; MPK_EBADBYTE for 0xc1. *pos moves only on OK.
int mpk_item_read(const char *p, size_t len, size_t *pos, mpk_item_t *it);

#endif
