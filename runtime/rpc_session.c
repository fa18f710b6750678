// One end of a wire connection (see rpc_session.h and docs/protocol.md).
//
// Every message is checked here before the embedder sees it: its shape,
// its id against the table of its side, its sequence number and credit.
// What breaks the stream (bad msgpack, bad shapes, a response to no
// request) fails the session; what is wrong with one operation fails that
// operation only.
#include "rpc_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mpk_item.h"
#include "mpk_scan.h"

void rpc_limits_default(rpc_limits_t *l)
{
  l->max_message = 16u << 20;
  l->max_depth = 64;
  l->max_pending = 10000;
  l->credit = 64;
  l->credit_bytes = 256u << 10;
}

void rpc_session_init(rpc_session_t *s, const rpc_limits_t *limits,
                      const rpc_session_cbs_t *cb, void *data,
                      const char *token, const char *name)
{
  memset(s, 0, sizeof *s);
  s->cb = *cb;
  s->data = data;
  if (limits != NULL) {
    s->limits = *limits;
  } else {
    rpc_limits_default(&s->limits);
  }
  mpk_stream_init(&s->in, s->limits.max_depth, s->limits.max_message);
  mpk_buf_init(&s->out);
  rpc_optab_init(&s->caller);
  rpc_optab_init(&s->callee);
  s->next_id = 1;
  s->token = token;
  s->name = name != NULL ? name : "hilt";
  s->authed = token == NULL;
}

static void free_op(void *op, void *data)
{
  free(op);
}

void rpc_session_close(rpc_session_t *s)
{
  rpc_optab_each(&s->caller, free_op, NULL);
  rpc_optab_each(&s->callee, free_op, NULL);
  rpc_optab_free(&s->caller);
  rpc_optab_free(&s->callee);
  mpk_stream_close(&s->in);
  mpk_buf_free(&s->out);
}

static int broken(rpc_session_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int broken(rpc_session_t *s, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->why, sizeof s->why, fmt, ap);
  va_end(ap);
  s->failed = 1;
  return -1;
}

int rpc_session_send(rpc_session_t *s, const char *p, size_t n)
{
  return s->cb.write(s, p, n);
}

// Sends what the session wrote into s->out.
static int flush(rpc_session_t *s)
{
  int rc = s->out.failed ? -1 : rpc_session_send(s, s->out.data, s->out.len);
  mpk_buf_reset(&s->out);
  mpk_buf_trim(&s->out, 64 * 1024);
  return rc;
}

static int send_error(rpc_session_t *s, uint32_t id, const char *code,
                      const char *message)
{
  rpc_msg_put_error(&s->out, id, code, message);
  return flush(s);
}

// --- our operations ------------------------------------------------------------

rpc_op_t *rpc_session_begin(rpc_session_t *s, const rpc_opts_t *o)
{
  rpc_op_t *op = calloc(1, sizeof *op);
  if (op == NULL) {
    return NULL;
  }
  // Ids wrap after four billion, to 1 (0 is left for replies to messages
  // without an id); the ones still in flight are skipped.
  while (s->next_id == 0 || rpc_optab_get(&s->caller, s->next_id) != NULL) {
    s->next_id++;
  }
  op->id = s->next_id++;
  op->side = RPC_CALLER;
  if (o != NULL) {
    op->sub = o->sub;
    op->streaming = o->stream;
    op->credit_in = o->credit;
    op->window_in = !o->has_credit;
  } else {
    op->window_in = 1;
  }
  if (rpc_optab_put(&s->caller, op->id, op) != 0) {
    free(op);
    return NULL;
  }
  return op;
}

void rpc_session_forget(rpc_session_t *s, rpc_op_t *op)
{
  free(rpc_optab_del(&s->caller, op->id));
}

uint64_t rpc_session_next_seq(rpc_op_t *op)
{
  return op->seq_out++;
}

// The default window of a direction streaming `kind`.
static uint64_t default_window(const rpc_session_t *s, int kind)
{
  return kind == RPC_DATA ? s->limits.credit_bytes : s->limits.credit;
}

static int mode_of(int kind)
{
  return kind == RPC_ITEM ? RPC_MODE_ITEMS
         : kind == RPC_DATA ? RPC_MODE_BYTES
                            : RPC_MODE_NONE;
}

