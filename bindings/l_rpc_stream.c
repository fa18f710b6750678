// Streams of hilt.rpc.core: the streamed results, streamed input and raw
// bytes of one operation (docs/protocol.md, sections 2 and 5), on the end
// that calls (conn:open) and on the end that handles (conn:stream(id)):
// the object, what arrives, waiting and making streams here; taking what
// arrived in l_rpc_stream_read.c, sending in l_rpc_stream_write.c.
//
// What arrives waits here until a task takes it: items as their msgpack
// bytes in a ring (decoded by the taker, a closure over msgpack's
// upvalues), DATA in a byte buffer. This end grants again once its reader
// has taken half a window, so what waits never exceeds what it granted,
// whatever the producer's pace. A writer waits while the peer's credit is
// spent.
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "l_msgpack.h"
#include "l_rpc_stream.h"
#include "mpk_item.h"

stream_t *hilt__stream_check(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, RPC_STREAM_MT);
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

void hilt__stream_start_timer(stream_t *st, double seconds)
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

void hilt__stream_ring_pop(lua_State *L, stream_t *st)
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
      st->window = stream_default_window(st, m->kind);
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

// --- waiting ---------------------------------------------------------------------

static void reader_cancel(hilt_task_t *task, void *data)
{
  ((stream_t *)data)->reader = NULL;
}

static void writer_cancel(hilt_task_t *task, void *data)
{
  ((stream_t *)data)->writer = NULL;
}

static const struct {
  int (*fn)(lua_State *L, stream_t *st);
  int top;
} steps[] = {
    [STEP_RECV] = {hilt__stream_recv_step, 1},
    [STEP_READ] = {hilt__stream_read_step, 2},
    [STEP_UNTIL] = {hilt__stream_until_step, 3},
    [STEP_RESULT] = {hilt__stream_result_step, 1},
    [STEP_SEND] = {hilt__stream_send_step, 2},
    [STEP_WRITE] = {hilt__stream_write_step, 3},
};

static int resume_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  lua_settop(L, steps[ctx].top);
  return steps[ctx].fn(L, hilt__stream_check(L, 1));
}

int hilt__stream_wait(lua_State *L, stream_t *st, hilt_task_t **slot,
                      int step)
{
  if (*slot != NULL) {
    return luaL_error(L, "another task is already %s this stream",
                      slot == &st->reader ? "reading" : "writing");
  }
  hilt_task_check_can_wait(L, "rpc stream");
  *slot = hilt_task_current();
  return hilt_task_waitk(L, "rpc stream",
                         slot == &st->reader ? reader_cancel : writer_cancel,
                         st, step, resume_k);
}

int hilt__stream_raise(lua_State *L, stream_t *st)
{
  lua_rawgeti(L, LUA_REGISTRYINDEX, st->outcome_ref);
  if (lua_type(L, -1) == LUA_TSTRING) {
    hilt__rpc_decode_top(L);
    hilt__rpc_push_error(L, -1, st->c->peer);
  }
  return lua_error(L);
}

void hilt__stream_cancel(stream_t *st)
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

static int l_gc(lua_State *L)
{
  stream_t *st = hilt__stream_check(L, 1);
  hilt__stream_cancel(st);
  detach(st);
  mpk_buf_free(&st->in);
  luaL_unref(L, LUA_REGISTRYINDEX, st->ring_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, st->outcome_ref);
  st->ring_ref = st->outcome_ref = LUA_NOREF;
  return 0;
}

static int l_tostring(lua_State *L)
{
  stream_t *st = hilt__stream_check(L, 1);
  lua_pushfstring(L, "hilt.rpc.Stream(%s %d, %s)",
                  st->side == RPC_CALLER ? "call" : "handling",
                  (int)st->id, st->done ? "ended" : "open");
  return 1;
}

// --- making streams -----------------------------------------------------------------

// Pushes a stream for op, anchoring the connection at conn_idx.
void *hilt__stream_push(lua_State *L, conn_t *c, int conn_idx, rpc_op_t *op)
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
  luaL_checkstring(L, 2);
  rpc_opts_t o;
  hilt__conn_opts(L, 3, &o);
  luaL_argcheck(L, o.sub != RPC_SUB_NONE, 3,
                "a streaming call needs a response (sub full or done)");
  o.stream = 1;
  rpc_op_t *op = hilt__conn_send_call(L, c, &o);
  stream_t *st = hilt__stream_push(L, c, 1, op);
  st->start = uv_now(hilt_sched_loop());
  if (o.has_credit && o.credit > 0) {
    st->window = o.credit;
  }
  if (o.has_timeout) {
    hilt__stream_start_timer(st, o.timeout);
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
  hilt__stream_push(L, c, 1, op);
  return 1;
}

void hilt__stream_open(lua_State *L, int uv)
{
  static const luaL_Reg methods[] = {
      {"recv", hilt__stream_recv},
      {"read", hilt__stream_read},
      {"read_until", hilt__stream_read_until},
      {"result", hilt__stream_result},
      {"send", hilt__stream_send},
      {"write", hilt__stream_write},
      {"close_write", hilt__stream_close_write},
      {"close", hilt__stream_close},
      {"set_timeout", hilt__stream_set_timeout},
      {NULL, NULL}};
  // `for item in stream do` calls it: recv. Leaving such a loop closes it.
  static const luaL_Reg meta[] = {{"__call", hilt__stream_recv},
                                  {"__close", hilt__stream_close},
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
