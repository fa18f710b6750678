// libFuzzer target for the wire (docs/protocol.md). Each input is read
// twice:
//
// - Every msgpack value in it, after the config byte, is parsed with
//   rpc_msg_parse from a copy of exactly its size, so a read past its end
//   is caught. A message that parses must come back the same from the
//   encoders (rpc_msg_put_*) and parse again.
// - One rpc_session_t is fed the stream in chunks and answered by an
//   embedder that acts as bindings/l_rpc_conn.c does: handlers that answer
//   at once or run on, calls that are cancelled or expire, credit granted.
//   Everything the session writes must parse. Every op carries an
//   allocation, so LeakSanitizer reports an op the session drops without
//   telling its embedder.
//
//   input  := config stream plan
//   config := 1 byte: bit 0, the session requires the token "s3cret";
//             bit 1, small limits (SMALL below); bits 2..7 seed the
//             embedder's choices, which the messages stir as they come
//   stream := what the peer sends
//   plan   := the chunk sizes, one byte each, read from the input's end
//             backwards: 1..255 bytes, or 0 for all that is left
//
// Before any input the session starts four calls of its own, so responses
// and stream messages have ids to find (CALLS below).
//   scripts/fuzz [seconds]
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "log.h"
#include "mpk_scan.h"
#include "rpc_msg.h"
#include "rpc_session.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN "s3cret"
#define METHOD "fuzz/call"

// --- one message ------------------------------------------------------------

// The length of the msgpack value at p[0..n), or 0 when none is complete.
static size_t framed(const char *p, size_t n)
{
  mpk_scan_t s;
  mpk_scan_init(&s, MPK_DEPTH_MAX);
  return mpk_scan_run(&s, (const unsigned char *)p, n) == MPK_OK
             ? (size_t)s.pos
             : 0;
}

static int same(const rpc_span_t *a, const rpc_span_t *b)
{
  return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

static int inside(const rpc_span_t *s, const char *p, size_t n)
{
  uintptr_t at = (uintptr_t)s->p, start = (uintptr_t)p;
  return s->n == 0 || (at >= start && s->n <= n && at - start <= n - s->n);
}

// Every span of m points into the message's own bytes.
static void check_spans(const rpc_msg_t *m, const char *p, size_t n)
{
  const rpc_span_t *spans[] = {&m->method, &m->params, &m->error,
                               &m->result, &m->opts.trace, &m->payload};
  for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++) {
    if (!inside(spans[i], p, n)) {
      abort();
    }
  }
}

static void put_span(mpk_buf_t *b, const rpc_span_t *s)
{
  mpk_buf_write(b, s->p, s->n);
}

// Writes m again with the encoders, its values copied as they came.
static void put_again(mpk_buf_t *b, const rpc_msg_t *m)
{
  switch (m->type) {
  case RPC_REQUEST:
    rpc_msg_put_request(b, m->id, m->method.p, m->method.n);
    put_span(b, &m->params);
    break;
  case RPC_CALL:
    rpc_msg_put_call(b, m->id, m->method.p, m->method.n);
    put_span(b, &m->params);
    rpc_msg_put_opts(b, &m->opts);
    break;
  case RPC_NOTIFY:
    rpc_msg_put_notify(b, m->method.p, m->method.n);
    put_span(b, &m->params);
    break;
  case RPC_RESPONSE:
    rpc_msg_put_response(b, m->id);
    put_span(b, &m->error);
    put_span(b, &m->result);
    break;
  default:
    rpc_msg_put_stream(b, m->type, m->id, m->seq, m->kind);
    put_span(b, &m->payload);
  }
}

static int same_opts(const rpc_opts_t *a, const rpc_opts_t *b)
{
  return a->has_timeout == b->has_timeout && a->timeout == b->timeout &&
         same(&a->trace, &b->trace) && a->sub == b->sub &&
         a->has_credit == b->has_credit && a->credit == b->credit &&
         a->stream == b->stream;
}

