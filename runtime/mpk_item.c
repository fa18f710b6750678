// One msgpack item at a time (see mpk_item.h).
#include "mpk_item.h"

#include <string.h>

static uint64_t be(const unsigned char *p, unsigned n)
{
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++) {
    v = v << 8 | p[i];
  }
  return v;
}

// Sign-extends the n-byte big-endian two's complement integer at p.
static int64_t be_signed(const unsigned char *p, unsigned n)
{
  uint64_t u = be(p, n);
  unsigned shift = 64 - 8 * n;
  return (int64_t)(u << shift) >> shift;
}

// A payload of n bytes after a header of h bytes at q[0].
static int blob(int kind, const unsigned char *q, size_t avail, unsigned h,
                uint64_t n, mpk_item_t *it, size_t *used)
{
  if (n > avail - h) {
    return MPK_EMORE;
  }
  it->kind = kind;
  it->n = (uint32_t)n;
  it->p = (const char *)q + h;
  *used = h + (size_t)n;
  return MPK_OK;
}

// Returns MPK_EMORE unless the first h bytes of the header are there.
#define NEED(h)                                                              \
  do {                                                                       \
    if (avail < (h)) {                                                       \
      return MPK_EMORE;                                                      \
    }                                                                        \
  } while (0)

static int read_typed(const unsigned char *q, size_t avail, mpk_item_t *it,
                      size_t *used)
{
  unsigned b = q[0];
  *used = 1;
  switch (b) {
  case 0xc0: it->kind = MPK_NIL; return MPK_OK;
  case 0xc2: case 0xc3:
    it->kind = MPK_BOOL;
    it->v.b = b == 0xc3;
    return MPK_OK;
  case 0xc4: case 0xc5: case 0xc6: {
    unsigned w = 1u << (b - 0xc4);
    NEED(1 + w);
    return blob(MPK_BIN, q, avail, 1 + w, be(q + 1, w), it, used);
  }
  case 0xc7: case 0xc8: case 0xc9: {
    unsigned w = 1u << (b - 0xc7);
    NEED(2 + w);
    it->ext_type = (int8_t)q[1 + w];
    return blob(MPK_EXT, q, avail, 2 + w, be(q + 1, w), it, used);
  }
  case 0xca: case 0xcb: {
    unsigned w = b == 0xca ? 4 : 8;
    NEED(1 + w);
    uint64_t u = be(q + 1, w);
    if (w == 4) {
      uint32_t u32 = (uint32_t)u;
      float f;
      memcpy(&f, &u32, sizeof f);
      it->kind = MPK_FLOAT32;
      it->v.f = f;
    } else {
      memcpy(&it->v.f, &u, sizeof u);
      it->kind = MPK_FLOAT64;
    }
    *used = 1 + w;
    return MPK_OK;
  }
  case 0xcc: case 0xcd: case 0xce: case 0xcf: {
    unsigned w = 1u << (b - 0xcc);
    NEED(1 + w);
    it->kind = MPK_UINT;
    it->v.u = be(q + 1, w);
    *used = 1 + w;
    return MPK_OK;
  }
  case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
    unsigned w = 1u << (b - 0xd0);
    NEED(1 + w);
    it->kind = MPK_INT;
    it->v.i = be_signed(q + 1, w);
    *used = 1 + w;
    return MPK_OK;
  }
  case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
    NEED(2);
    it->ext_type = (int8_t)q[1];
    return blob(MPK_EXT, q, avail, 2, 1u << (b - 0xd4), it, used);
  case 0xd9: case 0xda: case 0xdb: {
    unsigned w = 1u << (b - 0xd9);
    NEED(1 + w);
    return blob(MPK_STR, q, avail, 1 + w, be(q + 1, w), it, used);
  }
  case 0xdc: case 0xdd: case 0xde: case 0xdf: {
    unsigned w = b & 1 ? 4 : 2;
    NEED(1 + w);
    it->kind = b <= 0xdd ? MPK_ARRAY : MPK_MAP;
    it->n = (uint32_t)be(q + 1, w);
    *used = 1 + w;
    return MPK_OK;
  }
  default:
    return MPK_EBADBYTE;  // 0xc1, the one byte msgpack never uses
  }
}

int mpk_item_read(const char *p, size_t len, size_t *pos, mpk_item_t *it)
{
  if (*pos >= len) {
    return MPK_EMORE;
  }
  const unsigned char *q = (const unsigned char *)p + *pos;
  size_t avail = len - *pos;
  unsigned b = q[0];
  // The one-byte forms first: they are most items in typical messages.
  if (b <= 0x7f) {
    it->kind = MPK_UINT;
    it->v.u = b;
    *pos += 1;
    return MPK_OK;
  }
  if (b >= 0xe0) {
    it->kind = MPK_INT;
    it->v.i = (int8_t)b;
    *pos += 1;
    return MPK_OK;
  }
  size_t used;
  int rc;
  if (b >= 0xa0 && b <= 0xbf) {
    rc = blob(MPK_STR, q, avail, 1, b & 0x1f, it, &used);
  } else if (b <= 0x8f) {
    it->kind = MPK_MAP;
    it->n = b & 0x0f;
    used = 1;
    rc = MPK_OK;
  } else if (b <= 0x9f) {
    it->kind = MPK_ARRAY;
    it->n = b & 0x0f;
    used = 1;
    rc = MPK_OK;
  } else {
    rc = read_typed(q, avail, it, &used);
  }
  if (rc == MPK_OK) {
    *pos += used;
  }
  return rc;
}
