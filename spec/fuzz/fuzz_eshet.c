// libFuzzer target for ESHET's binary protocol (runtime/eshet_*.c): the
// input is a stream from a peer. It is read whole, one byte at a time and
// in chunks of 2 to 30 bytes (the input's size picks how many); all three
// must give the same messages and end the same way (the same report, or
// the same bytes held). Every message is encoded again, and must come back as the
// very bytes of its frame: the layout has one encoding per message. Any
// crash, hang, leak or disagreement is a bug.
//   scripts/fuzz [seconds]
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eshet_frame.h"
#include "eshet_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  char *out;        // the frames of the messages read, encoded again
  size_t len;
  int rc;           // what ended the stream: EMORE or a failure
  char report[200];
  size_t held;
} result_t;

// Encodes m and appends the frame to r->out, after checking that it is
// the frame read: the header of `payload`, then payload itself.
static void append(result_t *r, const eshet_msg_t *m, const char *payload,
                   size_t n)
{
  size_t fsize;
  eshet_err_t err;
  if (eshet_msg_check(m, &fsize, &err) != ESHET_OK || fsize != n + 3) {
    abort();
  }
  char *f = r->out + r->len;
  if (eshet_msg_write(m, f) != fsize || (unsigned char)f[0] != ESHET_SYNC ||
      (size_t)((unsigned char)f[1] << 8 | (unsigned char)f[2]) != n ||
      memcmp(f + 3, payload, n) != 0) {
    abort();
  }
  r->len += fsize;
}

// Reads data in chunks of `chunk` bytes (0 for all at once).
static void read_stream(const uint8_t *data, size_t size, size_t chunk,
                        result_t *r)
{
  eshet_frame_t f;
  eshet_frame_init(&f, 0);
  r->out = malloc(size + 1);
  r->len = 0;
  r->rc = ESHET_EMORE;
  size_t pos = 0;
  while (r->rc == ESHET_EMORE && pos < size) {
    size_t n = chunk == 0 || chunk > size - pos ? size - pos : chunk;
    const char *in = (const char *)data + pos, *payload;
    size_t payload_len;
    pos += n;
    while ((r->rc = eshet_frame_next(&f, &in, &n, &payload,
                                     &payload_len)) == ESHET_OK) {
      eshet_msg_t m;
      eshet_err_t err;
      if (eshet_msg_parse(payload, payload_len, &m, &err) != ESHET_OK) {
        eshet_frame_fail(&f, &err);
        continue;
      }
      append(r, &m, payload, payload_len);
    }
  }
  eshet_err_format(&f.err, r->report, sizeof r->report);
  r->held = eshet_frame_buffered(&f);
  eshet_frame_close(&f);
}

static int same(const result_t *a, const result_t *b)
{
  return a->rc == b->rc && a->len == b->len &&
         memcmp(a->out, b->out, a->len) == 0 &&
         strcmp(a->report, b->report) == 0 && a->held == b->held;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  result_t whole, bytes, chunks;
  read_stream(data, size, 0, &whole);
  read_stream(data, size, 1, &bytes);
  read_stream(data, size, size % 29 + 2, &chunks);
  // The messages read are the stream's first bytes, encoded again; what
  // is held is the rest, when nothing broke it.
  if ((whole.len > 0 && memcmp(whole.out, data, whole.len) != 0) ||
      (whole.rc == ESHET_EMORE && whole.len + whole.held != size)) {
    abort();
  }
  if (!same(&whole, &bytes) || !same(&whole, &chunks)) {
    abort();
  }
  free(whole.out);
  free(bytes.out);
  free(chunks.out);
  return 0;
}
