// A resumable msgpack scanner: finds where one value ends without
// building it, checks its nesting depth and rejects bytes that start no
// value. It never allocates, so a hostile header (an array that claims four
// billion elements) costs nothing until its bytes arrive. The stream
// reader frames values with it before msgpack-c decodes them.
#ifndef HILT_MPK_SCAN_H
#define HILT_MPK_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "mpk_err.h"

/// The deepest nesting of arrays and maps hilt reads or writes: the wire's
/// limit. Decoders recurse once per level, so it also bounds their stack.
#define MPK_DEPTH_MAX 64

typedef struct {
  uint64_t pos;   // offset of the next header, from the value's first byte
  int depth;      // containers open
  int max_depth;  // 0..MPK_DEPTH_MAX
  int done;       // the value's last header has been read
  uint64_t left[MPK_DEPTH_MAX]; // items still to come in each container
} mpk_scan_t;

/// Starts scanning a new value. max_depth is clamped to 0..MPK_DEPTH_MAX.
void mpk_scan_init(mpk_scan_t *s, int max_depth);

/// Scans p[0..len), the value's bytes received so far; call again with the
/// same p (possibly moved) and a larger len when more arrive. Returns
/// MPK_OK when the value is complete (it is s->pos bytes long), MPK_EMORE,
/// MPK_EBADBYTE or MPK_EDEPTH (then s->pos is the offset of the offending
/// byte, and the scanner must be re-initialised before reuse). While
/// MPK_EMORE, s->pos may exceed len: it is then the offset where the value
/// resumes after a string, binary or ext payload still in flight.
int mpk_scan_run(mpk_scan_t *s, const unsigned char *p, size_t len);

#endif
