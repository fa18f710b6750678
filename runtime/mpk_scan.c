// Resumable msgpack scanner (see mpk_scan.h).
//
// The grammar it walks, one header at a time:
//
//   value  := scalar | blob | array | map
//   scalar := type-byte [fixed-width body]       nil, bool, int, float
//   blob   := type-byte [length] [ext-type] byte{length}   str, bin, ext
//   array  := type-byte [count] value{count}
//   map    := type-byte [count] (value value){count}
//
// The state between calls is the offset of the next header and, for each
// open container, how many items it still holds; the bytes already seen
// are never read again.
#include "mpk_scan.h"

enum { K_SCALAR, K_BLOB, K_ARRAY, K_MAP, K_BAD };

typedef struct {
  unsigned hlen;  // header bytes, type byte included
  unsigned nlen;  // bytes of the length or count after the type byte
  int kind;
  uint64_t n;     // payload length (blob) or element count (container)
} head_t;

// Type bytes 0xc0..0xdf; fixext entries carry their fixed payload in n.
static const head_t types[32] = {
  {1, 0, K_SCALAR, 0}, {1, 0, K_BAD, 0},    {1, 0, K_SCALAR, 0},
  {1, 0, K_SCALAR, 0}, {2, 1, K_BLOB, 0},   {3, 2, K_BLOB, 0},
  {5, 4, K_BLOB, 0},   {3, 1, K_BLOB, 0},   {4, 2, K_BLOB, 0},
  {6, 4, K_BLOB, 0},   {5, 0, K_SCALAR, 0}, {9, 0, K_SCALAR, 0},
  {2, 0, K_SCALAR, 0}, {3, 0, K_SCALAR, 0}, {5, 0, K_SCALAR, 0},
  {9, 0, K_SCALAR, 0}, {2, 0, K_SCALAR, 0}, {3, 0, K_SCALAR, 0},
  {5, 0, K_SCALAR, 0}, {9, 0, K_SCALAR, 0}, {2, 0, K_BLOB, 1},
  {2, 0, K_BLOB, 2},   {2, 0, K_BLOB, 4},   {2, 0, K_BLOB, 8},
  {2, 0, K_BLOB, 16},  {2, 1, K_BLOB, 0},   {3, 2, K_BLOB, 0},
  {5, 4, K_BLOB, 0},   {3, 2, K_ARRAY, 0},  {5, 4, K_ARRAY, 0},
  {3, 2, K_MAP, 0},    {5, 4, K_MAP, 0},
};

void mpk_scan_init(mpk_scan_t *s, int max_depth)
{
  s->pos = 0;
  s->depth = 0;
  s->done = 0;
  if (max_depth < 0) {
    max_depth = 0;
  }
  s->max_depth = max_depth > MPK_DEPTH_MAX ? MPK_DEPTH_MAX : max_depth;
}

// What the type byte b announces; n is still unread if nlen > 0.
static head_t head_of(unsigned b)
{
  if (b <= 0x8f) {
    return (head_t){1, 0, K_MAP, b & 0x0f};
  }
  if (b <= 0x9f) {
    return (head_t){1, 0, K_ARRAY, b & 0x0f};
  }
  return types[b - 0xc0];
}

static uint64_t load_be(const unsigned char *p, unsigned n)
{
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++) {
    v = v << 8 | p[i];
  }
  return v;
}

// One item has ended: close every container it completes.
static inline void item_done(mpk_scan_t *s)
{
  while (s->depth > 0) {
    if (--s->left[s->depth - 1] > 0) {
      return;
    }
    s->depth--;
  }
  s->done = 1;
}

// An item whose type byte b (a map, an array, or 0xc0..0xdf) is at pos.
static int scan_head(mpk_scan_t *s, const unsigned char *p, size_t len,
                     unsigned b)
{
  head_t h = head_of(b);
  if (h.kind == K_BAD) {
    return MPK_EBADBYTE;
  }
  if (len - s->pos < h.hlen) {
    return MPK_EMORE;
  }
  if (h.nlen > 0) {
    h.n = load_be(p + s->pos + 1, h.nlen);
  }
  if (h.kind == K_ARRAY || h.kind == K_MAP) {
    if (s->depth >= s->max_depth) {
      return MPK_EDEPTH;
    }
    s->pos += h.hlen;
    if (h.n > 0) {
      s->left[s->depth++] = h.kind == K_MAP ? 2 * h.n : h.n;
      return MPK_OK;
    }
  } else {
    s->pos += h.hlen + (h.kind == K_BLOB ? h.n : 0);
  }
  item_done(s);
  return MPK_OK;
}

int mpk_scan_run(mpk_scan_t *s, const unsigned char *p, size_t len)
{
  while (!s->done) {
    if (s->pos >= len) {
      return MPK_EMORE;
    }
    // Small integers and short strings (most map keys) take the short
    // way: they are most of the items in typical messages.
    unsigned b = p[s->pos];
    if (b <= 0x7f || b >= 0xe0) {
      s->pos += 1;
    } else if (b >= 0xa0 && b <= 0xbf) {
      s->pos += 1 + (b & 0x1f);
    } else {
      int rc = scan_head(s, p, len, b);
      if (rc != MPK_OK) {
        return rc;
      }
      continue;
    }
    item_done(s);
  }
  return s->pos <= len ? MPK_OK : MPK_EMORE;
}
