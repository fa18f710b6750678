// A growable byte buffer that msgpack-c's packer writes into. One buffer
// is meant to be reused across many packs: reset keeps its memory.
#ifndef HILT_MPK_BUF_H
#define HILT_MPK_BUF_H

#include <stddef.h>

typedef struct {
  char *data;  // owned; NULL until the first write
  size_t len;
  size_t cap;
  int failed;  // a write could not grow the buffer; sticky until reset
} mpk_buf_t;

void mpk_buf_init(mpk_buf_t *b);

/// Empties the buffer and clears `failed`, keeping its memory.
void mpk_buf_reset(mpk_buf_t *b);

/// Frees the memory if more than `keep` bytes are held, so one huge value
/// does not pin its buffer for the life of the process.
void mpk_buf_trim(mpk_buf_t *b, size_t keep);

void mpk_buf_free(mpk_buf_t *b);

/// Cuts the buffer back to its first len bytes (len <= b->len).
void mpk_buf_truncate(mpk_buf_t *b, size_t len);

/// Replaces the `del` bytes at pos with p[0..n), moving what follows.
/// Lets a packer write a placeholder header and fix it once the element
/// count is known. Returns 0, or -1 when out of memory (sets `failed`).
int mpk_buf_splice(mpk_buf_t *b, size_t pos, size_t del, const char *p,
                   size_t n);

/// Appends p[0..n). A msgpack_packer_write callback: `data` is the
/// mpk_buf_t. Returns 0, or -1 when out of memory: then `failed` is set,
/// the contents are garbage, and callers check `failed` once at the end.
int mpk_buf_write(void *data, const char *p, size_t n);

#endif
