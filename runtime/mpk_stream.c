// msgpack stream reader (see mpk_stream.h).
#include "mpk_stream.h"

#include <stdlib.h>
#include <string.h>

// An idle stream keeps up to this much buffer for the next values.
#define STREAM_KEEP (64 * 1024)
#define STREAM_MIN 4096

void mpk_stream_init(mpk_stream_t *s, int max_depth, size_t max_size)
{
  s->buf = NULL;
  s->head = s->len = s->cap = 0;
  s->base = 0;
  s->max_size = max_size;
  mpk_scan_init(&s->scan, max_depth);
  s->max_depth = s->scan.max_depth;
  memset(&s->err, 0, sizeof s->err);
}

void mpk_stream_close(mpk_stream_t *s)
{
  free(s->buf);
  s->buf = NULL;
  s->head = s->len = s->cap = 0;
}

// Drops the last value; once nothing is buffered, rewinds and lets go of
// a buffer that a large value grew.
static void stream_release(mpk_stream_t *s)
{
  if (s->head == s->len) {
    s->head = s->len = 0;
    if (s->cap > STREAM_KEEP) {
      free(s->buf);
      s->buf = NULL;
      s->cap = 0;
    }
  }
}

static int stream_reserve(mpk_stream_t *s, size_t n)
{
  if (s->head > 0) {
    memmove(s->buf, s->buf + s->head, s->len - s->head);
    s->len -= s->head;
    s->head = 0;
  }
  if (n > (size_t)-1 / 2 - s->len) {
    return MPK_ENOMEM;
  }
  size_t cap = s->cap < STREAM_MIN ? STREAM_MIN : s->cap;
  while (cap < s->len + n) {
    cap *= 2;
  }
  if (cap != s->cap) {
    char *p = realloc(s->buf, cap);
    if (p == NULL) {
      return MPK_ENOMEM;
    }
    s->buf = p;
    s->cap = cap;
  }
  return MPK_OK;
}

int mpk_stream_feed(mpk_stream_t *s, const char *p, size_t n)
{
  if (s->err.code != MPK_OK) {
    return s->err.code;
  }
  stream_release(s);
  if (n == 0) {
    return MPK_OK;
  }
  if (n > s->cap - s->len && stream_reserve(s, n) != MPK_OK) {
    return MPK_ENOMEM;
  }
  memcpy(s->buf + s->len, p, n);
  s->len += n;
  return MPK_OK;
}

static int stream_fail(mpk_stream_t *s, int code, uint64_t limit)
{
  s->err.code = code;
  s->err.start = s->base;
  s->err.at = s->base + s->scan.pos;
  s->err.given = s->len - s->head;
  s->err.limit = limit;
  s->err.byte = code == MPK_EBADBYTE ? (unsigned char)s->buf[s->head +
                                                            s->scan.pos]
                                     : 0;
  return code;
}

int mpk_stream_next(mpk_stream_t *s, const char **value, size_t *size)
{
  if (s->err.code != MPK_OK) {
    return s->err.code;
  }
  stream_release(s);
  if (s->head == s->len) {
    return MPK_EMORE;
  }
  int rc = mpk_scan_run(&s->scan, (const unsigned char *)s->buf + s->head,
                        s->len - s->head);
  if (s->max_size > 0 && s->scan.pos > s->max_size) {
    return stream_fail(s, MPK_ETOOBIG, s->max_size);
  }
  if (rc == MPK_EMORE) {
    return rc;
  }
  if (rc != MPK_OK) {
    return stream_fail(s, rc, (uint64_t)s->max_depth);
  }
  *value = s->buf + s->head;
  *size = (size_t)s->scan.pos;
  s->head += *size;
  s->base += *size;
  mpk_scan_init(&s->scan, s->max_depth);
  return MPK_OK;
}

size_t mpk_stream_buffered(const mpk_stream_t *s)
{
  return s->len - s->head;
}

uint64_t mpk_stream_offset(const mpk_stream_t *s)
{
  return s->base;
}

void mpk_stream_reset(mpk_stream_t *s)
{
  s->base += s->len - s->head;
  s->head = s->len = 0;
  mpk_scan_init(&s->scan, s->max_depth);
  memset(&s->err, 0, sizeof s->err);
}
