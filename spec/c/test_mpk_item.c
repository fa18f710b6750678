// Unit tests of runtime/mpk_item.c and mpk_err.c: every msgpack format read
// as an item, at its limits, and the reports a user reads when the input is
// bad.
#include <math.h>
#include <string.h>

#include <msgpack.h>

#include "check.h"
#include "mpk_item.h"

// Reads one item from the n bytes at s; checks it used exactly n.
static int read1(const char *s, size_t n, mpk_item_t *it)
{
  size_t pos = 0;
  int rc = mpk_item_read(s, n, &pos, it);
  return rc == MPK_OK && pos != n ? -100 : rc;
}

// Packs with msgpack-c, the reference encoder, and reads the item back.
typedef struct {
  msgpack_sbuffer sb;
  msgpack_packer pk;
} ref_t;

static ref_t *ref_start(ref_t *r)
{
  msgpack_sbuffer_init(&r->sb);
  msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
  return r;
}

static int ref_read(ref_t *r, mpk_item_t *it)
{
  int rc = read1(r->sb.data, r->sb.size, it);
  msgpack_sbuffer_destroy(&r->sb);
  return rc;
}

static void test_integers(void)
{
  static const int64_t ints[] = {0, 1, 127, 128, 255, 256, 65535, 65536,
                                 4294967295LL, 4294967296LL, INT64_MAX,
                                 -1, -32, -33, -128, -129, -32768, -32769,
                                 INT32_MIN, (int64_t)INT32_MIN - 1,
                                 INT64_MIN};
  int ok = 1;
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    ref_t r;
    mpk_item_t it;
    msgpack_pack_int64(&ref_start(&r)->pk, ints[i]);
    ok &= ref_read(&r, &it) == MPK_OK;
    ok &= ints[i] >= 0 ? it.kind == MPK_UINT && it.v.u == (uint64_t)ints[i]
                       : it.kind == MPK_INT && it.v.i == ints[i];
  }
  CHECK(ok);
  ref_t r;
  mpk_item_t it;
  msgpack_pack_uint64(&ref_start(&r)->pk, UINT64_MAX);
  CHECK(ref_read(&r, &it) == MPK_OK && it.kind == MPK_UINT &&
        it.v.u == UINT64_MAX);
  // Signed formats holding positive values keep their signed kind.
  CHECK(read1("\xd0\x05", 2, &it) == MPK_OK && it.kind == MPK_INT &&
        it.v.i == 5);
  CHECK(read1("\xd3\x7f\xff\xff\xff\xff\xff\xff\xff", 9, &it) == MPK_OK &&
        it.v.i == INT64_MAX);
}

static void test_scalars(void)
{
  mpk_item_t it;
  CHECK(read1("\xc0", 1, &it) == MPK_OK && it.kind == MPK_NIL);
  CHECK(read1("\xc2", 1, &it) == MPK_OK && it.kind == MPK_BOOL && !it.v.b);
  CHECK(read1("\xc3", 1, &it) == MPK_OK && it.kind == MPK_BOOL && it.v.b);
  ref_t r;
  msgpack_pack_float(&ref_start(&r)->pk, 1.5f);
  CHECK(ref_read(&r, &it) == MPK_OK && it.kind == MPK_FLOAT32 &&
        it.v.f == 1.5);
  msgpack_pack_double(&ref_start(&r)->pk, -0.1);
  CHECK(ref_read(&r, &it) == MPK_OK && it.kind == MPK_FLOAT64 &&
        it.v.f == -0.1);
  msgpack_pack_double(&ref_start(&r)->pk, NAN);
  CHECK(ref_read(&r, &it) == MPK_OK && isnan(it.v.f));
}

