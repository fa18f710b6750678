// Unit tests of runtime/rpc_msg.c and rpc_optab.c: every message shape
// parsed from the bytes a peer sends, the errors for wrong ones, envelopes
// written and read back, and the table of operations.
#include <string.h>

#include <msgpack.h>

#include "check.h"
#include "rpc_msg.h"
#include "rpc_optab.h"

static int parse(const char *p, size_t n, rpc_msg_t *m, const char **why)
{
  *why = NULL;
  return rpc_msg_parse(p, n, m, why);
}

#define PARSE(lit, m, why) parse(lit, sizeof lit - 1, m, why)

static void test_standard(void)
{
  rpc_msg_t m;
  const char *why;
  // [0, 1, "power/on", []]
  CHECK(PARSE("\x94\x00\x01\xa8power/on\x90", &m, &why) == RPC_MSG_OK);
  CHECK(m.type == RPC_REQUEST && m.id == 1 && m.method.n == 8 &&
        memcmp(m.method.p, "power/on", 8) == 0 && m.params.n == 1);
  CHECK(m.opts.sub == RPC_SUB_FULL && !m.opts.has_timeout);
  // [1, 1, nil, true] and [1, 2, "boom", nil]
  CHECK(PARSE("\x94\x01\x01\xc0\xc3", &m, &why) == RPC_MSG_OK);
  CHECK(m.type == RPC_RESPONSE && !m.failed && m.result.n == 1);
  CHECK(PARSE("\x94\x01\x02\xa4" "boom\xc0", &m, &why) == RPC_MSG_OK);
  CHECK(m.failed && m.error.n == 5);
  // [2, "log", ["x"]]
  CHECK(PARSE("\x93\x02\xa3log\x91\xa1x", &m, &why) == RPC_MSG_OK);
  CHECK(m.type == RPC_NOTIFY && m.params.n == 3);
  // Ids up to 2^32-1, as uint 32.
  CHECK(PARSE("\x94\x00\xce\xff\xff\xff\xff\xa1m\x90", &m, &why) ==
            RPC_MSG_OK && m.id == UINT32_MAX);
}

static void test_extensions(void)
{
  rpc_msg_t m;
  const char *why;
  // [3, 7, "read", [], {"timeout": 2.5, "trace": "t1", "sub": 1,
  //  "credit": 8, "other": [1]}]
  CHECK(PARSE("\x95\x03\x07\xa4read\x90\x85\xa7timeout\xcb\x40\x04\0\0\0\0\0\0"
              "\xa5trace\xa2t1\xa3sub\x01\xa6" "credit\x08\xa5other\x91\x01",
              &m, &why) == RPC_MSG_OK);
  CHECK(m.type == RPC_CALL && m.opts.has_timeout && m.opts.timeout == 2.5);
  CHECK(m.opts.trace.n == 2 && memcmp(m.opts.trace.p, "t1", 2) == 0);
  CHECK(m.opts.sub == RPC_SUB_DONE && m.opts.has_credit && m.opts.credit == 8);
  // [4, 7, 0, 0, 42] and [5, 7, 3, 3, 32] and [5, 7, 4, 1, bin "ab"]
  CHECK(PARSE("\x95\x04\x07\x00\x00\x2a", &m, &why) == RPC_MSG_OK);
  CHECK(m.type == RPC_TO_CALLER && m.kind == RPC_ITEM && m.payload.n == 1);
  CHECK(PARSE("\x95\x05\x07\x03\x03\x20", &m, &why) == RPC_MSG_OK);
  CHECK(m.kind == RPC_CREDIT && m.seq == 3 && m.count == 32);
  CHECK(PARSE("\x95\x05\x07\x04\x01\xc4\x02" "ab", &m, &why) == RPC_MSG_OK);
  CHECK(m.kind == RPC_DATA && m.payload.n == 4);
  CHECK(PARSE("\x95\x05\x07\x00\x06\xcb\x40\x04\0\0\0\0\0\0", &m, &why) ==
            RPC_MSG_OK && m.kind == RPC_DEADLINE && m.seconds == 2.5);
  // docs/protocol.md's streaming call, byte for byte.
  CHECK(PARSE("\x95\x03\x07\xad" "console/lines\x90\x84\xa7timeout\x05"
              "\xa3sub\x00\xa6" "credit\x40\xa6stream\xc3",
              &m, &why) == RPC_MSG_OK);
  CHECK(m.opts.stream && m.opts.credit == 64 && m.opts.timeout == 5 &&
        m.opts.sub == RPC_SUB_FULL);
  CHECK(PARSE("\x95\x03\x07\xa1x\x90\x81\xa6stream\x01", &m, &why) ==
        RPC_MSG_EOP);
  CHECK(strcmp(why, "option stream must be a boolean") == 0);
}

