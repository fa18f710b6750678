// Streams of hilt.rpc.core: the streamed results, streamed input and raw
// bytes of one operation (docs/protocol.md, sections 2 and 5), on the end
// that calls (conn:open) and on the end that handles (conn:stream(id)).
//
// What arrives waits here until a task takes it: items as their msgpack
// bytes in a ring (decoded by the taker, a closure over msgpack's
// upvalues), DATA in a byte buffer. This end grants again once its reader
// has taken half a window, so what waits never exceeds what it granted,
// whatever the producer's pace. A writer waits while the peer's credit is
// spent.
#define _GNU_SOURCE  // memmem
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "l_msgpack.h"
#include "l_rpc.h"
#include "mpk_item.h"

#define CHUNK_MAX (256u << 10)       // bytes of one DATA message we send
#define READ_UNTIL_MAX (1u << 20)    // read_until's default limit

typedef struct {
  conn_t *c;
  rpc_op_t *op;           // NULL once the session let go of it
  int side;               // RPC_CALLER or RPC_CALLEE
  uint32_t id;
  // what came in
  int ring_ref;           // registry: a table, the ring of item bytes
  int ring_head, ring_count, ring_cap;
  mpk_buf_t in;           // DATA not yet read, from in_off
  size_t in_off;
  uint64_t window;        // units granted at a time; 0 until known
  uint64_t taken;         // units taken since the last grant
  uint64_t extra;         // granted beyond the window (read_until)
  int eof;                // END came or the op is over: nothing more comes
  // the outcome: the response (caller), or an end decided here
  int done;
  int ok;
  int outcome_ref;        // registry: the response's value bytes, or an Error
  hilt_task_t *reader;
  hilt_task_t *writer;
  uv_timer_t *timer;      // caller: the call's timeout
  uint64_t start;         // caller: the loop's time at the call, in ms
} stream_t;

static stream_t *check_stream(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, RPC_STREAM_MT);
}

static uint64_t default_window(const stream_t *st, int kind)
{
  return kind == RPC_DATA ? st->c->s.limits.credit_bytes
                          : st->c->s.limits.credit;
}

static size_t bytes_queued(const stream_t *st)
{
  return st->in.len - st->in_off;
}

// --- waking and ending ------------------------------------------------------------

static void wake(hilt_task_t **slot)
{
  hilt_task_t *t = *slot;
  if (t != NULL) {
    *slot = NULL;
    hilt_task_wake(t, 0);
  }
}

static void timer_close_cb(uv_handle_t *h)
{
  free(h);
}

static void stop_timer(stream_t *st)
{
  if (st->timer != NULL) {
    uv_close((uv_handle_t *)st->timer, timer_close_cb);
    st->timer = NULL;
  }
}

// Lets go of the op: the session ends or frees it next.
static void detach(stream_t *st)
{
  if (st->op != NULL) {
    st->op->stream = NULL;
    st->op = NULL;
  }
  stop_timer(st);
}

