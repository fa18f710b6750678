// ESHET frame reader (see eshet_frame.h).
//
// The grammar of the stream:
//
//   stream  := frame*
//   frame   := 0x47 length:u16be payload     length >= 1
//   payload := byte{length}                   one message (eshet_msg.h)
//
// The state between chunks is the start of the frame that spans them; a
// frame inside one chunk is never copied. The first byte is checked as
// soon as it arrives, the length as soon as the header is whole, so a
// broken stream is found at the same byte however it is chunked.
#include "eshet_frame.h"

#include <stdlib.h>
#include <string.h>

// An idle reader keeps a buffer this large for the next spanning frame.
#define FRAME_KEEP 4096
#define FRAME_MIN_CAP 64

void eshet_frame_init(eshet_frame_t *f, size_t max_frame)
{
  f->buf = NULL;
  f->len = f->cap = 0;
  if (max_frame == 0 || max_frame > ESHET_FRAME_MAX) {
    max_frame = ESHET_FRAME_MAX;
  }
  f->max_frame = max_frame < ESHET_FRAME_MIN ? ESHET_FRAME_MIN : max_frame;
  f->offset = 0;
  eshet_err_set(&f->err, ESHET_OK);
}

void eshet_frame_close(eshet_frame_t *f)
{
  free(f->buf);
  f->buf = NULL;
  f->len = f->cap = 0;
}

// A broken stream holds nothing more.
static int frame_fail(eshet_frame_t *f, int code)
{
  f->len = 0;
  f->err.code = code;
  f->err.offset = f->offset;
  return code;
}

// The whole size of the frame whose first `have` bytes are at h; EMORE
// while its header is not complete.
static int frame_size(eshet_frame_t *f, const unsigned char *h, size_t have,
                      size_t *size)
{
  if (have == 0) {
    return ESHET_EMORE;
  }
  if (h[0] != ESHET_SYNC) {
    f->err.byte = h[0];
    return frame_fail(f, ESHET_ESYNC);
  }
  if (have < ESHET_HEADER) {
    return ESHET_EMORE;
  }
  size_t total = ESHET_HEADER + ((size_t)h[1] << 8 | h[2]);
  if (total == ESHET_HEADER) {
    return frame_fail(f, ESHET_EEMPTY);
  }
  if (total > f->max_frame) {
    f->err.size = total;
    f->err.need = f->max_frame;
    return frame_fail(f, ESHET_ETOOBIG);
  }
  *size = total;
  return ESHET_OK;
}

// Moves up to `want` bytes of the chunk onto the held frame.
static int frame_take(eshet_frame_t *f, const char **in, size_t *n,
                      size_t want)
{
  size_t k = want < *n ? want : *n;
  if (k == 0) {
    return ESHET_OK;
  }
  if (f->len + k > f->cap) {
    size_t cap = f->cap < FRAME_MIN_CAP ? FRAME_MIN_CAP : f->cap;
    while (cap < f->len + k) {
      cap *= 2;
    }
    char *p = realloc(f->buf, cap);
    if (p == NULL) {
      return frame_fail(f, ESHET_ENOMEM);
    }
    f->buf = p;
    f->cap = cap;
  }
  memcpy(f->buf + f->len, *in, k);
  f->len += k;
  *in += k;
  *n -= k;
  return ESHET_OK;
}

// Completes the held frame from the chunk: its header first, then exactly
// the rest of it, so the chunk's next frame stays in place.
static int frame_next_held(eshet_frame_t *f, const char **in, size_t *n,
                           const char **payload, size_t *size)
{
  size_t total;
  int rc = ESHET_OK;
  if (f->len < ESHET_HEADER) {
    rc = frame_take(f, in, n, ESHET_HEADER - f->len);
  }
  if (rc == ESHET_OK) {
    rc = frame_size(f, (const unsigned char *)f->buf, f->len, &total);
  }
  if (rc == ESHET_OK) {
    rc = frame_take(f, in, n, total - f->len);
  }
  if (rc != ESHET_OK) {
    return rc;
  }
  if (f->len < total) {
    return ESHET_EMORE;
  }
  *payload = f->buf + ESHET_HEADER;
  *size = total - ESHET_HEADER;
  f->offset += total;
  f->len = 0;
  return ESHET_OK;
}

int eshet_frame_next(eshet_frame_t *f, const char **in, size_t *n,
                     const char **payload, size_t *size)
{
  if (f->err.code != ESHET_OK) {
    return f->err.code;
  }
  // The frame returned last may sit in the buffer: only now is it free.
  if (f->len == 0 && f->cap > FRAME_KEEP) {
    eshet_frame_close(f);
  }
  if (f->len > 0) {
    return frame_next_held(f, in, n, payload, size);
  }
  size_t total;
  int rc = frame_size(f, (const unsigned char *)*in, *n, &total);
  if (rc == ESHET_OK && total <= *n) {
    *payload = *in + ESHET_HEADER;
    *size = total - ESHET_HEADER;
    *in += total;
    *n -= total;
    f->offset += total;
    return ESHET_OK;
  }
  if (rc != ESHET_OK && rc != ESHET_EMORE) {
    return rc;
  }
  rc = frame_take(f, in, n, *n);
  return rc == ESHET_OK ? ESHET_EMORE : rc;
}

void eshet_frame_fail(eshet_frame_t *f, const eshet_err_t *err)
{
  f->err = *err;
  eshet_frame_close(f);
}

size_t eshet_frame_buffered(const eshet_frame_t *f)
{
  return f->len;
}