uint64_t rpc_session_credit(const rpc_session_t *s, const rpc_op_t *op,
                            int kind)
{
  return op->credit_out + (op->window_out ? default_window(s, kind) : 0);
}

int rpc_session_take_credit(rpc_session_t *s, rpc_op_t *op, int kind,
                            uint64_t n)
{
  int mode = mode_of(kind);
  if (!op->streaming || op->end_out ||
      (op->mode_out != RPC_MODE_NONE && op->mode_out != mode)) {
    return -2;
  }
  if (rpc_session_credit(s, op, kind) < n) {
    return -1;
  }
  op->mode_out = (uint8_t)mode;
  if (op->window_out) {
    op->credit_out += default_window(s, kind);
    op->window_out = 0;
  }
  op->credit_out -= n;
  return 0;
}

// The type of the stream messages this end sends on op.
static int stream_type(const rpc_op_t *op)
{
  return op->side == RPC_CALLER ? RPC_TO_CALLEE : RPC_TO_CALLER;
}

int rpc_session_signal(rpc_session_t *s, rpc_op_t *op, int kind)
{
  if (kind == RPC_END) {
    if (op->end_out) {
      return 0;
    }
    op->end_out = 1;
  }
  rpc_msg_put_signal(&s->out, stream_type(op), op->id,
                     rpc_session_next_seq(op), kind);
  return flush(s);
}

int rpc_session_grant(rpc_session_t *s, rpc_op_t *op, uint64_t n)
{
  op->credit_in += n;
  rpc_msg_put_credit(&s->out, stream_type(op), op->id,
                     rpc_session_next_seq(op), n);
  return flush(s);
}

void rpc_session_end(rpc_session_t *s, rpc_op_t *op)
{
  if (op->side == RPC_CALLEE) {
    rpc_optab_del(&s->callee, op->id);
    free(op);
  } else {
    op->done = 1;
  }
}

void rpc_session_each(rpc_session_t *s, int side,
                      void (*fn)(void *op, void *data), void *data)
{
  rpc_optab_each(side == RPC_CALLER ? &s->caller : &s->callee, fn, data);
}

size_t rpc_session_pending(const rpc_session_t *s, int side)
{
  return (side == RPC_CALLER ? &s->caller : &s->callee)->count;
}

// --- the hello ------------------------------------------------------------------

int rpc_token_equal(const char *a, size_t an, const char *b, size_t bn)
{
  // Every byte of the longer is visited, whatever matches, so the time
  // tells nothing of where the first difference is.
  size_t n = an > bn ? an : bn;
  unsigned diff = an != bn;
  for (size_t i = 0; i < n; i++) {
    unsigned char x = i < an ? (unsigned char)a[i] : 0;
    unsigned char y = i < bn ? (unsigned char)b[i] : 0;
    diff |= (unsigned)(x ^ y);
  }
  return diff == 0;
}

// Reads the header of the value at p[*pos] into *it and moves *pos past
// the whole value, nested ones included. -1 on bad bytes.
static int read_value(const char *p, size_t n, size_t *pos, mpk_item_t *it)
{
  size_t at = *pos;
  if (mpk_item_read(p, n, &at, it) != MPK_OK) {
    return -1;
  }
  mpk_scan_t sc;
  mpk_scan_init(&sc, MPK_DEPTH_MAX);
  if (mpk_scan_run(&sc, (const unsigned char *)p + *pos, n - *pos) != MPK_OK) {
    return -1;
  }
  *pos += sc.pos;
  return 0;
}

// The token in the hello's params [{"token": str, ...}], or n = 0. Keys
// come in any order, next to values of any shape.
static rpc_span_t hello_token(const rpc_msg_t *m)
{
  rpc_span_t none = {NULL, 0};
  size_t pos = 0;
  mpk_item_t it, key, val;
  const char *p = m->params.p;
  size_t n = m->params.n;
  if (mpk_item_read(p, n, &pos, &it) != MPK_OK || it.n < 1 ||
      mpk_item_read(p, n, &pos, &it) != MPK_OK || it.kind != MPK_MAP) {
    return none;
  }
  for (uint32_t i = 0; i < it.n; i++) {
    if (read_value(p, n, &pos, &key) != 0 ||
        read_value(p, n, &pos, &val) != 0) {
      return none;
    }
    if (key.kind == MPK_STR && key.n == 5 && memcmp(key.p, "token", 5) == 0 &&
        (val.kind == MPK_STR || val.kind == MPK_BIN)) {
      return (rpc_span_t){val.p, val.n};
    }
  }
  return none;
}