// Decides the outcome here: an Error `code`, or (code NULL) a plain end.
static void settle(stream_t *st, const char *code, const char *message)
{
  st->eof = 1;
  if (st->done) {
    return;
  }
  st->done = 1;
  st->ok = code == NULL;
  if (code != NULL) {
    lua_State *L = st->c->L;
    hilt_error_push(L, code, "%s", message);
    st->outcome_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
}

void hilt__stream_end(conn_t *c, rpc_op_t *op, const char *code,
                      const char *message)
{
  stream_t *st = op->stream;
  if (st == NULL) {
    return;
  }
  settle(st, code, message);
  detach(st);
  wake(&st->reader);
  wake(&st->writer);
}

void hilt__stream_response(conn_t *c, rpc_op_t *op, const rpc_msg_t *m)
{
  stream_t *st = op->stream;
  if (!st->done) {
    const rpc_span_t *v = m->failed ? &m->error : &m->result;
    lua_pushlstring(c->L, v->p, v->n);
    st->outcome_ref = luaL_ref(c->L, LUA_REGISTRYINDEX);
    st->done = 1;
    st->ok = !m->failed;
  }
  st->eof = 1;
  detach(st);
  wake(&st->reader);
  wake(&st->writer);
}

static void caller_timeout_cb(uv_timer_t *t)
{
  stream_t *st = t->data;
  conn_t *c = st->c;
  rpc_session_signal(&c->s, st->op, RPC_EXPIRE);
  rpc_session_end(&c->s, st->op);
  hilt__stream_end(c, st->op, "expired", "the call's deadline passed");
}

// Arms the call's timer to fire `seconds` after the call started.
static void start_timer(stream_t *st, double seconds)
{
  if (st->timer == NULL) {
    st->timer = malloc(sizeof *st->timer);
    uv_timer_init(hilt_sched_loop(), st->timer);
    st->timer->data = st;
  }
  uint64_t due = st->start + (uint64_t)(seconds * 1000 + 0.5);
  uint64_t now = uv_now(st->timer->loop);
  uv_timer_start(st->timer, caller_timeout_cb, due > now ? due - now : 0, 0);
}

// --- what arrives -------------------------------------------------------------------

static void ring_push(stream_t *st, const char *p, size_t n)
{
  lua_State *L = st->c->L;
  if (st->ring_ref == LUA_NOREF || st->ring_count == st->ring_cap) {
    int cap = st->ring_cap == 0 ? 16 : st->ring_cap * 2;
    lua_createtable(L, cap, 0);
    if (st->ring_ref != LUA_NOREF) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, st->ring_ref);
      for (int i = 0; i < st->ring_count; i++) {
        lua_rawgeti(L, -1, (st->ring_head + i) % st->ring_cap + 1);
        lua_rawseti(L, -3, i + 1);
      }
      lua_pop(L, 1);
      lua_rawseti(L, LUA_REGISTRYINDEX, st->ring_ref);
    } else {
      st->ring_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    st->ring_head = 0;
    st->ring_cap = cap;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, st->ring_ref);
  lua_pushlstring(L, p, n);
  lua_rawseti(L, -2, (st->ring_head + st->ring_count) % st->ring_cap + 1);
  lua_pop(L, 1);
  st->ring_count++;
}

// Pushes the oldest item's bytes.
static void ring_pop(lua_State *L, stream_t *st)
{
  int slot = st->ring_head + 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, st->ring_ref);
  lua_rawgeti(L, -1, slot);
  lua_pushnil(L);
  lua_rawseti(L, -3, slot);
  lua_remove(L, -2);
  st->ring_head = (st->ring_head + 1) % st->ring_cap;
  st->ring_count--;
}

void hilt__stream_deliver(conn_t *c, rpc_op_t *op, const rpc_msg_t *m)
{
  stream_t *st = op->stream;
  switch (m->kind) {
  case RPC_ITEM:
  case RPC_DATA:
    if (st->window == 0) {
      st->window = default_window(st, m->kind);
    }
    if (m->kind == RPC_ITEM) {
      ring_push(st, m->payload.p, m->payload.n);
    } else {
      mpk_item_t it;
      size_t pos = 0;
      mpk_item_read(m->payload.p, m->payload.n, &pos, &it);  // checked
      mpk_buf_write(&st->in, it.p, it.n);
    }
    wake(&st->reader);
    break;
  case RPC_END:
    st->eof = 1;
    wake(&st->reader);
    break;
  case RPC_CREDIT:
    wake(&st->writer);
    break;
  case RPC_CANCEL:
    settle(st, "cancelled", "cancelled by the caller");
    wake(&st->reader);
    wake(&st->writer);
    break;
  case RPC_EXPIRE:
    settle(st, "expired", "the caller's deadline passed");
    wake(&st->reader);
    wake(&st->writer);
    break;
  default:
    break;
  }
}

// --- taking what arrived --------------------------------------------------------------

