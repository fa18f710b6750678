// Unit tests of runtime/rpc_session.c: two sessions joined by byte queues
// play caller and callee, and a hand-written peer sends what a broken or
// hostile one would.
#define _GNU_SOURCE  // memmem
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "check.h"
#include "rpc_session.h"

typedef struct {
  rpc_session_t s;
  mpk_buf_t wire;         // bytes this end wrote, not yet delivered
  int requests, notifies, responses, streams, fails;
  rpc_op_t *last_op;      // the last callee op handed to on_request
  rpc_msg_t last;         // the last message seen (spans into dead bytes)
  int last_failed;
  char last_method[32];
  const char *fail_why;
} end_t;

// Whether the end wrote text somewhere in its bytes.
static int wrote(const end_t *e, const char *text)
{
  return e->wire.len > 0 &&
         memmem(e->wire.data, e->wire.len, text, strlen(text)) != NULL;
}

static void on_request(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m)
{
  end_t *e = s->data;
  if (op == NULL) {
    e->notifies++;
  } else {
    e->requests++;
    e->last_op = op;
  }
  snprintf(e->last_method, sizeof e->last_method, "%.*s", (int)m->method.n,
           m->method.p);
}

static void on_response(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m)
{
  end_t *e = s->data;
  e->responses++;
  e->last_failed = m->failed;
}

static void on_stream(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m)
{
  end_t *e = s->data;
  e->streams++;
  e->last = *m;
}

static void on_fail(rpc_session_t *s, rpc_op_t *op, const char *why)
{
  end_t *e = s->data;
  e->fails++;
  e->fail_why = why;
}

static int write_cb(rpc_session_t *s, const char *p, size_t n)
{
  end_t *e = s->data;
  return mpk_buf_write(&e->wire, p, n);
}

static const rpc_session_cbs_t cbs = {on_request, on_response, on_stream,
                                      on_fail, write_cb};

static void end_init(end_t *e, const char *token)
{
  memset(e, 0, sizeof *e);
  mpk_buf_init(&e->wire);
  rpc_session_init(&e->s, NULL, &cbs, e, token, "test");
}

static void end_close(end_t *e)
{
  rpc_session_close(&e->s);
  mpk_buf_free(&e->wire);
}

// A caller a and a callee b, neither with a token.
static void ends_open(end_t *a, end_t *b)
{
  end_init(a, NULL);
  end_init(b, NULL);
}

static void ends_close(end_t *a, end_t *b)
{
  end_close(a);
  end_close(b);
}

// Delivers what from wrote to to's session; returns the feed's result.
static int pump(end_t *from, end_t *to)
{
  mpk_buf_t b = from->wire;
  mpk_buf_init(&from->wire);
  int rc = rpc_session_feed(&to->s, b.data, b.len);
  mpk_buf_free(&b);
  return rc;
}

static void send_request(end_t *e, rpc_op_t *op, const char *method)
{
  msgpack_packer pk;
  msgpack_packer_init(&pk, &e->wire, mpk_buf_write);
  rpc_msg_put_request(&e->wire, op->id, method, strlen(method));
  msgpack_pack_array(&pk, 0);
}

// A call [3, id, method, [], opts] for a streaming op begun with opts.
static rpc_op_t *begin_stream(end_t *e, const char *method, rpc_opts_t *o)
{
  o->stream = 1;
  rpc_op_t *op = rpc_session_begin(&e->s, o);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &e->wire, mpk_buf_write);
  rpc_msg_put_call(&e->wire, op->id, method, strlen(method));
  msgpack_pack_array(&pk, 0);
  rpc_msg_put_opts(&e->wire, o);
  return op;
}

static void respond(end_t *e, rpc_op_t *op)
{
  msgpack_packer pk;
  msgpack_packer_init(&pk, &e->wire, mpk_buf_write);
  rpc_msg_put_response(&e->wire, op->id);
  msgpack_pack_nil(&pk);
  msgpack_pack_true(&pk);
  rpc_session_end(&e->s, op);
}

