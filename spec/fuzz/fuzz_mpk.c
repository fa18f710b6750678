// libFuzzer target for the msgpack input path: the resumable scanner, fed
// the input whole and byte by byte, and a walk of the same bytes item by
// item with mpk_item (the reader the decoders use). Any crash, hang, leak
// or disagreement between them is a bug.
//   scripts/fuzz [seconds]
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpk_item.h"
#include "mpk_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Walks one value as a decoder does; returns MPK_OK with *end, or a failure.
static int walk(const char *p, size_t len, size_t *pos, int depth)
{
  mpk_item_t it;
  int rc = mpk_item_read(p, len, pos, &it);
  if (rc != MPK_OK) {
    return rc;
  }
  if (it.kind != MPK_ARRAY && it.kind != MPK_MAP) {
    return MPK_OK;
  }
  if (depth >= MPK_DEPTH_MAX) {
    return MPK_EDEPTH;
  }
  uint64_t items = it.kind == MPK_MAP ? 2 * (uint64_t)it.n : it.n;
  for (uint64_t i = 0; i < items; i++) {
    rc = walk(p, len, pos, depth + 1);
    if (rc != MPK_OK) {
      return rc;
    }
  }
  return MPK_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  mpk_scan_t s;
  mpk_scan_init(&s, MPK_DEPTH_MAX);
  int scan = mpk_scan_run(&s, data, size);

  // Byte by byte, the scanner must reach the same verdict.
  mpk_scan_t t;
  mpk_scan_init(&t, MPK_DEPTH_MAX);
  int step = MPK_EMORE;
  for (size_t n = 0; n <= size && step == MPK_EMORE; n++) {
    step = mpk_scan_run(&t, data, n);
  }
  if (step != scan || (scan == MPK_OK && t.pos != s.pos)) {
    abort();
  }

  size_t pos = 0;
  int item = walk((const char *)data, size, &pos, 0);
  // Both must agree on whether a complete value starts the input, on its
  // length, and on what is wrong when none does.
  if (item != scan) {
    abort();
  }
  if (scan == MPK_OK && pos != s.pos) {
    abort();
  }
  return 0;
}