static void test_fatal(void)
{
  static const struct {
    const char *bytes;
    size_t n;
    const char *why;
  } cases[] = {
      {"\x01", 1, "message is not an array of 2 or more"},
      {"\x91\x00", 2, "message is not an array of 2 or more"},
      {"\x92\x09\x01", 3, "unknown message type"},
      {"\x92\xa1x\x01", 4, "unknown message type"},
      {"\x94\x00\xff\xa1m\x90", 6,
       "message id must be an unsigned 32-bit integer"},
      {"\x94\x00\xcf\0\0\0\1\0\0\0\0\xa1m\x90", 14,
       "message id must be an unsigned 32-bit integer"},
      {"\x93\x01\x01\xc0", 4, "a response has 4 elements"},
      {"\x94\x02\xa1m\x90\x90", 6, "a notification has 3 elements"},
  };
  int ok = 1;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rpc_msg_t m;
    const char *why;
    ok &= parse(cases[i].bytes, cases[i].n, &m, &why) == RPC_MSG_EFATAL &&
          strcmp(why, cases[i].why) == 0;
  }
  CHECK(ok);
}

static void test_op_errors(void)
{
  rpc_msg_t m;
  const char *why;
  CHECK(PARSE("\x94\x00\x05\x01\x90", &m, &why) == RPC_MSG_EOP && m.id == 5);
  CHECK(strcmp(why, "method must be a string") == 0);
  CHECK(PARSE("\x94\x00\x05\xa1m\x01", &m, &why) == RPC_MSG_EOP);
  CHECK(strcmp(why, "params must be an array") == 0);
  CHECK(PARSE("\x93\x00\x05\xa1m", &m, &why) == RPC_MSG_EOP);
  CHECK(strcmp(why, "a request has 4 elements") == 0);
  CHECK(PARSE("\x95\x03\x05\xa1m\x90\x81\xa3sub\x07", &m, &why) ==
        RPC_MSG_EOP);
  CHECK(strcmp(why, "option sub must be 0, 1 or 2") == 0);
  CHECK(PARSE("\x95\x03\x05\xa1m\x90\x81\xa7timeout\xff", &m, &why) ==
        RPC_MSG_EOP);
  CHECK(PARSE("\x95\x03\x05\xa1m\x90\x90", &m, &why) == RPC_MSG_EOP);
  CHECK(strcmp(why, "call options must be a map") == 0);
  // Kinds a callee may not send, and payloads of the wrong type.
  CHECK(PARSE("\x95\x04\x07\x00\x04\xc0", &m, &why) == RPC_MSG_EOP);
  CHECK(strcmp(why, "unknown stream message kind") == 0);
  CHECK(PARSE("\x95\x05\x07\x00\x03\xa1x", &m, &why) == RPC_MSG_EOP);
  CHECK(PARSE("\x95\x05\x07\x00\x01\x01", &m, &why) == RPC_MSG_EOP);
  CHECK(PARSE("\x95\x05\x07\x00\x06\x00", &m, &why) == RPC_MSG_EOP);
  // A long method path.
  char big[1100];
  memcpy(big, "\x94\x00\x05\xda\x04\x01", 6);  // str16 of 1025 bytes
  memset(big + 6, 'a', 1025);
  big[1031] = (char)0x90;
  CHECK(parse(big, 1032, &m, &why) == RPC_MSG_EOP);
  CHECK(strcmp(why, "method path longer than 1024 bytes") == 0);
}

