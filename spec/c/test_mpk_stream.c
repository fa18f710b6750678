// Unit tests of runtime/mpk_stream.c: values split at every byte, many
// values per chunk, buffered counts, limits, failures and reset.
#include <string.h>

#include "check.h"
#include "mpk_item.h"
#include "mpk_stream.h"

#include <msgpack.h>

// Three values as msgpack-c packs them: 1, [true, "abc"], {"k": 1.5}.
static msgpack_sbuffer three_values(void)
{
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_array(&pk, 2);
  msgpack_pack_true(&pk);
  msgpack_pack_str_with_body(&pk, "abc", 3);
  msgpack_pack_map(&pk, 1);
  msgpack_pack_str_with_body(&pk, "k", 1);
  msgpack_pack_double(&pk, 1.5);
  return sb;
}

// The next value's first item; *size is the whole value's length.
static int next_item(mpk_stream_t *s, mpk_item_t *it, size_t *size)
{
  const char *v;
  size_t n = 0, pos = 0;
  int rc = mpk_stream_next(s, &v, &n);
  if (size != NULL) {
    *size = n;
  }
  if (rc == MPK_OK && mpk_item_read(v, n, &pos, it) != MPK_OK) {
    return MPK_EBADBYTE;
  }
  return rc;
}

// Takes every complete value; returns how many, checking each one's kind
// and length against the expected sequence.
static int drain(mpk_stream_t *s, int *seen)
{
  static const int want[] = {MPK_UINT, MPK_ARRAY, MPK_MAP};
  static const size_t want_size[] = {1, 6, 12};
  mpk_item_t it;
  size_t size;
  int n = 0;
  while (next_item(s, &it, &size) == MPK_OK) {
    if (*seen >= 3 || it.kind != want[*seen] || size != want_size[*seen]) {
      return -1;
    }
    (*seen)++;
    n++;
  }
  return n;
}

static void test_every_split(void)
{
  msgpack_sbuffer sb = three_values();
  int ok = 1;
  for (size_t i = 0; i <= sb.size; i++) {
    mpk_stream_t s;
    int seen = 0;
    mpk_stream_init(&s, MPK_DEPTH_MAX, 0);
    ok &= mpk_stream_feed(&s, sb.data, i) == MPK_OK;
    ok &= drain(&s, &seen) >= 0;
    ok &= mpk_stream_feed(&s, sb.data + i, sb.size - i) == MPK_OK;
    ok &= drain(&s, &seen) >= 0 && seen == 3;
    ok &= mpk_stream_buffered(&s) == 0 && mpk_stream_offset(&s) == sb.size;
    mpk_stream_close(&s);
  }
  CHECK(ok);
  msgpack_sbuffer_destroy(&sb);
}

static void test_byte_by_byte(void)
{
  msgpack_sbuffer sb = three_values();
  mpk_stream_t s;
  int seen = 0, ok = 1;
  mpk_stream_init(&s, MPK_DEPTH_MAX, 0);
  for (size_t i = 0; i < sb.size; i++) {
    ok &= mpk_stream_feed(&s, sb.data + i, 1) == MPK_OK;
    ok &= drain(&s, &seen) >= 0;
  }
  CHECK(ok && seen == 3);
  // A partial value is buffered until its last byte arrives.
  mpk_stream_feed(&s, "\x92\x01", 2);
  mpk_item_t it;
  CHECK(next_item(&s, &it, NULL) == MPK_EMORE);
  CHECK(mpk_stream_buffered(&s) == 2);
  mpk_stream_feed(&s, "\x02\x03", 2);
  CHECK(next_item(&s, &it, NULL) == MPK_OK && it.n == 2);
  CHECK(mpk_stream_buffered(&s) == 1);
  CHECK(mpk_stream_offset(&s) == sb.size + 3);
  mpk_stream_close(&s);
  mpk_stream_close(&s);
  msgpack_sbuffer_destroy(&sb);
}