// Counts n units taken by the reader; grants them back once they make half
// a window, less what read_until granted beyond it.
static void took(stream_t *st, uint64_t n)
{
  st->taken += n;
  uint64_t back = st->extra < st->taken ? st->extra : st->taken;
  st->extra -= back;
  st->taken -= back;
  rpc_op_t *op = st->op;
  if (op != NULL && !op->end_in && st->window > 0 &&
      st->taken >= (st->window + 1) / 2) {
    rpc_session_grant(&st->c->s, op, st->taken);
    st->taken = 0;
  }
}

// Before a reader waits: a peer without credit could never send what it
// waits for, so it gets a window. That is the callee's first grant of
// input, and read_until's way to look further than a window.
static void before_wait(stream_t *st, int kind)
{
  rpc_op_t *op = st->op;
  if (op == NULL || op->end_in || op->window_in || op->credit_in > 0) {
    return;
  }
  if (st->window == 0) {
    st->window = default_window(st, kind);
  }
  if (st->ring_count > 0 || bytes_queued(st) > 0) {
    st->extra += st->window;
  }
  rpc_session_grant(&st->c->s, op, st->window);
}

static void reader_cancel(hilt_task_t *task, void *data)
{
  ((stream_t *)data)->reader = NULL;
}

static void writer_cancel(hilt_task_t *task, void *data)
{
  ((stream_t *)data)->writer = NULL;
}

static int wait_as(lua_State *L, stream_t *st, hilt_task_t **slot,
                   lua_KContext ctx, lua_KFunction k)
{
  if (*slot != NULL) {
    return luaL_error(L, "another task is already %s this stream",
                      slot == &st->reader ? "reading" : "writing");
  }
  hilt_task_check_can_wait(L, "rpc stream");
  *slot = hilt_task_current();
  return hilt_task_waitk(L, "rpc stream", slot == &st->reader ? reader_cancel
                                                              : writer_cancel,
                         st, ctx, k);
}

// Replaces the msgpack bytes on top of L by their value.
static void decode_top(lua_State *L)
{
  size_t n, pos = 0;
  const char *p = lua_tolstring(L, -1, &n);
  mp_opts_t o = {.max_depth = MPK_DEPTH_MAX};
  mp_decoder_t d = {.L = L};
  if (hilt__msgpack_decode(&d, p, n, &pos, &o) != MP_DECODE_OK) {
    lua_pushnil(L);  // the session checked the bytes; only keys can fail
  }
  lua_remove(L, -2);
}

// Raises the outcome's error.
static int raise_outcome(lua_State *L, stream_t *st)
{
  lua_rawgeti(L, LUA_REGISTRYINDEX, st->outcome_ref);
  if (lua_type(L, -1) == LUA_TSTRING) {
    decode_top(L);
    hilt__rpc_push_error(L, -1, st->c->peer);
  }
  return lua_error(L);
}

// With nothing queued: 0 when more may come; otherwise pushes nil (the
// stream ended well) and returns 1, or raises the failure.
static int at_end(lua_State *L, stream_t *st)
{
  if (st->done && !st->ok) {
    return raise_outcome(L, st);
  }
  if (st->eof || st->done || st->op == NULL) {
    lua_pushnil(L);
    return 1;
  }
  return 0;
}

static int recv_k(lua_State *L, int status, lua_KContext ctx);

static int recv_step(lua_State *L, stream_t *st)
{
  if (st->ring_count > 0) {
    ring_pop(L, st);
    decode_top(L);
    took(st, 1);
    return 1;
  }
  if (bytes_queued(st) > 0) {
    return luaL_error(L, "this stream carries bytes: use read or read_until");
  }
  if (at_end(L, st)) {
    return 1;
  }
  before_wait(st, RPC_ITEM);
  return wait_as(L, st, &st->reader, 0, recv_k);
}

static int recv_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  lua_settop(L, 1);
  return recv_step(L, check_stream(L, 1));
}