static void test_envelopes(void)
{
  mpk_buf_t b;
  msgpack_packer pk;
  rpc_msg_t m;
  const char *why;
  mpk_buf_init(&b);
  msgpack_packer_init(&pk, &b, mpk_buf_write);
  rpc_msg_put_request(&b, 9, "a/b", 3);
  msgpack_pack_array(&pk, 0);
  CHECK(parse(b.data, b.len, &m, &why) == RPC_MSG_OK && m.id == 9 &&
        m.type == RPC_REQUEST);
  mpk_buf_reset(&b);
  rpc_opts_t o = {.has_timeout = 1, .timeout = 0.25, .sub = RPC_SUB_DONE,
                  .trace = {"abc", 3}, .has_credit = 1, .credit = 5,
                  .stream = 1};
  rpc_msg_put_call(&b, 10, "x", 1);
  msgpack_pack_array(&pk, 0);
  rpc_msg_put_opts(&b, &o);
  CHECK(parse(b.data, b.len, &m, &why) == RPC_MSG_OK && m.id == 10);
  CHECK(m.opts.timeout == 0.25 && m.opts.sub == RPC_SUB_DONE &&
        m.opts.trace.n == 3 && m.opts.credit == 5 && m.opts.stream);
  mpk_buf_reset(&b);
  rpc_msg_put_error(&b, 11, "not_found", "no method 'x'");
  CHECK(parse(b.data, b.len, &m, &why) == RPC_MSG_OK && m.failed);
  mpk_buf_reset(&b);
  rpc_msg_put_credit(&b, RPC_TO_CALLEE, 12, 4, 100);
  CHECK(parse(b.data, b.len, &m, &why) == RPC_MSG_OK && m.count == 100 &&
        m.seq == 4);
  mpk_buf_reset(&b);
  rpc_msg_put_signal(&b, RPC_TO_CALLEE, 12, 5, RPC_CANCEL);
  CHECK(parse(b.data, b.len, &m, &why) == RPC_MSG_OK &&
        m.kind == RPC_CANCEL);
  mpk_buf_reset(&b);
  rpc_msg_put_notify(&b, "n", 1);
  msgpack_pack_array(&pk, 0);
  CHECK(parse(b.data, b.len, &m, &why) == RPC_MSG_OK &&
        m.type == RPC_NOTIFY);
  // The hello reply, byte for byte as docs/protocol.md shows it.
  mpk_buf_reset(&b);
  rpc_msg_put_hello_reply(&b, 1, "hilt 0.1.0", 16u << 20, 64, 10000);
  static const char hello[] =
      "\x94\x01\x01\xc0\x83\xa7version\x01\xa4name\xaahilt 0.1.0"
      "\xa6limits\x85\xa7message\xce\x01\x00\x00\x00\xa5" "depth\x40"
      "\xa7pending\xcd\x27\x10\xa5trace\x40\xa6method\xcd\x04\x00";
  CHECK(b.len == sizeof hello - 1 && memcmp(b.data, hello, b.len) == 0);
  mpk_buf_free(&b);
}

static void test_optab(void)
{
  rpc_optab_t t;
  static int ops[20000];
  int ok = 1;
  rpc_optab_init(&t);
  CHECK(rpc_optab_get(&t, 1) == NULL && rpc_optab_del(&t, 1) == NULL);
  for (uint32_t i = 0; i < 20000; i++) {
    ok &= rpc_optab_put(&t, i * 7919u, &ops[i]) == 0;
  }
  for (uint32_t i = 0; i < 20000; i++) {
    ok &= rpc_optab_get(&t, i * 7919u) == &ops[i];
  }
  CHECK(ok && t.count == 20000);
  // Delete every other one; the rest stay findable (backward shift).
  for (uint32_t i = 0; i < 20000; i += 2) {
    ok &= rpc_optab_del(&t, i * 7919u) == &ops[i];
  }
  for (uint32_t i = 0; i < 20000; i++) {
    ok &= rpc_optab_get(&t, i * 7919u) == (i % 2 ? &ops[i] : NULL);
  }
  CHECK(ok && t.count == 10000);
  for (uint32_t i = 1; i < 20000; i += 2) {
    ok &= rpc_optab_del(&t, i * 7919u) == &ops[i];
  }
  // Emptied, it shrinks back.
  CHECK(ok && t.count == 0 && t.cap <= 16);
  rpc_optab_free(&t);
}

int main(void)
{
  test_standard();
  test_extensions();
  test_fatal();
  test_op_errors();
  test_envelopes();
  test_optab();
  return check_summary();
}
