// Parsing and encoding of wire messages (see rpc_msg.h).
//
// The grammar, one msgpack value per message:
//
//   message  := [0, id, method, params]          request
//             | [1, id, error, result]           response
//             | [2, method, params]              notification
//             | [3, id, method, params, opts]    call
//             | [4|5, id, seq, kind, payload]    stream message
//   id       := uint 0..2^32-1       method := str     params := array
//   opts     := map of str -> value  seq := uint       kind := uint 0..6
#include "rpc_msg.h"

#include <msgpack.h>
#include <string.h>

#include "mpk_item.h"

typedef struct {
  const char *p;
  size_t n;
  size_t pos;
  const char **why;
} cursor_t;

static int fail(cursor_t *c, int rc, const char *why)
{
  *c->why = why;
  return rc;
}

// Skips one value. The message was framed by mpk_stream, so every count
// is backed by bytes and the walk needs no stack: it counts items owed.
static int skip(cursor_t *c, rpc_span_t *span)
{
  size_t start = c->pos;
  uint64_t owed = 1;
  while (owed > 0) {
    mpk_item_t it;
    if (mpk_item_read(c->p, c->n, &c->pos, &it) != MPK_OK) {
      return -1;
    }
    owed--;
    if (it.kind == MPK_ARRAY) {
      owed += it.n;
    } else if (it.kind == MPK_MAP) {
      owed += 2 * (uint64_t)it.n;
    }
  }
  span->p = c->p + start;
  span->n = c->pos - start;
  return 0;
}

// Reads a non-negative integer of either msgpack sign family.
static int read_uint(cursor_t *c, uint64_t *v)
{
  mpk_item_t it;
  if (mpk_item_read(c->p, c->n, &c->pos, &it) != MPK_OK) {
    return -1;
  }
  if (it.kind == MPK_UINT) {
    *v = it.v.u;
    return 0;
  }
  if (it.kind == MPK_INT && it.v.i >= 0) {
    *v = (uint64_t)it.v.i;
    return 0;
  }
  return -1;
}

static int read_number(const rpc_span_t *s, double *v)
{
  mpk_item_t it;
  size_t pos = 0;
  if (mpk_item_read(s->p, s->n, &pos, &it) != MPK_OK) {
    return -1;
  }
  switch (it.kind) {
  case MPK_UINT: *v = (double)it.v.u; return 0;
  case MPK_INT: *v = (double)it.v.i; return 0;
  case MPK_FLOAT32:
  case MPK_FLOAT64: *v = it.v.f; return 0;
  default: return -1;
  }
}

static int span_kind(const rpc_span_t *s, mpk_item_t *it)
{
  size_t pos = 0;
  return mpk_item_read(s->p, s->n, &pos, it) == MPK_OK ? it->kind : -1;
}

static int read_id(cursor_t *c, rpc_msg_t *m)
{
  uint64_t id;
  if (read_uint(c, &id) != 0 || id > UINT32_MAX) {
    return fail(c, RPC_MSG_EFATAL,
                "message id must be an unsigned 32-bit integer");
  }
  m->id = (uint32_t)id;
  return RPC_MSG_OK;
}

// method and params, shared by requests, calls and notifications.
static int read_target(cursor_t *c, rpc_msg_t *m)
{
  mpk_item_t it;
  if (mpk_item_read(c->p, c->n, &c->pos, &it) != MPK_OK ||
      it.kind != MPK_STR) {
    return fail(c, RPC_MSG_EOP, "method must be a string");
  }
  if (it.n > RPC_METHOD_MAX) {
    return fail(c, RPC_MSG_EOP, "method path longer than 1024 bytes");
  }
  m->method.p = it.p;
  m->method.n = it.n;
  if (skip(c, &m->params) != 0 || span_kind(&m->params, &it) != MPK_ARRAY) {
    return fail(c, RPC_MSG_EOP, "params must be an array");
  }
  return RPC_MSG_OK;
}

