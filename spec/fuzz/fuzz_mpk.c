// libFuzzer target for the msgpack input path: the allocation-free scanner
// and the one-shot reader (scanner + msgpack-c) fed the same bytes. Any
// crash, hang, leak or disagreement between them is a bug.
//   scripts/fuzz [seconds]
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpk_read.h"
#include "mpk_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  mpk_scan_t s;
  mpk_scan_init(&s, MPK_DEPTH_MAX);
  int scan = mpk_scan_run(&s, data, size);

  msgpack_zone zone;
  msgpack_zone_init(&zone, 1024);
  msgpack_object obj;
  mpk_err_t err;
  size_t off = 0;
  int read = mpk_read_next(&zone, &obj, (const char *)data, size, &off, &err);
  msgpack_zone_destroy(&zone);

  // Both must agree on whether a complete value starts the input, and on
  // its length.
  if ((scan == MPK_OK) != (read == MPK_OK)) {
    abort();
  }
  if (scan == MPK_OK && off != s.pos) {
    abort();
  }
  return 0;
}