static void test_blobs(void)
{
  static char body[70000];
  static const size_t sizes[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
  memset(body, 'b', sizeof body);
  int ok = 1;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    ref_t r;
    mpk_item_t it;
    msgpack_pack_str_with_body(&ref_start(&r)->pk, body, sizes[i]);
    ok &= ref_read(&r, &it) == MPK_OK && it.kind == MPK_STR &&
          it.n == sizes[i];
    msgpack_pack_bin_with_body(&ref_start(&r)->pk, body, sizes[i]);
    ok &= ref_read(&r, &it) == MPK_OK && it.kind == MPK_BIN &&
          it.n == sizes[i];
    msgpack_pack_ext_with_body(&ref_start(&r)->pk, body, sizes[i], -7);
    ok &= ref_read(&r, &it) == MPK_OK && it.kind == MPK_EXT &&
          it.n == sizes[i] && it.ext_type == -7;
  }
  CHECK(ok);
  mpk_item_t it;
  CHECK(read1("\xa3xyz", 4, &it) == MPK_OK && memcmp(it.p, "xyz", 3) == 0);
}

static void test_containers(void)
{
  ref_t r;
  mpk_item_t it;
  msgpack_pack_array(&ref_start(&r)->pk, 70000);
  CHECK(ref_read(&r, &it) == MPK_OK && it.kind == MPK_ARRAY &&
        it.n == 70000);
  msgpack_pack_map(&ref_start(&r)->pk, 15);
  CHECK(ref_read(&r, &it) == MPK_OK && it.kind == MPK_MAP && it.n == 15);
  // Only the header is read: the elements are the next items.
  size_t pos = 0;
  CHECK(mpk_item_read("\x92\x01\x02", 3, &pos, &it) == MPK_OK && pos == 1);
  CHECK(mpk_item_read("\x92\x01\x02", 3, &pos, &it) == MPK_OK && pos == 2 &&
        it.v.u == 1);
}

static void test_bad_bytes(void)
{
  mpk_item_t it;
  size_t pos = 0;
  // Headers and payloads cut short.
  static const char *const cut[] = {"\xcc", "\xcd\x01", "\xcb\1\1\1",
                                    "\xd9\x05" "abc", "\xc7\x01",
                                    "\xdd\xff\xff", "\xd4\x01", ""};
  int ok = 1;
  for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
    ok &= mpk_item_read(cut[i], strlen(cut[i]), &pos, &it) == MPK_EMORE;
    ok &= pos == 0;
  }
  CHECK(ok);
  CHECK(mpk_item_read("\xc1", 1, &pos, &it) == MPK_EBADBYTE && pos == 0);
  // A huge count is only a count: nothing is read or allocated for it.
  CHECK(read1("\xdd\xff\xff\xff\xff", 5, &it) == MPK_OK &&
        it.n == UINT32_MAX);
}

static void test_reports(void)
{
  CHECK(strcmp(mpk_err_name(MPK_EMORE), "truncated") == 0);
  CHECK(strcmp(mpk_err_name(MPK_EBADBYTE), "malformed") == 0);
  CHECK(strcmp(mpk_err_name(MPK_EDEPTH), "too_deep") == 0);
  CHECK(strcmp(mpk_err_name(MPK_ETOOBIG), "too_large") == 0);
  CHECK(strcmp(mpk_err_name(MPK_ENOMEM), "no_memory") == 0);
  mpk_err_t e = {.code = MPK_ETOOBIG, .start = 9, .limit = 100};
  char msg[100];
  CHECK(strcmp(mpk_err_format(&e, msg, sizeof msg),
               "value starting at byte 10 is larger than the limit of 100 "
               "bytes") == 0);
  e = (mpk_err_t){.code = MPK_EMORE, .start = 1, .given = 2};
  CHECK(strcmp(mpk_err_format(&e, msg, sizeof msg),
               "truncated input: value starting at byte 2 needs more than "
               "the 2 bytes given") == 0);
  e = (mpk_err_t){.code = MPK_EBADBYTE, .at = 2, .byte = 0xc1};
  CHECK(strcmp(mpk_err_format(&e, msg, sizeof msg),
               "malformed input: invalid byte 0xc1 at byte 3") == 0);
  e.code = MPK_ENOMEM;
  CHECK(strcmp(mpk_err_format(&e, msg, sizeof msg), "out of memory") == 0);
  // A short buffer still gets a terminated message.
  e.code = MPK_EMORE;
  CHECK(strlen(mpk_err_format(&e, msg, 10)) == 9);
}

int main(void)
{
  test_integers();
  test_scalars();
  test_blobs();
  test_containers();
  test_bad_bytes();
  test_reports();
  return check_summary();
}
