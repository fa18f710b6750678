// Unit tests of runtime/mpk_read.c and mpk_err.c: one-shot decoding and
// the reports a user reads when the input is bad.
#include <string.h>

#include "check.h"
#include "mpk_read.h"
#include "mpk_scan.h"

typedef struct {
  int rc;
  size_t off;
  mpk_err_t err;
  msgpack_object obj;
  char msg[200];
} read_t;

static read_t read_at(const char *data, size_t len, size_t off)
{
  read_t r;
  msgpack_zone *z = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
  memset(&r, 0, sizeof r);
  r.off = off;
  r.rc = mpk_read_next(z, &r.obj, data, len, &r.off, &r.err);
  if (r.rc != MPK_OK) {
    mpk_err_format(&r.err, r.msg, sizeof r.msg);
  } else if (r.obj.type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
             r.obj.type != MSGPACK_OBJECT_NIL) {
    // Keep only scalars: the zone goes away here.
    r.obj.type = MSGPACK_OBJECT_NIL;
  }
  msgpack_zone_free(z);
  return r;
}

static void test_success(void)
{
  read_t r = read_at("\x01\x02", 2, 0);
  CHECK(r.rc == MPK_OK && r.off == 1);
  CHECK(r.obj.type == MSGPACK_OBJECT_POSITIVE_INTEGER && r.obj.via.u64 == 1);
  r = read_at("\x01\x02", 2, 1);
  CHECK(r.rc == MPK_OK && r.off == 2 && r.obj.via.u64 == 2);
  r = read_at("\x92\x01\xa1x", 4, 0);
  CHECK(r.rc == MPK_OK && r.off == 4);
}

static void test_truncated(void)
{
  read_t r = read_at("\x92\x01", 2, 0);
  CHECK(r.rc == MPK_EMORE && r.err.start == 0 && r.err.given == 2);
  CHECK(strcmp(r.msg, "truncated input: value starting at byte 1 needs "
                      "more than the 2 bytes given") == 0);
  r = read_at("\x01\x92\x01", 3, 1);
  CHECK(strcmp(r.msg, "truncated input: value starting at byte 2 needs "
                      "more than the 2 bytes given") == 0);
  r = read_at("", 0, 0);
  CHECK(r.rc == MPK_EMORE && r.err.given == 0);
  // A header that claims four billion elements reads as truncated, not as
  // a crash or an out-of-memory error.
  r = read_at("\xdd\xff\xff\xff\xff\x01", 6, 0);
  CHECK(r.rc == MPK_EMORE);
}

static void test_malformed(void)
{
  read_t r = read_at("\x92\x01\xc1", 3, 0);
  CHECK(r.rc == MPK_EBADBYTE && r.err.at == 2 && r.err.byte == 0xc1);
  CHECK(strcmp(r.msg, "malformed input: invalid byte 0xc1 at byte 3") == 0);
  r = read_at("\x00\xc1", 2, 1);
  CHECK(r.rc == MPK_EBADBYTE && r.err.at == 1);
}

static void test_too_deep(void)
{
  char v[40];
  memset(v, 0x91, sizeof v);
  v[32] = 0x01;
  read_t r = read_at(v, 33, 0);
  CHECK(r.rc == MPK_OK && r.off == 33);
  v[32] = 0x91;
  v[33] = 0x01;
  r = read_at(v, 34, 0);
  CHECK(r.rc == MPK_EDEPTH && r.err.at == 32 && r.err.limit == MPK_DEPTH_MAX);
  CHECK(strcmp(r.msg, "nesting deeper than 32 levels at byte 33") == 0);
}

static void test_names(void)
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
  e.code = MPK_ENOMEM;
  CHECK(strcmp(mpk_err_format(&e, msg, sizeof msg), "out of memory") == 0);
  // A short buffer still gets a terminated message.
  e.code = MPK_EMORE;
  CHECK(strlen(mpk_err_format(&e, msg, 10)) == 9);
}

// One zone serves value after value when cleared in between.
static void test_zone_reuse(void)
{
  msgpack_zone *z = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
  msgpack_object obj;
  mpk_err_t err;
  int ok = 1;
  for (int i = 0; i < 1000; i++) {
    size_t off = 0;
    ok &= mpk_read_next(z, &obj, "\x92\xa1x\x91\x07", 5, &off, &err) ==
          MPK_OK;
    ok &= obj.via.array.ptr[1].via.array.ptr[0].via.u64 == 7;
    msgpack_zone_clear(z);
  }
  CHECK(ok);
  msgpack_zone_free(z);
}

int main(void)
{
  test_success();
  test_truncated();
  test_malformed();
  test_too_deep();
  test_names();
  test_zone_reuse();
  return check_summary();
}