// stream:recv() -> the next item, or nil once the stream ended; raises the
// call's error after the last item.
static int l_recv(lua_State *L)
{
  lua_settop(L, 1);
  return recv_step(L, check_stream(L, 1));
}

// Pushes and consumes n queued bytes.
static void take_bytes(lua_State *L, stream_t *st, size_t n)
{
  lua_pushlstring(L, st->in.data + st->in_off, n);
  st->in_off += n;
  if (st->in_off == st->in.len) {
    mpk_buf_reset(&st->in);
    st->in_off = 0;
  } else if (st->in_off > st->in.len / 2) {
    memmove(st->in.data, st->in.data + st->in_off, bytes_queued(st));
    st->in.len -= st->in_off;
    st->in_off = 0;
  }
  took(st, n);
}

static int read_k(lua_State *L, int status, lua_KContext ctx);

static int read_step(lua_State *L, stream_t *st, size_t max)
{
  size_t n = bytes_queued(st);
  if (n > 0) {
    take_bytes(L, st, n < max ? n : max);
    return 1;
  }
  if (st->ring_count > 0) {
    return luaL_error(L, "this stream carries items: use recv");
  }
  if (at_end(L, st)) {
    return 1;
  }
  before_wait(st, RPC_DATA);
  return wait_as(L, st, &st->reader, (lua_KContext)max, read_k);
}

static int read_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  lua_settop(L, 1);
  return read_step(L, check_stream(L, 1), (size_t)ctx);
}

// stream:read([max]) -> the bytes that arrived (at most max), waiting for
// some; nil once the stream ended.
static int l_read(lua_State *L)
{
  stream_t *st = check_stream(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, max >= 0, 2, "max must be >= 0");
  lua_settop(L, 1);
  return read_step(L, st, max == 0 ? SIZE_MAX : (size_t)max);
}

static int until_k(lua_State *L, int status, lua_KContext ctx);

static int until_step(lua_State *L, stream_t *st)
{
  size_t seplen;
  const char *sep = lua_tolstring(L, 2, &seplen);
  size_t max = (size_t)lua_tointeger(L, 3);
  size_t n = bytes_queued(st);
  const char *at =
      n > 0 ? memmem(st->in.data + st->in_off, n, sep, seplen) : NULL;
  if (at != NULL) {
    take_bytes(L, st, (size_t)(at - (st->in.data + st->in_off)) + seplen);
    return 1;
  }
  if (n >= max) {
    hilt_error_push(L, "failed", "read_until: no separator within %zu bytes",
                    max);
    return lua_error(L);
  }
  if (st->ring_count > 0) {
    return luaL_error(L, "this stream carries items: use recv");
  }
  if (st->eof || st->done || st->op == NULL) {
    if (n > 0) {
      take_bytes(L, st, n);  // the rest, without a separator
      return 1;
    }
    return at_end(L, st);
  }
  before_wait(st, RPC_DATA);
  return wait_as(L, st, &st->reader, 0, until_k);
}

static int until_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  lua_settop(L, 3);
  return until_step(L, check_stream(L, 1));
}

// stream:read_until(sep [, max]) -> the bytes up to and including sep;
// at the end, what is left without it, then nil. Raises `failed` when
// max bytes (default 1 MiB) come without sep.
static int l_read_until(lua_State *L)
{
  stream_t *st = check_stream(L, 1);
  size_t seplen;
  luaL_checklstring(L, 2, &seplen);
  luaL_argcheck(L, seplen > 0, 2, "separator must not be empty");
  lua_Integer max = luaL_optinteger(L, 3, READ_UNTIL_MAX);
  luaL_argcheck(L, max > 0, 3, "max must be > 0");
  lua_settop(L, 2);
  lua_pushinteger(L, max);
  return until_step(L, st);
}

static int result_k(lua_State *L, int status, lua_KContext ctx);

