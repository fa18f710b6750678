// libFuzzer target for the HTTP request parser (runtime/http_req.c). An
// input is a config byte and the bytes a peer sends:
//
//   config: bits 0-5 pick max_head (16 + 8 * n bytes, or the default 16 KiB
//           for 63), bits 6-7 max_body (0, 5, 64 bytes or 1 MiB);
//           also the seed of the chunk sizes of the third run.
//
// The bytes are parsed three times: whole, one byte at a time, and in
// chunks of 1 to 16 bytes. Each run must complete the same requests
// (compared by a digest of every field), fail with the same status and
// reason, and agree again after eof. LeakSanitizer checks that the parser
// frees everything it allocates.
//   scripts/fuzz [seconds]
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  uint64_t digest;  // FNV-1a over every request's fields, in order
  size_t count;
  int failed, status;
  char why[96];
} outcome_t;

static void mix(uint64_t *h, const void *p, size_t n)
{
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    *h = (*h ^ b[i]) * 0x100000001b3ull;
  }
  // The length too, so that "ab"+"c" and "a"+"bc" differ.
  for (size_t i = 0; i < sizeof n; i++) {
    *h = (*h ^ ((n >> (8 * i)) & 0xff)) * 0x100000001b3ull;
  }
}

static void take_all(http_req_parser_t *p, outcome_t *o)
{
  http_req_t *r;
  while ((r = http_req_parser_take(p)) != NULL) {
    int flags[] = {r->version_major, r->version_minor, r->keep_alive,
                   r->upgrade, r->has_query};
    mix(&o->digest, r->method, strlen(r->method));
    mix(&o->digest, flags, sizeof flags);
    mix(&o->digest, r->head, r->url_len);
    mix(&o->digest, r->head + r->path, r->path_len);
    mix(&o->digest, r->head + r->query, r->has_query ? r->query_len : 0);
    for (size_t i = 0; i < r->n_headers; i++) {
      const http_req_header_t *h = &r->headers[i];
      mix(&o->digest, r->head + h->name, h->name_len);
      mix(&o->digest, r->head + h->value, h->value_len);
    }
    mix(&o->digest, r->body, r->body_len);
    if (r->body_len > 0 && r->body == NULL) {
      abort();
    }
    o->count++;
    http_req_free(r);
  }
}

static void finish(http_req_parser_t *p, outcome_t *o, int rc)
{
  take_all(p, o);
  if (rc != 0) {
    o->failed = 1;
    o->status = p->status;
    memcpy(o->why, p->why, sizeof o->why);
  }
}

// Parses data[0..size) in chunks: all at once (step 0), `step` bytes at a
// time, or sizes drawn from seed (step < 0). Then eof.
static void run(const uint8_t *data, size_t size, size_t max_head,
                size_t max_body, int step, unsigned seed, outcome_t *o,
                outcome_t *at_eof)
{
  http_req_parser_t p;
  http_req_parser_init(&p, max_head, max_body);
  memset(o, 0, sizeof *o);
  o->digest = 0xcbf29ce484222325ull;
  size_t off = 0;
  int rc = 0;
  while (off < size && rc == 0) {
    size_t n = size - off;
    if (step > 0) {
      n = (size_t)step;
    } else if (step < 0) {
      seed = seed * 1103515245u + 12345u;
      n = 1 + (seed >> 16) % 16;
    }
    n = n < size - off ? n : size - off;
    rc = http_req_parser_feed(&p, (const char *)data + off, n);
    take_all(&p, o);
    off += n;
  }
  finish(&p, o, rc);
  *at_eof = *o;
  finish(&p, at_eof, http_req_parser_eof(&p));
  // A failed parser answers the same again.
  if (at_eof->failed && http_req_parser_feed(&p, "x", 1) != -1) {
    abort();
  }
  http_req_parser_close(&p);
}

static int same(const outcome_t *a, const outcome_t *b)
{
  return a->digest == b->digest && a->count == b->count &&
         a->failed == b->failed && a->status == b->status &&
         strcmp(a->why, b->why) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const size_t bodies[] = {0, 5, 64, 1024 * 1024};
  if (size == 0) {
    return 0;
  }
  uint8_t cfg = data[0];
  size_t max_head = (cfg & 63) == 63 ? 16384 : 16 + 8 * (size_t)(cfg & 63);
  size_t max_body = bodies[cfg >> 6];
  outcome_t whole, whole_eof, bytes, bytes_eof, chunks, chunks_eof;
  run(data + 1, size - 1, max_head, max_body, 0, 0, &whole, &whole_eof);
  run(data + 1, size - 1, max_head, max_body, 1, 0, &bytes, &bytes_eof);
  run(data + 1, size - 1, max_head, max_body, -1, cfg, &chunks, &chunks_eof);
  if (!same(&whole, &bytes) || !same(&whole, &chunks) ||
      !same(&whole_eof, &bytes_eof) || !same(&whole_eof, &chunks_eof)) {
    abort();
  }
  if (whole.failed && whole.status != 400 && whole.status != 413 &&
      whole.status != 431) {
    abort();
  }
  return 0;
}
