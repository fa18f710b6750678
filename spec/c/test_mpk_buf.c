// Unit tests of runtime/mpk_buf.c: growth, reuse, header splicing, and
// the sticky failure flag, with msgpack-c's packer writing into it.
#include <msgpack.h>
#include <string.h>

#include "check.h"
#include "mpk_buf.h"

static void test_packer_writes(void)
{
  mpk_buf_t b;
  msgpack_packer pk;
  mpk_buf_init(&b);
  msgpack_packer_init(&pk, &b, mpk_buf_write);
  msgpack_pack_array(&pk, 3);
  msgpack_pack_int(&pk, 1);
  msgpack_pack_int(&pk, -1);
  msgpack_pack_str_with_body(&pk, "ab", 2);
  CHECK(b.len == 6);
  CHECK(memcmp(b.data, "\x93\x01\xff\xa2" "ab", 6) == 0);
  mpk_buf_free(&b);
  CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
}

static void test_growth_and_reuse(void)
{
  mpk_buf_t b;
  char chunk[1000];
  mpk_buf_init(&b);
  int ok = 1;
  for (int i = 0; i < 300; i++) {
    memset(chunk, i & 0xff, sizeof chunk);
    ok &= mpk_buf_write(&b, chunk, sizeof chunk) == 0;
  }
  CHECK(ok);
  CHECK(b.len == 300000 && b.cap >= b.len);
  CHECK((unsigned char)b.data[299999] == (299 & 0xff));
  size_t cap = b.cap;
  mpk_buf_reset(&b);
  CHECK(b.len == 0 && b.cap == cap);
  mpk_buf_trim(&b, 1 << 30);
  CHECK(b.data != NULL);
  mpk_buf_trim(&b, 1024);
  CHECK(b.data == NULL && b.cap == 0);
  CHECK(mpk_buf_write(&b, "", 0) == 0 && b.len == 0);
  mpk_buf_free(&b);
}

static void test_splice(void)
{
  mpk_buf_t b;
  mpk_buf_init(&b);
  mpk_buf_write(&b, "Xabc", 4);
  CHECK(mpk_buf_splice(&b, 0, 1, "\x83", 1) == 0);
  CHECK(b.len == 4 && memcmp(b.data, "\x83" "abc", 4) == 0);
  CHECK(mpk_buf_splice(&b, 0, 1, "\xde\x00\x10", 3) == 0);
  CHECK(b.len == 6 && memcmp(b.data, "\xde\x00\x10" "abc", 6) == 0);
  CHECK(mpk_buf_splice(&b, 3, 3, "", 0) == 0 && b.len == 3);
  CHECK(mpk_buf_splice(&b, 4, 1, "x", 1) == -1);
  mpk_buf_truncate(&b, 1);
  CHECK(b.len == 1);
  mpk_buf_truncate(&b, 5);
  CHECK(b.len == 1);
  mpk_buf_free(&b);
}

static void test_failure_is_sticky(void)
{
  mpk_buf_t b;
  mpk_buf_init(&b);
  mpk_buf_write(&b, "a", 1);
  CHECK(mpk_buf_write(&b, "b", (size_t)-1) == -1);
  CHECK(b.failed);
  mpk_buf_write(&b, "c", 1);
  CHECK(b.failed);
  mpk_buf_reset(&b);
  CHECK(!b.failed && b.len == 0);
  mpk_buf_free(&b);
}

int main(void)
{
  test_packer_writes();
  test_growth_and_reuse();
  test_splice();
  test_failure_is_sticky();
  return check_summary();
}