static int result_step(lua_State *L, stream_t *st)
{
  // Whatever was not taken is dropped, and granted back, so a producer
  // waiting for credit can reach its response.
  uint64_t n = (uint64_t)st->ring_count + bytes_queued(st);
  while (st->ring_count > 0) {
    ring_pop(L, st);
    lua_pop(L, 1);
  }
  mpk_buf_reset(&st->in);
  st->in_off = 0;
  if (n > 0) {
    took(st, n);
  }
  if (st->done) {
    if (!st->ok) {
      return raise_outcome(L, st);
    }
    if (st->outcome_ref == LUA_NOREF) {
      return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->outcome_ref);
    decode_top(L);
    return 1;
  }
  before_wait(st, RPC_ITEM);
  return wait_as(L, st, &st->reader, 0, result_k);
}

static int result_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  lua_settop(L, 1);
  return result_step(L, check_stream(L, 1));
}

// stream:result() -> the call's result, once its response came; drops
// items and bytes not taken yet. Raises the call's error.
static int l_result(lua_State *L)
{
  stream_t *st = check_stream(L, 1);
  if (st->side != RPC_CALLER) {
    return luaL_error(L, "result: only the calling end has a result");
  }
  lua_settop(L, 1);
  return result_step(L, st);
}

// --- sending --------------------------------------------------------------------------

// Raises unless st can still send `kind`.
static rpc_op_t *check_sendable(lua_State *L, stream_t *st, int kind)
{
  if (st->done && !st->ok) {
    raise_outcome(L, st);
  }
  if (st->c->ended) {
    hilt_error_push(L, "unavailable", "connection to %s is closed (%s)",
                    st->c->peer, st->c->why);
    lua_error(L);
  }
  rpc_op_t *op = st->op;
  if (op == NULL) {
    luaL_error(L, "the call is over: nothing more can be sent");
  }
  if (rpc_session_take_credit(&st->c->s, op, kind, 0) == -2) {
    luaL_error(L, "cannot send %s: %s", kind == RPC_ITEM ? "items" : "bytes",
               !op->streaming ? "the call was made without streams"
               : op->end_out  ? "this end closed its sending side"
               : kind == RPC_ITEM ? "this stream carries bytes (use write)"
                                  : "this stream carries items (use send)");
  }
  return op;
}

static int stream_type(const stream_t *st)
{
  return st->side == RPC_CALLER ? RPC_TO_CALLEE : RPC_TO_CALLER;
}

static int send_k(lua_State *L, int status, lua_KContext ctx);

static int send_step(lua_State *L, stream_t *st)
{
  conn_t *c = st->c;
  rpc_op_t *op = check_sendable(L, st, RPC_ITEM);
  if (rpc_session_credit(&c->s, op, RPC_ITEM) == 0) {
    return wait_as(L, st, &st->writer, 0, send_k);
  }
  // The seq is only counted once the value packed: a failure sends nothing.
  rpc_msg_put_stream(&c->out, stream_type(st), op->id, op->seq_out, RPC_ITEM);
  char err[200];
  if (hilt__msgpack_pack_into(L, 2, &c->out, err, sizeof err) != 0 ||
      hilt__conn_check_size(c, err, sizeof err) != 0) {
    mpk_buf_reset(&c->out);
    hilt_error_push(L, "invalid_argument", "cannot send the item: %s", err);
    return lua_error(L);
  }
  rpc_session_next_seq(op);
  rpc_session_take_credit(&c->s, op, RPC_ITEM, 1);
  hilt__conn_send(c);
  return 0;
}

static int send_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  lua_settop(L, 2);
  return send_step(L, check_stream(L, 1));
}