static int same_msg(const rpc_msg_t *a, const rpc_msg_t *b)
{
  return a->type == b->type && a->id == b->id &&
         same(&a->method, &b->method) && same(&a->params, &b->params) &&
         same(&a->error, &b->error) && same(&a->result, &b->result) &&
         a->failed == b->failed && same_opts(&a->opts, &b->opts) &&
         a->seq == b->seq && a->kind == b->kind &&
         same(&a->payload, &b->payload) && a->count == b->count &&
         a->seconds == b->seconds;
}

// A message that parsed must survive the encoders unchanged.
static void check_again(const rpc_msg_t *m)
{
  mpk_buf_t b;
  rpc_msg_t again;
  const char *why = NULL;
  mpk_buf_init(&b);
  put_again(&b, m);
  if (b.failed || framed(b.data, b.len) != b.len ||
      rpc_msg_parse(b.data, b.len, &again, &why) != RPC_MSG_OK ||
      !same_msg(m, &again)) {
    abort();
  }
  mpk_buf_free(&b);
}

// Parses the value at p[0..n) from a copy of exactly n bytes and checks
// what comes out. Returns the parse's result.
static int parse_one(const char *p, size_t n)
{
  char *copy = malloc(n);
  if (copy == NULL) {
    abort();
  }
  memcpy(copy, p, n);
  rpc_msg_t m;
  const char *why = NULL;
  int rc = rpc_msg_parse(copy, n, &m, &why);
  if (rc == RPC_MSG_OK) {
    check_spans(&m, copy, n);
    check_again(&m);
  } else if ((rc != RPC_MSG_EOP && rc != RPC_MSG_EFATAL) || why == NULL) {
    abort();
  }
  free(copy);
  return rc;
}

static void parse_all(const char *p, size_t n)
{
  size_t pos = 0, len;
  while ((len = framed(p + pos, n - pos)) > 0) {
    parse_one(p + pos, len);
    pos += len;
  }
}

// --- the embedder -----------------------------------------------------------

typedef struct {
  rpc_session_t s;
  mpk_buf_t out;    // what the embedder sends, one message at a time
  uint32_t rng;     // the embedder's choices
  size_t written;   // bytes the session sent
} harness_t;

// What an embedder keeps for an op: a handler's task, a waiting call.
// Ops answered at once have none.
typedef struct {
  uint32_t id;
  int side;
} tag_t;

// Small limits, so that size, depth, pending and credit failures are near.
static const rpc_limits_t SMALL = {
    .max_message = 200, .max_depth = 6, .max_pending = 3,
    .credit = 3, .credit_bytes = 16,
};

// The calls the session starts before the input, ids 1 to 4: a plain
// request, and calls that take streams with the default windows, with a
// result window of 2, and with sub 1.
static const rpc_opts_t CALLS[] = {
    {.sub = RPC_SUB_FULL},
    {.sub = RPC_SUB_FULL, .stream = 1},
    {.sub = RPC_SUB_FULL, .stream = 1, .has_credit = 1, .credit = 2},
    {.sub = RPC_SUB_DONE, .stream = 1},
};

// Picks one of n, from the config's seed stirred with what just arrived,
// so that a mutated message also changes what the embedder does.
static unsigned choose(harness_t *h, uint64_t stir, unsigned n)
{
  h->rng = h->rng * 1103515245u + 12345u + (uint32_t)stir;
  return (h->rng >> 16) % n;
}

static void tag(rpc_op_t *op)
{
  tag_t *t = malloc(sizeof *t);
  if (t == NULL) {
    abort();
  }
  t->id = op->id;
  t->side = op->side;
  op->data = t;
}

// The op has the tag it was given: the session hands over the right op.
static void check_tag(const rpc_op_t *op)
{
  const tag_t *t = op->data;
  if (t == NULL || t->id != op->id || t->side != op->side) {
    abort();
  }
}