static void test_unary(void)
{
  end_t a, b;
  ends_open(&a, &b);
  rpc_op_t *op = rpc_session_begin(&a.s, NULL);
  CHECK(op != NULL && op->id == 1);
  send_request(&a, op, "power/on");
  CHECK(pump(&a, &b) == 0 && b.requests == 1);
  CHECK(strcmp(b.last_method, "power/on") == 0);
  CHECK(rpc_session_pending(&b.s, RPC_CALLEE) == 1);
  respond(&b, b.last_op);
  CHECK(rpc_session_pending(&b.s, RPC_CALLEE) == 0);
  CHECK(pump(&b, &a) == 0 && a.responses == 1 && !a.last_failed);
  CHECK(rpc_session_pending(&a.s, RPC_CALLER) == 0);
  ends_close(&a, &b);
}

// Values split at every byte still arrive whole.
static void test_split(void)
{
  end_t a, b;
  ends_open(&a, &b);
  for (int i = 0; i < 3; i++) {
    send_request(&a, rpc_session_begin(&a.s, NULL), "x");
  }
  int ok = 1;
  for (size_t i = 0; i < a.wire.len; i++) {
    ok &= rpc_session_feed(&b.s, a.wire.data + i, 1) == 0;
  }
  CHECK(ok && b.requests == 3);
  ends_close(&a, &b);
}

// A cancelled op stays until its response, which is then dropped.
static void test_cancel_drains(void)
{
  end_t a, b;
  ends_open(&a, &b);
  rpc_op_t *op = rpc_session_begin(&a.s, NULL);
  send_request(&a, op, "slow");
  rpc_msg_put_signal(&a.wire, RPC_TO_CALLEE, op->id,
                     rpc_session_next_seq(op), RPC_CANCEL);
  rpc_session_end(&a.s, op);
  CHECK(rpc_session_pending(&a.s, RPC_CALLER) == 1);
  CHECK(pump(&a, &b) == 0 && b.requests == 1 && b.streams == 1);
  CHECK(b.last.kind == RPC_CANCEL);
  rpc_msg_put_error(&b.wire, b.last_op->id, "cancelled", "cancelled");
  rpc_session_end(&b.s, b.last_op);
  CHECK(pump(&b, &a) == 0 && a.responses == 0);
  CHECK(rpc_session_pending(&a.s, RPC_CALLER) == 0);
  ends_close(&a, &b);
}

static void test_stream_credit(void)
{
  end_t a, b;
  ends_open(&a, &b);
  rpc_opts_t o = {0};
  rpc_op_t *op = begin_stream(&a, "read", &o);
  pump(&a, &b);
  rpc_op_t *srv = b.last_op;
  CHECK(rpc_session_credit(&b.s, srv, RPC_ITEM) == 64);
  CHECK(rpc_session_credit(&b.s, srv, RPC_DATA) == 256 * 1024);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &b.wire, mpk_buf_write);
  int sent = 0;
  while (rpc_session_take_credit(&b.s, srv, RPC_ITEM, 1) == 0) {
    rpc_msg_put_stream(&b.wire, RPC_TO_CALLER, srv->id,
                       rpc_session_next_seq(srv), RPC_ITEM);
    msgpack_pack_int(&pk, sent++);
  }
  CHECK(sent == 64);
  CHECK(pump(&b, &a) == 0 && a.streams == 64 && op->credit_in == 0);
  // The caller grants more; the callee may send again.
  CHECK(rpc_session_grant(&a.s, op, 10) == 0);
  CHECK(pump(&a, &b) == 0 && srv->credit_out == 10);
  // One item beyond the credit fails the op, not the session.
  for (int i = 0; i < 11; i++) {
    rpc_msg_put_stream(&b.wire, RPC_TO_CALLER, srv->id,
                       rpc_session_next_seq(srv), RPC_ITEM);
    msgpack_pack_int(&pk, i);
  }
  CHECK(pump(&b, &a) == 0 && a.fails == 1);
  CHECK(strcmp(a.fail_why, "stream message beyond the credit granted") == 0);
  CHECK(!a.s.failed && op->done);
  // The caller's CANCEL reached the callee.
  CHECK(pump(&a, &b) == 0 && b.last.kind == RPC_CANCEL);
  ends_close(&a, &b);
}