static int hello_reply(rpc_session_t *s, uint32_t id)
{
  rpc_msg_put_hello_reply(&s->out, id, s->name, s->limits.max_message,
                          s->limits.max_depth, s->limits.max_pending);
  return flush(s);
}

static int is_hello(const rpc_msg_t *m)
{
  return m->type == RPC_REQUEST && m->method.n == sizeof RPC_HELLO - 1 &&
         memcmp(m->method.p, RPC_HELLO, m->method.n) == 0;
}

static int on_hello(rpc_session_t *s, const rpc_msg_t *m)
{
  if (s->token != NULL) {
    rpc_span_t t = hello_token(m);
    if (t.n == 0 || !rpc_token_equal(t.p, t.n, s->token, strlen(s->token))) {
      const char *why = t.n == 0 ? "this server requires a token in the hello"
                                 : "wrong token in the hello";
      send_error(s, m->id, "unauthenticated", why);
      return broken(s, "%s", why);
    }
  }
  s->authed = 1;
  return hello_reply(s, m->id);
}

// Before the hello, a server with a token answers anything else with
// unauthenticated and closes.
static int refuse(rpc_session_t *s, const rpc_msg_t *m)
{
  const char *why = "this server requires a hello with a token first";
  int has_id = m->type == RPC_REQUEST || m->type == RPC_CALL;
  send_error(s, has_id ? m->id : 0, "unauthenticated", why);
  return broken(s, "%s", why);
}

// --- incoming messages ----------------------------------------------------------

static int on_call(rpc_session_t *s, rpc_msg_t *m)
{
  if (rpc_optab_get(&s->callee, m->id) != NULL) {
    return broken(s, "request id %u is already in flight", m->id);
  }
  if (m->opts.sub == RPC_SUB_NONE) {
    s->cb.on_request(s, NULL, m);
    return 0;
  }
  if (s->callee.count >= s->limits.max_pending) {
    char why[80];
    snprintf(why, sizeof why, "too many pending operations (limit %zu)",
             s->limits.max_pending);
    return send_error(s, m->id, "protocol", why);
  }
  rpc_op_t *op = calloc(1, sizeof *op);
  if (op == NULL || rpc_optab_put(&s->callee, m->id, op) != 0) {
    free(op);
    return send_error(s, m->id, "failed", "out of memory");
  }
  op->id = m->id;
  op->side = RPC_CALLEE;
  op->sub = m->opts.sub;
  op->streaming = m->opts.stream;
  op->credit_out = m->opts.credit;
  op->window_out = !m->opts.has_credit;
  s->cb.on_request(s, op, m);
  return 0;
}

static int on_response(rpc_session_t *s, const rpc_msg_t *m)
{
  rpc_op_t *op = rpc_optab_del(&s->caller, m->id);
  if (op == NULL) {
    return broken(s, "response for id %u, which has no request in flight",
                  m->id);
  }
  if (!op->done) {
    s->cb.on_response(s, op, m);
  }
  free(op);
  return 0;
}

// Fails one op for breaking the protocol; the stream goes on. A callee op
// is answered `protocol` by the embedder once its handler has stopped
// (docs/protocol.md, callee states), so its id stays taken until then.
static void op_fail(rpc_session_t *s, rpc_op_t *op, const char *why)
{
  if (op->side == RPC_CALLER) {
    rpc_session_signal(s, op, RPC_CANCEL);
  }
  op->done = 1;
  op->why = why;
  s->cb.on_fail(s, op, why);
}