// Lets go of what the embedder keeps for op; an rpc_session_each visitor.
static void untag(void *opv, void *data)
{
  rpc_op_t *op = opv;
  free(op->data);
  op->data = NULL;
}

static void send_out(harness_t *h)
{
  if (h->out.failed) {
    abort();
  }
  rpc_session_send(&h->s, h->out.data, h->out.len);
  mpk_buf_reset(&h->out);
}

static msgpack_packer *packer(harness_t *h, msgpack_packer *pk)
{
  msgpack_packer_init(pk, &h->out, mpk_buf_write);
  return pk;
}

// Starts one of our calls and sends it, as a request when o has no
// options.
static void call(harness_t *h, const rpc_opts_t *o)
{
  msgpack_packer pk;
  int plain = o->sub == RPC_SUB_FULL && !o->stream && !o->has_credit;
  rpc_op_t *op = rpc_session_begin(&h->s, plain ? NULL : o);
  if (op == NULL) {
    abort();
  }
  tag(op);
  if (plain) {
    rpc_msg_put_request(&h->out, op->id, METHOD, strlen(METHOD));
    msgpack_pack_array(packer(h, &pk), 0);
  } else {
    rpc_msg_put_call(&h->out, op->id, METHOD, strlen(METHOD));
    msgpack_pack_array(packer(h, &pk), 0);
    rpc_msg_put_opts(&h->out, o);
  }
  send_out(h);
}

// A call whose arguments cannot be packed: begun, never sent.
static void call_unsent(harness_t *h)
{
  rpc_op_t *op = rpc_session_begin(&h->s, NULL);
  if (op == NULL) {
    abort();
  }
  rpc_session_forget(&h->s, op);
}

// A handler ends: it answers (code NULL for a result), unless a protocol
// failure has answered already, and the op ends.
static void finish(harness_t *h, rpc_op_t *op, const char *code)
{
  msgpack_packer pk;
  if (!op->done && code != NULL) {
    rpc_msg_put_error(&h->out, op->id, code, "from the fuzz harness");
    send_out(h);
  } else if (!op->done) {
    rpc_msg_put_response(&h->out, op->id);
    msgpack_pack_nil(packer(h, &pk));
    if (op->sub == RPC_SUB_DONE) {
      msgpack_pack_nil(&pk);
    } else {
      msgpack_pack_uint32(&pk, op->id);
    }
    send_out(h);
  }
  untag(op, NULL);
  rpc_session_end(&h->s, op);
}

// One ITEM from our side of op, if op streams and its credit allows.
static void send_item(harness_t *h, rpc_op_t *op)
{
  msgpack_packer pk;
  if (op->done || rpc_session_take_credit(&h->s, op, RPC_ITEM, 1) != 0) {
    return;
  }
  int type = op->side == RPC_CALLER ? RPC_TO_CALLEE : RPC_TO_CALLER;
  rpc_msg_put_stream(&h->out, type, op->id, rpc_session_next_seq(op),
                     RPC_ITEM);
  msgpack_pack_uint64(packer(h, &pk), op->seq_out);
  send_out(h);
}

// A caller's user gives up (CANCEL) or its timer fires (EXPIRE): the
// callee is told and the op drains until its response.
static void give_up(harness_t *h, rpc_op_t *op, int kind)
{
  rpc_session_signal(&h->s, op, kind);
  untag(op, NULL);
  rpc_session_end(&h->s, op);
}

static void send_deadline(harness_t *h, rpc_op_t *op)
{
  msgpack_packer pk;
  rpc_msg_put_stream(&h->out, RPC_TO_CALLEE, op->id,
                     rpc_session_next_seq(op), RPC_DEADLINE);
  msgpack_pack_double(packer(h, &pk), 0.5);
  send_out(h);
}

// --- the session's callbacks ------------------------------------------------