// stream:send(value): streams one item, waiting for credit.
static int l_send(lua_State *L)
{
  stream_t *st = check_stream(L, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  return send_step(L, st);
}

static int write_k(lua_State *L, int status, lua_KContext ctx);

static int write_step(lua_State *L, stream_t *st, size_t off)
{
  conn_t *c = st->c;
  size_t n;
  const char *p = lua_tolstring(L, 2, &n);
  while (off < n) {
    rpc_op_t *op = check_sendable(L, st, RPC_DATA);
    uint64_t credit = rpc_session_credit(&c->s, op, RPC_DATA);
    if (credit == 0) {
      return wait_as(L, st, &st->writer, (lua_KContext)off, write_k);
    }
    size_t k = n - off;
    k = k < credit ? k : (size_t)credit;
    k = k < CHUNK_MAX ? k : CHUNK_MAX;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &c->out, mpk_buf_write);
    rpc_msg_put_stream(&c->out, stream_type(st), op->id,
                       rpc_session_next_seq(op), RPC_DATA);
    msgpack_pack_bin_with_body(&pk, p + off, k);
    rpc_session_take_credit(&c->s, op, RPC_DATA, k);
    hilt__conn_send(c);
    off += k;
  }
  return 0;
}

static int write_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  lua_settop(L, 2);
  return write_step(L, check_stream(L, 1), (size_t)ctx);
}

// stream:write(bytes): streams raw bytes, in chunks as credit comes.
static int l_write(lua_State *L)
{
  stream_t *st = check_stream(L, 1);
  luaL_checkstring(L, 2);
  lua_settop(L, 2);
  return write_step(L, st, 0);
}

// stream:close_write(): this end sends nothing more (END); reading goes on.
static int l_close_write(lua_State *L)
{
  stream_t *st = check_stream(L, 1);
  if (st->op != NULL && !st->c->ended) {
    rpc_session_signal(&st->c->s, st->op, RPC_END);
  }
  return 0;
}

// Cancels the caller's op unless its outcome is in.
static void cancel(stream_t *st)
{
  conn_t *c = st->c;
  rpc_op_t *op = st->op;
  if (op == NULL || st->side != RPC_CALLER || c->ended) {
    return;
  }
  rpc_session_signal(&c->s, op, RPC_CANCEL);
  rpc_session_end(&c->s, op);
  hilt__stream_end(c, op, "cancelled", "the stream was closed");
}

// stream:close(): the caller cancels the call if it is still running; the
// callee closes its sending side.
static int l_close(lua_State *L)
{
  stream_t *st = check_stream(L, 1);
  if (st->side == RPC_CALLER) {
    cancel(st);
  } else {
    l_close_write(L);
  }
  return 0;
}

// stream:set_timeout(seconds): a new deadline for the call, `seconds` from
// its start as each end measured it (DEADLINE); one already past expires
// the call at once.
static int l_set_timeout(lua_State *L)
{
  stream_t *st = check_stream(L, 1);
  double s = luaL_checknumber(L, 2);
  luaL_argcheck(L, s > 0, 2, "timeout must be > 0");
  if (st->side != RPC_CALLER) {
    return luaL_error(L, "set_timeout: only the calling end sets deadlines");
  }
  rpc_op_t *op = st->op;
  if (op == NULL || st->c->ended) {
    return 0;
  }
  conn_t *c = st->c;
  msgpack_packer pk;
  msgpack_packer_init(&pk, &c->out, mpk_buf_write);
  rpc_msg_put_stream(&c->out, RPC_TO_CALLEE, op->id, rpc_session_next_seq(op),
                     RPC_DEADLINE);
  msgpack_pack_double(&pk, s);
  hilt__conn_send(c);
  start_timer(st, s);
  return 0;
}

// stream:__call() is recv, so `for item in stream do` reads it.
static int l_call(lua_State *L)
{
  lua_settop(L, 1);
  return recv_step(L, check_stream(L, 1));
}

static int l_gc(lua_State *L)
{
  stream_t *st = check_stream(L, 1);
  cancel(st);
  detach(st);
  mpk_buf_free(&st->in);
  luaL_unref(L, LUA_REGISTRYINDEX, st->ring_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, st->outcome_ref);
  st->ring_ref = st->outcome_ref = LUA_NOREF;
  return 0;
}

