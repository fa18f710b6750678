// One-shot decoding with msgpack-c (see mpk_read.h).
//
// msgpack_unpack decodes into the caller's zone, so a reused zone costs no
// malloc per value. It sizes its allocations from the headers, so a few
// hostile bytes (an array claiming four billion elements) would make it ask
// for gigabytes; the scanner walks the value first without allocating, so
// msgpack-c only ever sees a complete value whose counts its bytes back. The
// scanner also tells what failed and where, which msgpack-c does not.
#include "mpk_read.h"

#include "mpk_scan.h"

static int read_fail(const char *data, size_t len, size_t off, int rc,
                     const mpk_scan_t *s, mpk_err_t *err)
{
  err->start = off;
  err->given = len > off ? len - off : 0;
  err->at = off;
  err->limit = MPK_DEPTH_MAX;
  err->byte = 0;
  err->code = rc;
  if (rc == MPK_EBADBYTE || rc == MPK_EDEPTH) {
    err->at = off + s->pos;
    err->byte = rc == MPK_EBADBYTE ? (unsigned char)data[off + s->pos] : 0;
  }
  return rc;
}

int mpk_read_next(msgpack_zone *zone, msgpack_object *obj, const char *data,
                  size_t len, size_t *off, mpk_err_t *err)
{
  size_t at = *off;
  mpk_scan_t s;
  mpk_scan_init(&s, MPK_DEPTH_MAX);
  int rc = mpk_scan_run(&s, (const unsigned char *)data + at, len - at);
  if (rc != MPK_OK) {
    return read_fail(data, len, at, rc, &s, err);
  }
  rc = msgpack_unpack(data, at + s.pos, &at, zone, obj);
  if (rc == MSGPACK_UNPACK_SUCCESS || rc == MSGPACK_UNPACK_EXTRA_BYTES) {
    *off = at;
    return MPK_OK;
  }
  return read_fail(data, len, *off, MPK_ENOMEM, &s, err);
}