static void on_request(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m)
{
  harness_t *h = s->data;
  if (op == NULL) {
    return;  // a notification, or a call that wants nothing back
  }
  if (op->id != m->id || op->side != RPC_CALLEE || op->done ||
      op->data != NULL) {
    abort();
  }
  switch (choose(h, m->id, 4)) {
  case 0:
    finish(h, op, NULL);
    break;
  case 1:
    finish(h, op, "failed");
    break;
  case 2:  // a handler that takes streamed input grants a window
    tag(op);
    rpc_session_grant(s, op, 1 + choose(h, m->id, 8));
    break;
  default:  // a handler that runs on
    tag(op);
  }
}

static void on_response(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m)
{
  check_tag(op);
  if (op->side != RPC_CALLER || op->id != m->id || op->done) {
    abort();
  }
  untag(op, NULL);
}

// What a handler does with its caller's stream messages.
static void callee_stream(harness_t *h, rpc_op_t *op, const rpc_msg_t *m)
{
  switch (m->kind) {
  case RPC_CANCEL:
    finish(h, op, "cancelled");
    break;
  case RPC_EXPIRE:
    finish(h, op, "expired");
    break;
  case RPC_CREDIT:
    send_item(h, op);
    break;
  case RPC_END:
    if (choose(h, m->seq, 2)) {
      finish(h, op, NULL);
    }
    break;
  case RPC_ITEM:
  case RPC_DATA:
    if (choose(h, m->seq, 2)) {
      rpc_session_grant(&h->s, op, 1 + choose(h, m->seq, 64));
    }
    break;
  default:
    break;  // DEADLINE restarts a timer this embedder does not have
  }
}

// What a waiting call does with its callee's stream messages.
static void caller_stream(harness_t *h, rpc_op_t *op, const rpc_msg_t *m)
{
  switch (m->kind) {
  case RPC_ITEM:
  case RPC_DATA:
    switch (choose(h, m->seq, 4)) {
    case 0:
      rpc_session_grant(&h->s, op, 1 + choose(h, m->seq, 64));
      break;
    case 1:
      give_up(h, op, RPC_CANCEL);
      break;
    default:
      break;  // the consumer has not taken enough for a grant yet
    }
    break;
  case RPC_CREDIT:
    if (choose(h, m->seq, 2)) {
      send_item(h, op);
    } else {
      rpc_session_signal(&h->s, op, RPC_END);
    }
    break;
  default:
    break;  // END
  }
}

static void on_stream(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m)
{
  check_tag(op);
  int want = op->side == RPC_CALLER ? RPC_TO_CALLER : RPC_TO_CALLEE;
  if (op->done || op->id != m->id || m->type != want) {
    abort();
  }
  if (op->side == RPC_CALLEE) {
    callee_stream(s->data, op, m);
  } else {
    caller_stream(s->data, op, m);
  }
}

// A waiting call has its outcome and lets go; a handler learns it when it
// finishes (finish sends nothing for a done op).
static void on_fail(rpc_session_t *s, rpc_op_t *op, const char *why)
{
  check_tag(op);
  if (why == NULL || !op->done) {
    abort();
  }
  if (op->side == RPC_CALLER) {
    untag(op, NULL);
  }
}

// Counts what the session sends, which must be one whole message that
// parses.
static int write_cb(rpc_session_t *s, const char *p, size_t n)
{
  harness_t *h = s->data;
  h->written += n;
  if (framed(p, n) != n || parse_one(p, n) != RPC_MSG_OK) {
    abort();
  }
  return 0;
}

// --- a connection's life ----------------------------------------------------

typedef struct {
  rpc_op_t **ops;
  size_t n;
} list_t;

static void collect(void *op, void *data)
{
  list_t *l = data;
  l->ops[l->n++] = op;
}