static int read_option(cursor_t *c, rpc_opts_t *o, const mpk_item_t *key)
{
  rpc_span_t v;
  mpk_item_t it;
  if (skip(c, &v) != 0) {
    return fail(c, RPC_MSG_EOP, "bad option value");
  }
  int kind = span_kind(&v, &it);
  if (key->n == 7 && memcmp(key->p, "timeout", 7) == 0) {
    if (read_number(&v, &o->timeout) != 0 || !(o->timeout > 0)) {
      return fail(c, RPC_MSG_EOP, "option timeout must be a number > 0");
    }
    o->has_timeout = 1;
  } else if (key->n == 5 && memcmp(key->p, "trace", 5) == 0) {
    if ((kind != MPK_STR && kind != MPK_BIN) || it.n > RPC_TRACE_MAX) {
      return fail(c, RPC_MSG_EOP,
                  "option trace must be a string of at most 64 bytes");
    }
    o->trace.p = it.p;
    o->trace.n = it.n;
  } else if (key->n == 3 && memcmp(key->p, "sub", 3) == 0) {
    if (kind != MPK_UINT || it.v.u > RPC_SUB_NONE) {
      return fail(c, RPC_MSG_EOP, "option sub must be 0, 1 or 2");
    }
    o->sub = (int)it.v.u;
  } else if (key->n == 6 && memcmp(key->p, "credit", 6) == 0) {
    if (kind != MPK_UINT) {
      return fail(c, RPC_MSG_EOP, "option credit must be an unsigned integer");
    }
    o->credit = it.v.u;
    o->has_credit = 1;
  } else if (key->n == 6 && memcmp(key->p, "stream", 6) == 0) {
    if (kind != MPK_BOOL) {
      return fail(c, RPC_MSG_EOP, "option stream must be a boolean");
    }
    o->stream = it.v.b;
  }
  return RPC_MSG_OK;  // unknown options are ignored
}

static int read_opts(cursor_t *c, rpc_opts_t *o)
{
  mpk_item_t it;
  if (mpk_item_read(c->p, c->n, &c->pos, &it) != MPK_OK ||
      it.kind != MPK_MAP) {
    return fail(c, RPC_MSG_EOP, "call options must be a map");
  }
  for (uint32_t i = 0; i < it.n; i++) {
    mpk_item_t key;
    if (mpk_item_read(c->p, c->n, &c->pos, &key) != MPK_OK ||
        key.kind != MPK_STR) {
      return fail(c, RPC_MSG_EOP, "call option names must be strings");
    }
    int rc = read_option(c, o, &key);
    if (rc != RPC_MSG_OK) {
      return rc;
    }
  }
  return RPC_MSG_OK;
}

static int read_stream(cursor_t *c, rpc_msg_t *m)
{
  uint64_t kind;
  mpk_item_t it;
  if (read_uint(c, &m->seq) != 0) {
    return fail(c, RPC_MSG_EOP, "stream sequence number must be an unsigned integer");
  }
  if (read_uint(c, &kind) != 0 || kind >= RPC_KIND_COUNT ||
      (m->type == RPC_TO_CALLER && kind > RPC_CREDIT)) {
    return fail(c, RPC_MSG_EOP, "unknown stream message kind");
  }
  m->kind = (int)kind;
  if (skip(c, &m->payload) != 0) {
    return fail(c, RPC_MSG_EFATAL, "message ends early");
  }
  int pk = span_kind(&m->payload, &it);
  switch (m->kind) {
  case RPC_DATA:
    if (pk != MPK_BIN && pk != MPK_STR) {
      return fail(c, RPC_MSG_EOP, "data payload must be binary");
    }
    break;
  case RPC_CREDIT:
    if (pk != MPK_UINT) {
      return fail(c, RPC_MSG_EOP, "credit must be an unsigned integer");
    }
    m->count = it.v.u;
    break;
  case RPC_DEADLINE:
    if (read_number(&m->payload, &m->seconds) != 0 || !(m->seconds > 0)) {
      return fail(c, RPC_MSG_EOP, "deadline must be a number > 0");
    }
    break;
  default:
    break;
  }
  return RPC_MSG_OK;
}