// Appends DATA of n bytes on op to e's wire.
static void put_data(end_t *e, rpc_op_t *op, int type, size_t n)
{
  static char zeros[4096];
  msgpack_packer pk;
  msgpack_packer_init(&pk, &e->wire, mpk_buf_write);
  rpc_msg_put_stream(&e->wire, type, op->id, rpc_session_next_seq(op),
                     RPC_DATA);
  msgpack_pack_bin_with_body(&pk, zeros, n);
}

static void put_item(end_t *e, rpc_op_t *op, int type)
{
  msgpack_packer pk;
  msgpack_packer_init(&pk, &e->wire, mpk_buf_write);
  rpc_msg_put_stream(&e->wire, type, op->id, rpc_session_next_seq(op),
                     RPC_ITEM);
  msgpack_pack_nil(&pk);
}

// The first ITEM or DATA fixes a direction's mode and its default window;
// mixing, data after END and streams nobody asked for fail the op.
static void test_stream_modes(void)
{
  end_t a, b;
  ends_open(&a, &b);
  rpc_opts_t o = {.has_credit = 1, .credit = 5000};
  rpc_op_t *op = begin_stream(&a, "read", &o);
  pump(&a, &b);
  rpc_op_t *srv = b.last_op;
  CHECK(srv->streaming && rpc_session_credit(&b.s, srv, RPC_DATA) == 5000);
  CHECK(rpc_session_take_credit(&b.s, srv, RPC_DATA, 4096) == 0);
  CHECK(rpc_session_take_credit(&b.s, srv, RPC_DATA, 4096) == -1);
  CHECK(rpc_session_take_credit(&b.s, srv, RPC_ITEM, 1) == -2);
  put_data(&b, srv, RPC_TO_CALLER, 4096);
  CHECK(pump(&b, &a) == 0 && a.fails == 0 && op->credit_in == 5000 - 4096);
  CHECK(op->mode_in == RPC_MODE_BYTES);
  // An END, then nothing more but control.
  CHECK(rpc_session_signal(&b.s, srv, RPC_END) == 0);
  CHECK(rpc_session_signal(&b.s, srv, RPC_END) == 0 && srv->seq_out == 2);
  CHECK(rpc_session_take_credit(&b.s, srv, RPC_DATA, 1) == -2);
  CHECK(pump(&b, &a) == 0 && op->end_in && a.fails == 0);
  put_data(&b, srv, RPC_TO_CALLER, 1);
  CHECK(pump(&b, &a) == 0 && a.fails == 1);
  CHECK(strcmp(a.fail_why, "stream data after END") == 0);
  rpc_session_end(&b.s, srv);

  // Items then bytes in one direction.
  rpc_opts_t o2 = {0};
  op = begin_stream(&a, "read", &o2);
  pump(&a, &b);
  srv = b.last_op;
  put_item(&b, srv, RPC_TO_CALLER);
  put_data(&b, srv, RPC_TO_CALLER, 1);
  CHECK(pump(&b, &a) == 0 && a.fails == 2);
  CHECK(strcmp(a.fail_why, "items and bytes mixed in one direction") == 0);
  rpc_session_end(&b.s, srv);

  // A plain request takes no streams, either way.
  op = rpc_session_begin(&a.s, NULL);
  send_request(&a, op, "x");
  pump(&a, &b);
  srv = b.last_op;
  CHECK(!srv->streaming);
  CHECK(rpc_session_take_credit(&b.s, srv, RPC_ITEM, 1) == -2);
  put_item(&b, srv, RPC_TO_CALLER);
  CHECK(pump(&b, &a) == 0 && a.fails == 3);
  CHECK(strcmp(a.fail_why, "stream data for a call made without streams") ==
        0);
  rpc_session_end(&b.s, srv);

  // Input: the callee's window starts shut and opens with its grants.
  rpc_opts_t o3 = {0};
  op = begin_stream(&a, "write", &o3);
  pump(&a, &b);
  srv = b.last_op;
  CHECK(rpc_session_credit(&a.s, op, RPC_DATA) == 0);
  CHECK(rpc_session_grant(&b.s, srv, 100) == 0);
  CHECK(pump(&b, &a) == 0 && rpc_session_credit(&a.s, op, RPC_DATA) == 100);
  CHECK(rpc_session_take_credit(&a.s, op, RPC_DATA, 100) == 0);
  put_data(&a, op, RPC_TO_CALLEE, 100);
  CHECK(pump(&a, &b) == 0 && b.fails == 0 && srv->credit_in == 0);
  put_data(&a, op, RPC_TO_CALLEE, 1);
  CHECK(pump(&a, &b) == 0 && b.fails == 1);
  rpc_session_end(&b.s, srv);
  ends_close(&a, &b);
}