// Units of credit a stream message uses: an item, or a chunk's bytes.
static uint64_t units_of(const rpc_msg_t *m)
{
  if (m->kind == RPC_ITEM) {
    return 1;
  }
  if (m->kind == RPC_DATA) {
    mpk_item_t it;
    size_t pos = 0;
    mpk_item_read(m->payload.p, m->payload.n, &pos, &it);
    return it.n;
  }
  return 0;
}

// Checks an incoming stream message against op's modes, END and credit,
// and accounts for it. Returns NULL, or why op must fail.
static const char *check_flow(rpc_session_t *s, rpc_op_t *op,
                              const rpc_msg_t *m)
{
  int mode = mode_of(m->kind);
  if (m->kind == RPC_END) {
    if (op->end_in) {
      return "a second END";
    }
    op->end_in = 1;
    return NULL;
  }
  if (mode == RPC_MODE_NONE) {
    return NULL;
  }
  if (!op->streaming) {
    return "stream data for a call made without streams";
  }
  if (op->end_in) {
    return "stream data after END";
  }
  if (op->mode_in != RPC_MODE_NONE && op->mode_in != mode) {
    return "items and bytes mixed in one direction";
  }
  op->mode_in = (uint8_t)mode;
  if (op->window_in) {
    op->credit_in += default_window(s, m->kind);
    op->window_in = 0;
  }
  uint64_t units = units_of(m);
  if (units > op->credit_in) {
    return "stream message beyond the credit granted";
  }
  op->credit_in -= units;
  return NULL;
}

static int on_stream(rpc_session_t *s, rpc_msg_t *m, int rc,
                     const char *why)
{
  rpc_optab_t *t = m->type == RPC_TO_CALLER ? &s->caller : &s->callee;
  rpc_op_t *op = rpc_optab_get(t, m->id);
  // Messages may cross a response or a cancel on the wire: an op that is
  // gone or done just lets them drain.
  if (op == NULL || op->done) {
    return 0;
  }
  if (rc != RPC_MSG_OK) {
    op_fail(s, op, why);
    return 0;
  }
  if (m->seq != op->seq_in) {
    op_fail(s, op, "stream message out of sequence");
    return 0;
  }
  op->seq_in++;
  const char *bad = check_flow(s, op, m);
  if (bad != NULL) {
    op_fail(s, op, bad);
    return 0;
  }
  if (m->kind == RPC_CREDIT) {
    op->credit_out += m->count;
  }
  s->cb.on_stream(s, op, m);
  return 0;
}

static int dispatch(rpc_session_t *s, rpc_msg_t *m, int rc, const char *why)
{
  if (rc == RPC_MSG_EFATAL) {
    return broken(s, "%s", why);
  }
  if (is_hello(m) && rc == RPC_MSG_OK) {
    return on_hello(s, m);
  }
  if (!s->authed) {
    return refuse(s, m);
  }
  switch (m->type) {
  case RPC_REQUEST:
  case RPC_CALL:
    return rc == RPC_MSG_OK ? on_call(s, m)
                            : send_error(s, m->id, "invalid_argument", why);
  case RPC_NOTIFY:
    if (rc == RPC_MSG_OK) {
      s->cb.on_request(s, NULL, m);
    } else {
      HILT_WARN("rpc", "notification dropped: %s", why);  // nobody to tell
    }
    return 0;
  case RPC_RESPONSE:
    return on_response(s, m);
  default:
    return on_stream(s, m, rc, why);
  }
}

int rpc_session_feed(rpc_session_t *s, const char *p, size_t n)
{
  if (s->failed) {
    return -1;
  }
  if (mpk_stream_feed(&s->in, p, n) != MPK_OK) {
    return broken(s, "out of memory");
  }
  while (!s->failed) {
    const char *v;
    size_t size;
    int rc = mpk_stream_next(&s->in, &v, &size);
    if (rc == MPK_EMORE) {
      return 0;
    }
    if (rc != MPK_OK) {
      char msg[120];
      return broken(s, "bad message: %s",
                    mpk_err_format(&s->in.err, msg, sizeof msg));
    }
    rpc_msg_t m;
    const char *why = NULL;
    rc = rpc_msg_parse(v, size, &m, &why);
    if (dispatch(s, &m, rc, why) != 0 && !s->failed) {
      return broken(s, "cannot write to the peer");
    }
  }
  return -1;
}