static int l_tostring(lua_State *L)
{
  stream_t *st = check_stream(L, 1);
  lua_pushfstring(L, "hilt.rpc.Stream(%s %d, %s)",
                  st->side == RPC_CALLER ? "call" : "handling",
                  (int)st->id, st->done ? "ended" : "open");
  return 1;
}

// --- making streams -----------------------------------------------------------------

// Pushes a stream for op, anchoring the connection at conn_idx.
static stream_t *push_stream(lua_State *L, conn_t *c, int conn_idx,
                             rpc_op_t *op)
{
  stream_t *st = lua_newuserdatauv(L, sizeof *st, 1);
  memset(st, 0, sizeof *st);
  st->c = c;
  st->op = op;
  st->side = op->side;
  st->id = op->id;
  st->ring_ref = st->outcome_ref = LUA_NOREF;
  mpk_buf_init(&st->in);
  lua_pushvalue(L, conn_idx);
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, RPC_STREAM_MT);
  op->stream = st;
  return st;
}

int hilt__stream_call(lua_State *L)
{
  conn_t *c = hilt__conn_check_open(L, 1);
  size_t mlen;
  const char *method = luaL_checklstring(L, 2, &mlen);
  rpc_opts_t o;
  hilt__conn_opts(L, 3, &o);
  luaL_argcheck(L, o.sub != RPC_SUB_NONE, 3,
                "a streaming call needs a response (sub full or done)");
  o.stream = 1;
  rpc_op_t *op = rpc_session_begin(&c->s, &o);
  if (op == NULL) {
    return luaL_error(L, "out of memory");
  }
  rpc_msg_put_call(&c->out, op->id, method, mlen);
  char err[200];
  int rc = hilt__conn_pack_args(L, c, 4, err, sizeof err);
  if (rc == 0) {
    rpc_msg_put_opts(&c->out, &o);
    rc = hilt__conn_check_size(c, err, sizeof err);
  }
  if (rc != 0) {
    mpk_buf_reset(&c->out);
    rpc_session_forget(&c->s, op);
    hilt_error_push(L, "invalid_argument", "cannot send %s: %s", method, err);
    return lua_error(L);
  }
  hilt__conn_send(c);
  hilt__conn_update_ref(c);
  stream_t *st = push_stream(L, c, 1, op);
  st->start = uv_now(hilt_sched_loop());
  if (o.has_credit && o.credit > 0) {
    st->window = o.credit;
  }
  if (o.has_timeout) {
    start_timer(st, o.timeout);
  }
  return 1;
}

int hilt__stream_of(lua_State *L)
{
  conn_t *c = hilt__conn_check_open(L, 1);
  lua_Integer id = luaL_checkinteger(L, 2);
  rpc_op_t *op = id < 0 || id > UINT32_MAX
                     ? NULL
                     : rpc_optab_get(&c->s.callee, (uint32_t)id);
  if (op == NULL || op->done) {
    return luaL_error(L, "no call %d in flight", (int)id);
  }
  if (op->stream != NULL) {
    return luaL_error(L, "call %d already has its stream", (int)id);
  }
  push_stream(L, c, 1, op);
  return 1;
}

void hilt__stream_open(lua_State *L, int uv)
{
  static const luaL_Reg methods[] = {
      {"recv", l_recv},           {"read", l_read},
      {"read_until", l_read_until}, {"result", l_result},
      {"send", l_send},           {"write", l_write},
      {"close_write", l_close_write}, {"close", l_close},
      {"set_timeout", l_set_timeout}, {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__call", l_call},
                                  {"__close", l_close},
                                  {NULL, NULL}};
  luaL_newmetatable(L, RPC_STREAM_MT);
  lua_newtable(L);
  hilt__msgpack_setfuncs(L, uv, methods);
  lua_setfield(L, -2, "__index");
  hilt__msgpack_setfuncs(L, uv, meta);
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
}