static int expect_len(cursor_t *c, uint32_t got, uint32_t want, int rc,
                      const char *why)
{
  return got == want ? RPC_MSG_OK : fail(c, rc, why);
}

int rpc_msg_parse(const char *p, size_t n, rpc_msg_t *m, const char **why)
{
  cursor_t c = {p, n, 0, why};
  mpk_item_t top;
  uint64_t type;
  memset(m, 0, sizeof *m);
  if (mpk_item_read(p, n, &c.pos, &top) != MPK_OK || top.kind != MPK_ARRAY ||
      top.n < 2) {
    return fail(&c, RPC_MSG_EFATAL, "message is not an array of 2 or more");
  }
  if (read_uint(&c, &type) != 0 || type > RPC_TO_CALLEE) {
    return fail(&c, RPC_MSG_EFATAL, "unknown message type");
  }
  m->type = (int)type;
  if (m->type == RPC_NOTIFY) {
    int rc = expect_len(&c, top.n, 3, RPC_MSG_EFATAL,
                        "a notification has 3 elements");
    return rc != RPC_MSG_OK ? rc : read_target(&c, m);
  }
  int rc = read_id(&c, m);
  if (rc != RPC_MSG_OK) {
    return rc;
  }
  switch (m->type) {
  case RPC_REQUEST:
    rc = expect_len(&c, top.n, 4, RPC_MSG_EOP, "a request has 4 elements");
    return rc != RPC_MSG_OK ? rc : read_target(&c, m);
  case RPC_CALL:
    rc = expect_len(&c, top.n, 5, RPC_MSG_EOP, "a call has 5 elements");
    rc = rc != RPC_MSG_OK ? rc : read_target(&c, m);
    return rc != RPC_MSG_OK ? rc : read_opts(&c, &m->opts);
  case RPC_RESPONSE:
    rc = expect_len(&c, top.n, 4, RPC_MSG_EFATAL,
                    "a response has 4 elements");
    if (rc != RPC_MSG_OK) {
      return rc;
    }
    if (skip(&c, &m->error) != 0 || skip(&c, &m->result) != 0) {
      return fail(&c, RPC_MSG_EFATAL, "message ends early");
    }
    m->failed = !(m->error.n == 1 && m->error.p[0] == '\xc0');
    return RPC_MSG_OK;
  default:
    rc = expect_len(&c, top.n, 5, RPC_MSG_EOP,
                    "a stream message has 5 elements");
    return rc != RPC_MSG_OK ? rc : read_stream(&c, m);
  }
}

// --- encoding ---------------------------------------------------------------

static void packer(msgpack_packer *pk, mpk_buf_t *b)
{
  msgpack_packer_init(pk, b, mpk_buf_write);
}

// Every message starts alike: an array of n elements, then its type.
static void start(msgpack_packer *pk, mpk_buf_t *b, size_t n, int type)
{
  packer(pk, b);
  msgpack_pack_array(pk, n);
  msgpack_pack_uint8(pk, (uint8_t)type);
}

void rpc_msg_put_request(mpk_buf_t *b, uint32_t id, const char *method,
                         size_t n)
{
  msgpack_packer pk;
  start(&pk, b, 4, RPC_REQUEST);
  msgpack_pack_uint32(&pk, id);
  msgpack_pack_str_with_body(&pk, method, n);
}

void rpc_msg_put_call(mpk_buf_t *b, uint32_t id, const char *method,
                      size_t n)
{
  msgpack_packer pk;
  start(&pk, b, 5, RPC_CALL);
  msgpack_pack_uint32(&pk, id);
  msgpack_pack_str_with_body(&pk, method, n);
}

void rpc_msg_put_notify(mpk_buf_t *b, const char *method, size_t n)
{
  msgpack_packer pk;
  start(&pk, b, 3, RPC_NOTIFY);
  msgpack_pack_str_with_body(&pk, method, n);
}

