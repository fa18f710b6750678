// One-shot decoding with msgpack-c (see mpk_read.h).
//
// msgpack_unpack decodes into the caller's zone, so a reused zone costs no
// malloc per value. It reports failures without an offset, and says NOMEM
// both when its 32-level stack is full and when an allocation fails (a
// header may claim billions of elements); the scanner, which walks the
// same grammar without allocating, tells what failed and where.
#include "mpk_read.h"

#include "mpk_scan.h"

static int read_fail(const char *data, size_t len, size_t off, int rc,
                     mpk_err_t *err)
{
  mpk_scan_t s;
  err->start = off;
  err->given = len > off ? len - off : 0;
  err->at = off;
  err->limit = MPK_DEPTH_MAX;
  err->byte = 0;
  err->code = MPK_EMORE;
  if (rc == MSGPACK_UNPACK_CONTINUE) {
    return err->code;
  }
  mpk_scan_init(&s, MPK_DEPTH_MAX);
  rc = mpk_scan_run(&s, (const unsigned char *)data + off, len - off);
  err->code = rc == MPK_OK ? MPK_ENOMEM : rc;
  if (rc == MPK_EBADBYTE || rc == MPK_EDEPTH) {
    err->at = off + s.pos;
    err->byte = rc == MPK_EBADBYTE ? (unsigned char)data[off + s.pos] : 0;
  }
  return err->code;
}

int mpk_read_next(msgpack_zone *zone, msgpack_object *obj, const char *data,
                  size_t len, size_t *off, mpk_err_t *err)
{
  size_t at = *off;
  int rc = msgpack_unpack(data, len, &at, zone, obj);
  if (rc == MSGPACK_UNPACK_SUCCESS || rc == MSGPACK_UNPACK_EXTRA_BYTES) {
    *off = at;
    return MPK_OK;
  }
  return read_fail(data, len, *off, rc, err);
}
