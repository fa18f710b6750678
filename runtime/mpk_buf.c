// Growable output buffer for msgpack-c's packer (see mpk_buf.h).
#include "mpk_buf.h"

#include <stdlib.h>
#include <string.h>

#define MPK_BUF_MIN 1024

void mpk_buf_init(mpk_buf_t *b)
{
  b->data = NULL;
  b->len = b->cap = 0;
  b->failed = 0;
}

void mpk_buf_reset(mpk_buf_t *b)
{
  b->len = 0;
  b->failed = 0;
}

void mpk_buf_free(mpk_buf_t *b)
{
  free(b->data);
  mpk_buf_init(b);
}

void mpk_buf_trim(mpk_buf_t *b, size_t keep)
{
  if (b->cap > keep) {
    mpk_buf_free(b);
  }
}

static int buf_grow(mpk_buf_t *b, size_t need)
{
  size_t cap = b->cap < MPK_BUF_MIN ? MPK_BUF_MIN : b->cap;
  while (cap < need) {
    if (cap > (size_t)-1 / 2) {
      return -1;
    }
    cap *= 2;
  }
  char *p = realloc(b->data, cap);
  if (p == NULL) {
    return -1;
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

// Copies the short pieces a packer writes most (headers, numbers) without
// a call to memcpy.
static void copy_small(char *d, const char *p, size_t n)
{
  switch (n) {
  case 1:
    d[0] = p[0];
    break;
  case 2:
    memcpy(d, p, 2);
    break;
  case 3:
    memcpy(d, p, 3);
    break;
  case 5:
    memcpy(d, p, 5);
    break;
  case 9:
    memcpy(d, p, 9);
    break;
  default:
    memcpy(d, p, n);
  }
}

static int buf_write_slow(mpk_buf_t *b, const char *p, size_t n)
{
  if (b->failed) {
    return -1;
  }
  if (n > (size_t)-1 - b->len || buf_grow(b, b->len + n) != 0) {
    b->failed = 1;
    return -1;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

// Once `failed`, writes that still fit go on harmlessly: the caller
// checks `failed` and throws the contents away.
int mpk_buf_write(void *data, const char *p, size_t n)
{
  mpk_buf_t *b = data;
  if (n > b->cap - b->len) {
    return buf_write_slow(b, p, n);
  }
  if (n > 0) {
    copy_small(b->data + b->len, p, n);
    b->len += n;
  }
  return 0;
}

void mpk_buf_truncate(mpk_buf_t *b, size_t len)
{
  if (len < b->len) {
    b->len = len;
  }
}

int mpk_buf_splice(mpk_buf_t *b, size_t pos, size_t del, const char *p,
                   size_t n)
{
  if (b->failed || pos > b->len || del > b->len - pos) {
    return -1;
  }
  if (n > del && n - del > b->cap - b->len) {
    if (n - del > (size_t)-1 - b->len || buf_grow(b, b->len + n - del) != 0) {
      b->failed = 1;
      return -1;
    }
  }
  if (n != del) {
    memmove(b->data + pos + n, b->data + pos + del, b->len - pos - del);
  }
  memcpy(b->data + pos, p, n);
  b->len = b->len - del + n;
  return 0;
}