void rpc_msg_put_response(mpk_buf_t *b, uint32_t id)
{
  msgpack_packer pk;
  start(&pk, b, 4, RPC_RESPONSE);
  msgpack_pack_uint32(&pk, id);
}

void rpc_msg_put_stream(mpk_buf_t *b, int type, uint32_t id, uint64_t seq,
                        int kind)
{
  msgpack_packer pk;
  start(&pk, b, 5, type);
  msgpack_pack_uint32(&pk, id);
  msgpack_pack_uint64(&pk, seq);
  msgpack_pack_uint8(&pk, (uint8_t)kind);
}

static void pack_key(msgpack_packer *pk, const char *key)
{
  msgpack_pack_str_with_body(pk, key, strlen(key));
}

void rpc_msg_put_opts(mpk_buf_t *b, const rpc_opts_t *o)
{
  msgpack_packer pk;
  packer(&pk, b);
  size_t n = (size_t)o->has_timeout + (o->trace.n > 0) +
             (o->sub != RPC_SUB_FULL) + (size_t)o->has_credit +
             (size_t)(o->stream != 0);
  msgpack_pack_map(&pk, n);
  if (o->has_timeout) {
    pack_key(&pk, "timeout");
    msgpack_pack_double(&pk, o->timeout);
  }
  if (o->trace.n > 0) {
    pack_key(&pk, "trace");
    msgpack_pack_str_with_body(&pk, o->trace.p, o->trace.n);
  }
  if (o->sub != RPC_SUB_FULL) {
    pack_key(&pk, "sub");
    msgpack_pack_uint8(&pk, (uint8_t)o->sub);
  }
  if (o->has_credit) {
    pack_key(&pk, "credit");
    msgpack_pack_uint64(&pk, o->credit);
  }
  if (o->stream) {
    pack_key(&pk, "stream");
    msgpack_pack_true(&pk);
  }
}

void rpc_msg_put_error(mpk_buf_t *b, uint32_t id, const char *code,
                       const char *message)
{
  msgpack_packer pk;
  rpc_msg_put_response(b, id);
  packer(&pk, b);
  msgpack_pack_map(&pk, 2);
  pack_key(&pk, "code");
  pack_key(&pk, code);
  pack_key(&pk, "message");
  pack_key(&pk, message);
  msgpack_pack_nil(&pk);
}

void rpc_msg_put_signal(mpk_buf_t *b, int type, uint32_t id, uint64_t seq,
                        int kind)
{
  msgpack_packer pk;
  rpc_msg_put_stream(b, type, id, seq, kind);
  packer(&pk, b);
  msgpack_pack_nil(&pk);
}

void rpc_msg_put_credit(mpk_buf_t *b, int type, uint32_t id, uint64_t seq,
                        uint64_t n)
{
  msgpack_packer pk;
  rpc_msg_put_stream(b, type, id, seq, RPC_CREDIT);
  packer(&pk, b);
  msgpack_pack_uint64(&pk, n);
}

void rpc_msg_put_hello_reply(mpk_buf_t *b, uint32_t id, const char *name,
                             uint64_t max_message, int max_depth,
                             uint64_t max_pending)
{
  msgpack_packer pk;
  rpc_msg_put_response(b, id);
  packer(&pk, b);
  msgpack_pack_nil(&pk);
  msgpack_pack_map(&pk, 3);
  pack_key(&pk, "version");
  msgpack_pack_uint8(&pk, RPC_VERSION);
  pack_key(&pk, "name");
  pack_key(&pk, name);
  pack_key(&pk, "limits");
  msgpack_pack_map(&pk, 5);
  pack_key(&pk, "message");
  msgpack_pack_uint64(&pk, max_message);
  pack_key(&pk, "depth");
  msgpack_pack_int(&pk, max_depth);
  pack_key(&pk, "pending");
  msgpack_pack_uint64(&pk, max_pending);
  pack_key(&pk, "trace");
  msgpack_pack_uint32(&pk, RPC_TRACE_MAX);
  pack_key(&pk, "method");
  msgpack_pack_uint32(&pk, RPC_METHOD_MAX);
}
