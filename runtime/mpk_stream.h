// A msgpack stream framer: bytes go in as they arrive, in chunks of any
// size; the bytes of whole values come out, for a decoder to walk with
// mpk_item. The scanner frames each value, so a value split across chunks
// is never scanned twice, a decoder only sees complete values, and depth
// and size limits hold before anything is allocated for a value.
//
// After a malformed, too deep or too large value the stream stays failed
// (msgpack has no resynchronisation point) until mpk_stream_reset.
// Offsets in reports count from the first byte ever fed.
#ifndef HILT_MPK_STREAM_H
#define HILT_MPK_STREAM_H

#include <stddef.h>

#include "mpk_err.h"
#include "mpk_scan.h"

typedef struct {
  char *buf;         // owned; buf[head..len) is fed and not yet returned
  size_t head;
  size_t len;
  size_t cap;
  uint64_t base;     // stream offset of buf[head]
  size_t max_size;   // largest value in bytes; 0 for no limit
  int max_depth;
  mpk_scan_t scan;   // progress through the value at buf[head]
  mpk_err_t err;     // err.code != MPK_OK once failed
} mpk_stream_t;

/// Starts an empty stream; max_depth is clamped to 0..MPK_DEPTH_MAX.
/// Allocates nothing until the first feed.
void mpk_stream_init(mpk_stream_t *s, int max_depth, size_t max_size);

/// Frees everything; the stream may be initialised again. Idempotent.
void mpk_stream_close(mpk_stream_t *s);

/// Appends p[0..n). Returns MPK_OK, MPK_ENOMEM (nothing appended), or the
/// stream's earlier failure (nothing appended). Invalidates the bytes of
/// the last mpk_stream_next.
int mpk_stream_feed(mpk_stream_t *s, const char *p, size_t n);

/// Takes the next complete value. MPK_OK sets *value and *size to its
/// bytes, which stay valid until the next call on s; MPK_EMORE means wait
/// for more bytes; any other code is a failure described by s->err, and is
/// returned again by later calls.
int mpk_stream_next(mpk_stream_t *s, const char **value, size_t *size);

/// Bytes fed and not yet returned as values.
size_t mpk_stream_buffered(const mpk_stream_t *s);

/// Bytes returned as values so far: the stream offset of the next value.
uint64_t mpk_stream_offset(const mpk_stream_t *s);

/// Drops the buffered bytes and any failure. Offsets keep counting.
void mpk_stream_reset(mpk_stream_t *s);

#endif
