// Unit tests of runtime/mpk_scan.c: value boundaries for every msgpack
// format, resumption at every byte, depth limits as msgpack-c counts them,
// invalid bytes, and hostile headers that must cost nothing.
#include <msgpack.h>
#include <string.h>

#include "check.h"
#include "mpk_scan.h"

// Scans p[0..n) in one call; returns the status, *pos the scanner's pos.
static int scan(const void *p, size_t n, int max_depth, uint64_t *pos)
{
  mpk_scan_t s;
  mpk_scan_init(&s, max_depth);
  int rc = mpk_scan_run(&s, p, n);
  *pos = s.pos;
  return rc;
}

// The value msgpack-c packs into sb is found whole, and no prefix of it is
// (every prefix of a short value; the longest few of a long one).
static void check_framed(const msgpack_sbuffer *sb)
{
  uint64_t pos;
  CHECK(scan(sb->data, sb->size, MPK_DEPTH_MAX, &pos) == MPK_OK);
  CHECK(pos == sb->size);
  int prefixes_ok = 1;
  for (size_t i = 0; i < sb->size; i++) {
    if (sb->size < 300 || i < 10 || sb->size - i < 10) {
      prefixes_ok &= scan(sb->data, i, MPK_DEPTH_MAX, &pos) == MPK_EMORE;
    }
  }
  CHECK(prefixes_ok);
}

static void test_every_format(void)
{
  static const char blob[70000];
  static const size_t sizes[] = {0, 1, 2, 4, 8, 16, 31, 32, 255, 256,
                                 65535, 65536};
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  static const int64_t ints[] = {0, 127, 128, 255, 256, 65535, 65536,
                                 4294967295LL, 4294967296LL, -1, -32, -33,
                                 -128, -129, -32768, -32769, INT64_MIN};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_int64(&pk, ints[i]);
    check_framed(&sb);
  }
  msgpack_sbuffer_clear(&sb);
  msgpack_pack_uint64(&pk, UINT64_MAX);
  check_framed(&sb);
  msgpack_sbuffer_clear(&sb);
  msgpack_pack_float(&pk, 1.5f);
  check_framed(&sb);
  msgpack_sbuffer_clear(&sb);
  msgpack_pack_double(&pk, 1.5);
  check_framed(&sb);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_str_with_body(&pk, blob, sizes[i]);
    check_framed(&sb);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_bin_with_body(&pk, blob, sizes[i]);
    check_framed(&sb);
    if (sizes[i] > 0) {
      msgpack_sbuffer_clear(&sb);
      msgpack_pack_ext_with_body(&pk, blob, sizes[i], 7);
      check_framed(&sb);
    }
  }
  msgpack_sbuffer_destroy(&sb);
}

static void test_containers(void)
{
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  static const size_t counts[] = {0, 1, 15, 16, 65535, 65536};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, counts[i]);
    for (size_t j = 0; j < counts[i]; j++) {
      msgpack_pack_nil(&pk);
    }
    check_framed(&sb);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, counts[i]);
    for (size_t j = 0; j < counts[i]; j++) {
      msgpack_pack_int(&pk, (int)j);
      msgpack_pack_str_with_body(&pk, "v", 1);
    }
    check_framed(&sb);
  }
  msgpack_sbuffer_destroy(&sb);
}

// Feeding one more byte per call finds the end exactly once, at the end.
static void test_resume(void)
{
  const unsigned char v[] = {0x93, 0x01, 0xa3, 'a', 'b', 'c', 0x81, 0xc0,
                             0xc4, 0x02, 0xff, 0xfe};
  mpk_scan_t s;
  mpk_scan_init(&s, MPK_DEPTH_MAX);
  int more = 1;
  for (size_t n = 0; n < sizeof v; n++) {
    more &= mpk_scan_run(&s, v, n) == MPK_EMORE;
  }
  CHECK(more);
  CHECK(mpk_scan_run(&s, v, sizeof v) == MPK_OK);
  CHECK(s.pos == sizeof v);
  // Bytes after the value are not part of it.
  uint64_t pos;
  CHECK(scan("\x01\x02", 2, MPK_DEPTH_MAX, &pos) == MPK_OK && pos == 1);
}

static void test_depth(void)
{
  unsigned char v[MPK_DEPTH_MAX + 8];
  uint64_t pos;
  memset(v, 0x91, sizeof v);
  v[MPK_DEPTH_MAX] = 0x01;
  CHECK(scan(v, MPK_DEPTH_MAX + 1, MPK_DEPTH_MAX, &pos) == MPK_OK &&
        pos == MPK_DEPTH_MAX + 1);
  v[MPK_DEPTH_MAX] = 0x90;  // an empty array counts as a level too
  CHECK(scan(v, MPK_DEPTH_MAX + 1, MPK_DEPTH_MAX, &pos) == MPK_EDEPTH &&
        pos == MPK_DEPTH_MAX);
  v[MPK_DEPTH_MAX] = 0x91;
  v[MPK_DEPTH_MAX + 1] = 0x01;
  CHECK(scan(v, MPK_DEPTH_MAX + 2, MPK_DEPTH_MAX, &pos) == MPK_EDEPTH &&
        pos == MPK_DEPTH_MAX);
  CHECK(scan("\x91\x91\x91\x01", 4, 2, &pos) == MPK_EDEPTH && pos == 2);
  CHECK(scan("\x91\x91\x01", 3, 2, &pos) == MPK_OK);
  CHECK(scan("\x80", 1, 0, &pos) == MPK_EDEPTH && pos == 0);
  CHECK(scan("\x01", 1, 0, &pos) == MPK_OK);
  mpk_scan_t s;
  mpk_scan_init(&s, 99);
  CHECK(s.max_depth == MPK_DEPTH_MAX);
}

static void test_bad_bytes(void)
{
  uint64_t pos;
  CHECK(scan("\xc1", 1, MPK_DEPTH_MAX, &pos) == MPK_EBADBYTE && pos == 0);
  CHECK(scan("\x92\x01\xc1", 3, MPK_DEPTH_MAX, &pos) == MPK_EBADBYTE &&
        pos == 2);
  // Inside a string 0xc1 is just a byte.
  CHECK(scan("\xa1\xc1", 2, MPK_DEPTH_MAX, &pos) == MPK_OK && pos == 2);
}

static void test_hostile_headers(void)
{
  uint64_t pos;
  // Four billion elements announced, none sent: wait, allocate nothing.
  CHECK(scan("\xdd\xff\xff\xff\xff", 5, MPK_DEPTH_MAX, &pos) == MPK_EMORE);
  CHECK(pos == 5);
  CHECK(scan("\xdf\xff\xff\xff\xff\x01", 6, MPK_DEPTH_MAX, &pos) ==
        MPK_EMORE);
  // A 4 GiB string in flight: pos says where the value resumes.
  CHECK(scan("\xdb\xff\xff\xff\xff" "abc", 8, MPK_DEPTH_MAX, &pos) ==
        MPK_EMORE);
  CHECK(pos == 5 + 0xffffffffULL);
}

int main(void)
{
  test_every_format();
  test_containers();
  test_resume();
  test_depth();
  test_bad_bytes();
  test_hostile_headers();
  return check_summary();
}