static void test_sequence(void)
{
  end_t a, b;
  ends_open(&a, &b);
  rpc_op_t *op = rpc_session_begin(&a.s, NULL);
  send_request(&a, op, "read");
  pump(&a, &b);
  rpc_msg_put_credit(&a.wire, RPC_TO_CALLEE, op->id, 5, 1);
  CHECK(pump(&a, &b) == 0 && b.fails == 1);
  CHECK(strcmp(b.fail_why, "stream message out of sequence") == 0);
  // The callee answers protocol once its handler stopped, then lets go of
  // the id; the caller gets the answer.
  CHECK(b.last_op->done && strcmp(b.last_op->why, b.fail_why) == 0);
  CHECK(pump(&b, &a) == 0 && a.responses == 0);
  rpc_msg_put_error(&b.wire, b.last_op->id, "protocol", b.last_op->why);
  rpc_session_end(&b.s, b.last_op);
  CHECK(pump(&b, &a) == 0 && a.responses == 1 && a.last_failed);
  ends_close(&a, &b);
}

static void test_fatal_input(void)
{
  static const struct {
    const char *bytes;
    size_t n;
    const char *why;
  } cases[] = {
      {"\xc1", 1, "bad message: malformed input: invalid byte 0xc1 at byte 1"},
      {"\x01", 1, "message is not an array of 2 or more"},
      {"\x94\x01\x05\xc0\xc0", 5,
       "response for id 5, which has no request in flight"},
      {"\x94\x00\x01\xa1m\x90\x94\x00\x01\xa1m\x90", 12,
       "request id 1 is already in flight"},
  };
  int ok = 1;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    end_t e;
    end_init(&e, NULL);
    ok &= rpc_session_feed(&e.s, cases[i].bytes, cases[i].n) == -1;
    ok &= strcmp(e.s.why, cases[i].why) == 0;
    ok &= rpc_session_feed(&e.s, "\x01", 1) == -1;  // stays failed
    if (e.last_op != NULL) {
      rpc_session_end(&e.s, e.last_op);
    }
    end_close(&e);
  }
  CHECK(ok);
  // Deeper than 64 levels, or a message over the size limit.
  end_t e;
  end_init(&e, NULL);
  char deep[70];
  memset(deep, 0x91, sizeof deep);
  CHECK(rpc_session_feed(&e.s, deep, sizeof deep) == -1);
  CHECK(strcmp(e.s.why, "bad message: nesting deeper than 64 levels at byte "
                        "65") == 0);
  end_close(&e);
  rpc_limits_t l;
  rpc_limits_default(&l);
  l.max_message = 10;
  memset(&e, 0, sizeof e);
  rpc_session_init(&e.s, &l, &cbs, &e, NULL, NULL);
  CHECK(rpc_session_feed(&e.s, "\x94\x00\x01\xaa" "0123456789\x90", 15) == -1);
  CHECK(strstr(e.s.why, "larger than the limit of 10 bytes") != NULL);
  end_close(&e);
}

// Wrong shapes answer the op and keep the connection.
static void test_op_input(void)
{
  end_t e;
  end_init(&e, NULL);
  CHECK(rpc_session_feed(&e.s, "\x94\x00\x05\xa1m\x01", 6) == 0);
  CHECK(wrote(&e, "invalid_argument"));
  CHECK(wrote(&e, "params must be an array"));
  // Stream messages for ids not in flight drain quietly.
  CHECK(rpc_session_feed(&e.s, "\x95\x05\x09\x00\x04\xc0", 6) == 0);
  CHECK(e.streams == 0 && !e.s.failed);
  end_close(&e);
}