// The ops of one side, to act on outside rpc_session_each (which must not
// see its table change). Free l->ops after.
static void list_ops(harness_t *h, int side, list_t *l)
{
  l->ops = malloc((rpc_session_pending(&h->s, side) + 1) * sizeof *l->ops);
  if (l->ops == NULL) {
    abort();
  }
  l->n = 0;
  rpc_session_each(&h->s, side, collect, l);
}

// A handler that runs on ends, fails or streams an item.
static void handler_acts(harness_t *h, rpc_op_t *op)
{
  switch (choose(h, op->id, 3)) {
  case 0: finish(h, op, NULL); break;
  case 1: finish(h, op, "failed"); break;
  default: send_item(h, op); break;
  }
}

// A waiting call is given up, expires, gets a new deadline or streams an
// item.
static void caller_acts(harness_t *h, rpc_op_t *op)
{
  if (op->done) {
    return;
  }
  switch (choose(h, op->id, 4)) {
  case 0: give_up(h, op, RPC_CANCEL); break;
  case 1: give_up(h, op, RPC_EXPIRE); break;
  case 2: send_deadline(h, op); break;
  default: send_item(h, op); break;
  }
}

// Time passes between chunks: now and then one op acts, and a call that
// ended is replaced by a new one (or one that cannot be sent).
static void between(harness_t *h)
{
  if (choose(h, 0, 4) == 0) {
    int side = choose(h, 0, 2) ? RPC_CALLEE : RPC_CALLER;
    list_t l;
    list_ops(h, side, &l);
    if (l.n > 0) {
      rpc_op_t *op = l.ops[choose(h, 0, (unsigned)l.n)];
      if (side == RPC_CALLEE) {
        handler_acts(h, op);
      } else {
        caller_acts(h, op);
      }
    }
    free(l.ops);
  }
  if (rpc_session_pending(&h->s, RPC_CALLER) < 4) {
    if (choose(h, 0, 8) == 0) {
      call_unsent(h);
    }
    call(h, &CALLS[choose(h, 0, 4)]);
  }
}

static void start(harness_t *h, unsigned config)
{
  static const rpc_session_cbs_t cbs = {on_request, on_response, on_stream,
                                        on_fail, write_cb};
  memset(h, 0, sizeof *h);
  mpk_buf_init(&h->out);
  h->rng = config >> 2;
  rpc_session_init(&h->s, config & 2 ? &SMALL : NULL, &cbs, h,
                   config & 1 ? TOKEN : NULL, "fuzz");
  for (size_t i = 0; i < sizeof CALLS / sizeof CALLS[0]; i++) {
    call(h, &CALLS[i]);
  }
}

// Feeds the stream in the chunks the plan gives, until it is used up or
// the session breaks.
static void feed(harness_t *h, const uint8_t *data, size_t size)
{
  size_t front = 1, back = size;
  while (front < back) {
    size_t left = --back - front;
    size_t n = data[back] == 0 || data[back] > left ? left : data[back];
    if (rpc_session_feed(&h->s, (const char *)data + front, n) != 0) {
      if (!h->s.failed || h->s.why[0] == '\0') {
        abort();
      }
      return;
    }
    front += n;
    if (rpc_session_pending(&h->s, RPC_CALLEE) > h->s.limits.max_pending) {
      abort();
    }
    between(h);
  }
}

// The connection ends: the embedder lets go of every op, then the session
// frees them.
static void stop(harness_t *h)
{
  rpc_session_each(&h->s, RPC_CALLER, untag, NULL);
  rpc_session_each(&h->s, RPC_CALLEE, untag, NULL);
  rpc_session_close(&h->s);
  mpk_buf_free(&h->out);
}

// The session's warnings (a dropped notification) would bury libFuzzer's
// output; HILT_LOG=warn shows them.
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  hilt_log_set_level(HILT_LOG_OFF);
  hilt_log_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0) {
    return 0;
  }
  parse_all((const char *)data + 1, size - 1);
  harness_t h;
  start(&h, data[0]);
  feed(&h, data, size);
  stop(&h);
  return 0;
}