static void test_large_value(void)
{
  static char big[100005];
  mpk_stream_t s;
  mpk_item_t it;
  big[0] = (char)0xdb;
  big[1] = 0;
  big[2] = 0x01;
  big[3] = (char)0x86;
  big[4] = (char)0xa0;  // str32 of 100000 bytes
  memset(big + 5, 'x', 100000);
  mpk_stream_init(&s, MPK_DEPTH_MAX, 0);
  int more = 1;
  for (size_t i = 0; i < sizeof big; i += 1000) {
    size_t n = sizeof big - i < 1000 ? sizeof big - i : 1000;
    mpk_stream_feed(&s, big + i, n);
    int rc = next_item(&s, &it, NULL);
    more &= i + n < sizeof big ? rc == MPK_EMORE : rc == MPK_OK;
  }
  CHECK(more);
  CHECK(it.kind == MPK_STR && it.n == 100000);
  // Once drained, the stream lets go of the large buffer.
  CHECK(next_item(&s, &it, NULL) == MPK_EMORE);
  CHECK(s.buf == NULL && s.cap == 0);
  mpk_stream_close(&s);
}

static void test_failure_and_reset(void)
{
  mpk_stream_t s;
  mpk_item_t it;
  char msg[200];
  mpk_stream_init(&s, MPK_DEPTH_MAX, 0);
  mpk_stream_feed(&s, "\x01\xc1\x02", 3);
  CHECK(next_item(&s, &it, NULL) == MPK_OK);
  CHECK(next_item(&s, &it, NULL) == MPK_EBADBYTE);
  CHECK(s.err.at == 1 && s.err.byte == 0xc1);
  CHECK(strcmp(mpk_err_format(&s.err, msg, sizeof msg),
               "malformed input: invalid byte 0xc1 at byte 2") == 0);
  CHECK(next_item(&s, &it, NULL) == MPK_EBADBYTE);
  CHECK(mpk_stream_feed(&s, "\x03", 1) == MPK_EBADBYTE);
  mpk_stream_reset(&s);
  CHECK(mpk_stream_buffered(&s) == 0 && mpk_stream_offset(&s) == 3);
  mpk_stream_feed(&s, "\x07", 1);
  CHECK(next_item(&s, &it, NULL) == MPK_OK && it.v.u == 7);
  mpk_stream_close(&s);
}

static void test_limits(void)
{
  mpk_stream_t s;
  mpk_item_t it;
  // The header alone shows the value will not fit in max_size.
  mpk_stream_init(&s, MPK_DEPTH_MAX, 10);
  mpk_stream_feed(&s, "\x01\xb4" "0123", 6);
  CHECK(next_item(&s, &it, NULL) == MPK_OK);
  CHECK(next_item(&s, &it, NULL) == MPK_ETOOBIG);
  CHECK(s.err.start == 1 && s.err.limit == 10);
  mpk_stream_close(&s);
  mpk_stream_init(&s, MPK_DEPTH_MAX, 10);
  mpk_stream_feed(&s, "\xa9" "012345678", 10);
  CHECK(next_item(&s, &it, NULL) == MPK_OK);
  mpk_stream_close(&s);
  mpk_stream_init(&s, 3, 0);
  mpk_stream_feed(&s, "\x91\x91\x91\x01\x91\x91\x91\x91\x01", 9);
  CHECK(next_item(&s, &it, NULL) == MPK_OK);
  CHECK(next_item(&s, &it, NULL) == MPK_EDEPTH);
  CHECK(s.err.at == 7 && s.err.limit == 3);
  mpk_stream_close(&s);
  // A hostile count waits for bytes and allocates nothing for them.
  mpk_stream_init(&s, MPK_DEPTH_MAX, 0);
  mpk_stream_feed(&s, "\xdd\xff\xff\xff\xff", 5);
  CHECK(next_item(&s, &it, NULL) == MPK_EMORE);
  CHECK(mpk_stream_buffered(&s) == 5 && s.cap <= 4096);
  mpk_stream_close(&s);
}

int main(void)
{
  test_every_split();
  test_byte_by_byte();
  test_large_value();
  test_failure_and_reset();
  test_limits();
  return check_summary();
}