static void test_pending_limit(void)
{
  end_t e;
  rpc_limits_t l;
  rpc_limits_default(&l);
  l.max_pending = 2;
  memset(&e, 0, sizeof e);
  mpk_buf_init(&e.wire);
  rpc_session_init(&e.s, &l, &cbs, &e, NULL, NULL);
  CHECK(rpc_session_feed(&e.s, "\x94\x00\x01\xa1m\x90\x94\x00\x02\xa1m\x90"
                               "\x94\x00\x03\xa1m\x90", 18) == 0);
  CHECK(e.requests == 2);
  CHECK(wrote(&e, "too many pending operations (limit 2)"));
  end_close(&e);
}

static void send_hello(end_t *e, const char *token)
{
  msgpack_packer pk;
  msgpack_packer_init(&pk, &e->wire, mpk_buf_write);
  rpc_op_t *op = rpc_session_begin(&e->s, NULL);
  rpc_msg_put_request(&e->wire, op->id, RPC_HELLO, strlen(RPC_HELLO));
  msgpack_pack_array(&pk, 1);
  msgpack_pack_map(&pk, token != NULL ? 2 : 1);
  msgpack_pack_str_with_body(&pk, "version", 7);
  msgpack_pack_int(&pk, 1);
  if (token != NULL) {
    msgpack_pack_str_with_body(&pk, "token", 5);
    msgpack_pack_str_with_body(&pk, token, strlen(token));
  }
}

static void test_hello(void)
{
  end_t c, s;
  // The right token: the server answers the hello, then serves.
  end_init(&c, NULL);
  end_init(&s, "s3cret");
  send_hello(&c, "s3cret");
  send_request(&c, rpc_session_begin(&c.s, NULL), "x");
  CHECK(pump(&c, &s) == 0 && s.requests == 1 && s.s.authed);
  CHECK(pump(&s, &c) == 0 && c.responses == 1 && !c.last_failed);
  rpc_session_end(&s.s, s.last_op);
  end_close(&c);
  end_close(&s);
  // A wrong token, a missing one, or no hello: unauthenticated, closed.
  const char *tokens[] = {"wrong", NULL};
  for (int i = 0; i < 3; i++) {
    end_init(&c, NULL);
    end_init(&s, "s3cret");
    if (i < 2) {
      send_hello(&c, tokens[i]);
    } else {
      send_request(&c, rpc_session_begin(&c.s, NULL), "x");
    }
    CHECK(pump(&c, &s) == -1 && s.requests == 0);
    CHECK(wrote(&s, "unauthenticated"));
    CHECK(pump(&s, &c) == 0 && c.responses == 1 && c.last_failed);
    end_close(&c);
    end_close(&s);
  }
  // The token after options of any shape, keys included: order is free.
  end_init(&c, NULL);
  end_init(&s, "s3cret");
  static const char nested[] =
      "\x94\x00\x01\xa9rpc.hello\x91\x83\xa6" "client\x82\xa1" "a\x91\x01"
      "\xa1" "b\xc0\x91\x02\xa1x\xa5token\xa6s3cret";
  CHECK(rpc_session_feed(&s.s, nested, sizeof nested - 1) == 0 && s.s.authed);
  end_close(&c);
  end_close(&s);
  CHECK(rpc_token_equal("abc", 3, "abc", 3));
  CHECK(!rpc_token_equal("abc", 3, "abd", 3));
  CHECK(!rpc_token_equal("abc", 3, "abcd", 4));
  CHECK(!rpc_token_equal("", 0, "a", 1));
}

// Ids skip 0 and the ones still in flight when they wrap.
static void test_ids(void)
{
  end_t e;
  end_init(&e, NULL);
  rpc_op_t *first = rpc_session_begin(&e.s, NULL);
  e.s.next_id = UINT32_MAX;
  rpc_op_t *last = rpc_session_begin(&e.s, NULL);
  rpc_op_t *next = rpc_session_begin(&e.s, NULL);
  CHECK(first->id == 1 && last->id == UINT32_MAX && next->id == 2);
  end_close(&e);
}

int main(void)
{
  test_unary();
  test_split();
  test_cancel_drains();
  test_stream_credit();
  test_stream_modes();
  test_sequence();
  test_fatal_input();
  test_op_input();
  test_pending_limit();
  test_hello();
  test_ids();
  return check_summary();
}
