// Connections of hilt.rpc.core: the session's callbacks, calls from
// tasks, incoming calls as tasks, and the end of a connection.
//
// A call packs its request here, then waits; the response's bytes are
// handed to the waiting task as a string and decoded in the call's
// continuation, which runs inside this module's closure (decoding needs
// msgpack's upvalues, which a libuv callback does not have).
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "l_msgpack.h"
#include "l_rpc.h"
#include "log.h"
#include "mpk_item.h"

// A task waiting for the response to one of our operations.
typedef struct {
  conn_t *c;
  rpc_op_t *op;
  hilt_task_t *task;
  uv_timer_t *timer;  // the call's own timeout, or NULL
} call_t;

static conn_t *check_conn(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, RPC_CONN_MT);
}

conn_t *hilt__conn_check_open(lua_State *L, int idx)
{
  conn_t *c = check_conn(L, idx);
  if (c->ended) {
    hilt_error_push(L, "unavailable", "connection to %s is closed (%s)",
                    c->peer, c->why);
    lua_error(L);
  }
  return c;
}

// --- calls ---------------------------------------------------------------------

static void timer_close_cb(uv_handle_t *h)
{
  free(h);
}

// Ends the wait of a call: frees it and leaves the op without a waiter.
static void call_free(call_t *call)
{
  if (call->timer != NULL) {
    uv_close((uv_handle_t *)call->timer, timer_close_cb);
  }
  call->op->data = NULL;
  free(call);
}

// Wakes the call's task with (false, error) for an outcome decided here.
static void call_fail(call_t *call, const char *code, const char *fmt,
                      const char *arg)
{
  lua_State *co = call->task->co;
  lua_pushboolean(co, 0);
  hilt_error_push(co, code, fmt, arg);
  hilt_task_wake(call->task, 2);
  call_free(call);
}

// The caller's timer: the op ends expired here, and the callee is told.
static void call_timeout_cb(uv_timer_t *t)
{
  call_t *call = t->data;
  conn_t *c = call->c;
  rpc_session_signal(&c->s, call->op, RPC_EXPIRE);
  rpc_session_end(&c->s, call->op);
  call_fail(call, "expired", "call to %s expired", c->peer);
}

// The waiting task was cancelled: the callee is told, the op drains.
static void call_cancel_cb(hilt_task_t *task, void *data)
{
  call_t *call = data;
  conn_t *c = call->c;
  if (!c->ended) {
    rpc_session_signal(&c->s, call->op, RPC_CANCEL);
    rpc_session_end(&c->s, call->op);
  }
  call_free(call);
}

// Turns a decoded error object into a hilt.Error on top of L.
static void push_error_object(lua_State *L, int idx);

void hilt__rpc_push_error(lua_State *L, int idx, const char *peer)
{
  idx = lua_absindex(L, idx);
  push_error_object(L, idx);
  lua_pushstring(L, peer);
  lua_setfield(L, -2, "remote");
}

static void push_error_object(lua_State *L, int idx)
{
  if (lua_type(L, idx) == LUA_TTABLE &&
      lua_getfield(L, idx, "code") == LUA_TSTRING) {
    const char *code = lua_tostring(L, -1);
    lua_getfield(L, idx, "message");
    hilt_error_push(L, code, "%s", luaL_optstring(L, -1, code));
    lua_replace(L, -3);
    lua_pop(L, 1);
    lua_getfield(L, idx, "traceback");
    lua_setfield(L, -2, "traceback");
    lua_getfield(L, idx, "data");
    lua_setfield(L, -2, "value");
    return;
  }
  // A plain msgpack-RPC peer's error: any value.
  lua_settop(L, idx);
  hilt_error_push(L, "failed", "%s", luaL_tolstring(L, idx, NULL));
  lua_remove(L, -2);
  lua_pushvalue(L, idx);
  lua_setfield(L, -2, "value");
}

// Resumes conn:call with (true, result bytes) or (false, error bytes |
// hilt.Error).
static int call_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  int ok = lua_toboolean(L, -2);
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t n, pos = 0;
    const char *p = lua_tolstring(L, -1, &n);
    mp_opts_t o = {.max_depth = MPK_DEPTH_MAX};
    mp_decoder_t d = {.L = L};
    if (hilt__msgpack_decode(&d, p, n, &pos, &o) != MP_DECODE_OK) {
      lua_pushnil(L);  // the session checked it; only keys can fail
    }
  } else {
    lua_pushvalue(L, -1);
  }
  if (ok) {
    return 1;
  }
  if (!hilt_error_is(L, -1, NULL)) {
    hilt__rpc_push_error(L, -1, check_conn(L, 1)->peer);
  }
  return lua_error(L);
}

// Packs the values at first..top as an array into c->out.
int hilt__conn_pack_args(lua_State *L, conn_t *c, int first, char *err,
                         size_t n)
{
  int top = lua_gettop(L);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &c->out, mpk_buf_write);
  msgpack_pack_array(&pk, (size_t)(top >= first ? top - first + 1 : 0));
  for (int i = first; i <= top; i++) {
    if (hilt__msgpack_pack_into(L, i, &c->out, err, n) != 0) {
      return -1;
    }
  }
  return 0;
}

// The options of a call: {timeout=, trace=, sub="full"|"done"|"none"}.
void hilt__conn_opts(lua_State *L, int idx, rpc_opts_t *o)
{
  memset(o, 0, sizeof *o);
  if (lua_isnoneornil(L, idx)) {
    return;
  }
  luaL_checktype(L, idx, LUA_TTABLE);
  if (lua_getfield(L, idx, "timeout") != LUA_TNIL) {
    o->timeout = lua_tonumber(L, -1);
    luaL_argcheck(L, o->timeout > 0, idx, "timeout must be a number > 0");
    o->has_timeout = 1;
  }
  if (lua_getfield(L, idx, "trace") != LUA_TNIL) {
    size_t n;
    const char *t = luaL_checklstring(L, -1, &n);  // anchored by opts
    luaL_argcheck(L, n <= RPC_TRACE_MAX, idx, "trace longer than 64 bytes");
    o->trace.p = t;
    o->trace.n = n;
  }
  static const char *const subs[] = {"full", "done", "none", NULL};
  lua_getfield(L, idx, "sub");
  o->sub = luaL_checkoption(L, -1, "full", subs);
  if (lua_getfield(L, idx, "credit") != LUA_TNIL) {
    lua_Integer n = luaL_checkinteger(L, -1);
    luaL_argcheck(L, n >= 0, idx, "credit must be an integer >= 0");
    o->credit = (uint64_t)n;
    o->has_credit = 1;
  }
  lua_pop(L, 4);
}

int hilt__conn_check_size(conn_t *c, char *err, size_t n)
{
  if (c->out.len <= c->s.limits.max_message) {
    return 0;
  }
  snprintf(err, n, "the message would be %zu bytes, over the limit of %zu",
           c->out.len, c->s.limits.max_message);
  return -1;
}

void hilt__conn_send(conn_t *c)
{
  rpc_session_send(&c->s, c->out.data, c->out.len);
  mpk_buf_reset(&c->out);
  // Kept big enough for a stream's DATA chunks (256 KiB), which would
  // otherwise regrow it each time.
  mpk_buf_trim(&c->out, 1024 * 1024);
}

// conn:call(method, opts, ...) -> result; raises a hilt.Error
static int l_conn_call(lua_State *L)
{
  conn_t *c = hilt__conn_check_open(L, 1);
  size_t mlen;
  const char *method = luaL_checklstring(L, 2, &mlen);
  rpc_opts_t o;
  hilt__conn_opts(L, 3, &o);
  int plain = !o.has_timeout && o.trace.n == 0 && o.sub == RPC_SUB_FULL;
  if (o.sub != RPC_SUB_NONE) {
    hilt_task_check_can_wait(L, "rpc call");
  }
  rpc_op_t *op = o.sub == RPC_SUB_NONE ? NULL : rpc_session_begin(&c->s, &o);
  uint32_t id = op != NULL ? op->id : 0;
  if (plain) {
    rpc_msg_put_request(&c->out, id, method, mlen);
  } else {
    rpc_msg_put_call(&c->out, id, method, mlen);
  }
  char err[200];
  int rc = hilt__conn_pack_args(L, c, 4, err, sizeof err);
  if (rc == 0 && !plain) {
    rpc_msg_put_opts(&c->out, &o);
  }
  if (rc == 0) {
    rc = hilt__conn_check_size(c, err, sizeof err);
  }
  if (rc != 0) {
    mpk_buf_reset(&c->out);
    if (op != NULL) {
      rpc_session_forget(&c->s, op);
    }
    hilt_error_push(L, "invalid_argument", "cannot send %s: %s", method, err);
    return lua_error(L);
  }
  hilt__conn_send(c);
  if (op == NULL) {
    return 0;
  }
  hilt__conn_update_ref(c);
  call_t *call = calloc(1, sizeof *call);
  call->c = c;
  call->op = op;
  call->task = hilt_task_current();
  op->data = call;
  if (o.has_timeout) {
    call->timer = malloc(sizeof *call->timer);
    uv_timer_init(hilt_sched_loop(), call->timer);
    call->timer->data = call;
    uv_timer_start(call->timer, call_timeout_cb,
                   (uint64_t)(o.timeout * 1000 + 0.5), 0);
  }
  lua_settop(L, 2);
  return hilt_task_waitk(L, "rpc call", call_cancel_cb, call, 0, call_k);
}

// conn:notify(method, ...)
static int l_conn_notify(lua_State *L)
{
  conn_t *c = hilt__conn_check_open(L, 1);
  size_t mlen;
  const char *method = luaL_checklstring(L, 2, &mlen);
  char err[200];
  rpc_msg_put_notify(&c->out, method, mlen);
  if (hilt__conn_pack_args(L, c, 3, err, sizeof err) != 0 ||
      hilt__conn_check_size(c, err, sizeof err) != 0) {
    mpk_buf_reset(&c->out);
    hilt_error_push(L, "invalid_argument", "cannot send %s: %s", method, err);
    return lua_error(L);
  }
  hilt__conn_send(c);
  return 0;
}

// --- incoming calls ---------------------------------------------------------------

// A callee op's handler task is anchored by a registry reference in
// op->data, so a cancel can reach it for as long as the op lives.
static int op_task_ref(const rpc_op_t *op)
{
  return (int)(intptr_t)op->data;
}

static void op_release(conn_t *c, rpc_op_t *op)
{
  luaL_unref(c->L, LUA_REGISTRYINDEX, op_task_ref(op));
  op->data = (void *)(intptr_t)LUA_NOREF;
}

// Interrupts the handler of op with an Error of `code`. A handler that
// has not started yet would end without answering, so (when `answer` is
// set) it is answered here and cancelled instead.
static void op_interrupt(conn_t *c, rpc_op_t *op, const char *code,
                         const char *message, int answer)
{
  lua_State *L = c->L;
  if (lua_rawgeti(L, LUA_REGISTRYINDEX, op_task_ref(op)) != LUA_TUSERDATA) {
    lua_pop(L, 1);
    return;
  }
  hilt_task_t *task = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (task->status == HILT_TASK_READY && !task->started) {
    hilt__deadline_stop(op);
    if (answer) {
      rpc_msg_put_error(&c->out, op->id, code, message);
      hilt__conn_send(c);
    }
    if (!c->ended) {  // while ending, the session frees its ops itself
      op_release(c, op);
      rpc_session_end(&c->s, op);
    }
    hilt_task_cancel(L, task);
    return;
  }
  hilt_error_push(L, code, "%s", message);
  hilt_task_interrupt(L, task);
}

void hilt__conn_interrupt(conn_t *c, rpc_op_t *op, const char *code,
                          const char *message)
{
  op_interrupt(c, op, code, message, 1);
  hilt__conn_update_ref(c);
}

static void push_self(conn_t *c)
{
  lua_rawgeti(c->L, LUA_REGISTRYINDEX, c->self_ref);
}

static void on_request(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m)
{
  conn_t *c = s->data;
  lua_State *L = c->L;
  push_self(c);
  if (lua_getiuservalue(L, -1, CONN_UV_DISPATCH) != LUA_TFUNCTION) {
    lua_pop(L, 2);
    if (op != NULL) {
      rpc_msg_put_error(&c->out, op->id, "not_found",
                        "this end of the connection serves no methods");
      hilt__conn_send(c);
      rpc_session_end(s, op);
    }
    return;
  }
  lua_insert(L, -2);  // dispatch, conn
  if (op != NULL) {
    lua_pushinteger(L, op->id);
  } else {
    lua_pushnil(L);
  }
  lua_pushlstring(L, m->method.p, m->method.n);
  lua_pushlstring(L, m->params.p, m->params.n);
  if (m->opts.trace.n > 0) {
    lua_pushlstring(L, m->opts.trace.p, m->opts.trace.n);
  } else {
    lua_pushnil(L);
  }
  lua_pushboolean(L, m->opts.stream);
  hilt_task_spawn_at(L, 6, "rpc handler");
  if (op == NULL && m->opts.has_timeout) {
    hilt__deadline_start_task(c, m->opts.timeout);
  } else if (op == NULL) {
    lua_pop(L, 1);
  } else {
    op->data = (void *)(intptr_t)luaL_ref(L, LUA_REGISTRYINDEX);
    if (m->opts.has_timeout) {
      hilt__deadline_start(c, op, m->opts.timeout);
    }
  }
}

static void on_response(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m)
{
  if (op->stream != NULL) {
    hilt__stream_response(s->data, op, m);
    return;
  }
  call_t *call = op->data;
  if (call == NULL) {
    return;
  }
  lua_State *co = call->task->co;
  lua_pushboolean(co, !m->failed);
  const rpc_span_t *v = m->failed ? &m->error : &m->result;
  lua_pushlstring(co, v->p, v->n);
  hilt_task_wake(call->task, 2);
  call_free(call);
}

static void on_stream(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m)
{
  conn_t *c = s->data;
  if (op->stream != NULL) {
    hilt__stream_deliver(c, op, m);
  }
  if (op->side == RPC_CALLEE && m->kind == RPC_CANCEL) {
    op_interrupt(c, op, "cancelled", "cancelled by the caller", 1);
  } else if (op->side == RPC_CALLEE && m->kind == RPC_EXPIRE) {
    op_interrupt(c, op, "expired", "the caller's deadline passed", 1);
  } else if (op->side == RPC_CALLEE && m->kind == RPC_DEADLINE) {
    hilt__deadline_move(c, op, m->seconds);
  }
}

static void on_fail(rpc_session_t *s, rpc_op_t *op, const char *why)
{
  conn_t *c = s->data;
  hilt__stream_end(c, op, "protocol", why);
  if (op->side == RPC_CALLEE) {
    op_interrupt(c, op, "protocol", why, 1);
  } else if (op->data != NULL) {
    call_fail(op->data, "protocol", "%s", why);
  }
}

// Writes made by tasks wait in the cork until the scheduler's pass ends,
// so what a pass produces (a stream's items, the answers of many calls)
// leaves in one system call; the connection stays anchored by self_ref
// until its stream has closed, which happens after the pass.
#define CORK_MAX (256u << 10)

static void flush_cork(conn_t *c)
{
  if (c->stream != NULL && c->cork.len > 0) {
    net_stream_write(c->stream, c->cork.data, c->cork.len);
  }
  mpk_buf_reset(&c->cork);
  mpk_buf_trim(&c->cork, CORK_MAX);
}

static void flush_deferred(void *data)
{
  conn_t *c = data;
  c->cork_queued = 0;
  flush_cork(c);
}

static int write_cb(rpc_session_t *s, const char *p, size_t n)
{
  conn_t *c = s->data;
  if (c->stream == NULL) {
    return UV_EPIPE;
  }
  if (hilt_task_current() == NULL || n >= CORK_MAX / 2) {
    // From a libuv callback, or too big to gain from waiting: now, after
    // what the cork holds.
    flush_cork(c);
    return net_stream_write(c->stream, p, n);
  }
  mpk_buf_write(&c->cork, p, n);
  if (c->cork.failed) {
    mpk_buf_reset(&c->cork);
    return UV_ENOMEM;
  }
  if (c->cork.len >= CORK_MAX) {
    flush_cork(c);
  } else if (!c->cork_queued) {
    c->cork_queued = 1;
    hilt_sched_defer(flush_deferred, c);
  }
  return 0;
}

static const rpc_session_cbs_t session_cb = {on_request, on_response,
                                             on_stream, on_fail, write_cb};

// conn:respond(id, ok, value) -> sent: answers an incoming call. value is
// the result, or an error table {code=, message=, traceback=, data=}.
static int l_conn_respond(lua_State *L)
{
  conn_t *c = check_conn(L, 1);
  lua_Integer id = luaL_checkinteger(L, 2);
  int ok = lua_toboolean(L, 3);
  lua_settop(L, 4);
  rpc_op_t *op = c->ended ? NULL : rpc_optab_get(&c->s.callee, (uint32_t)id);
  if (op == NULL || id < 0 || id > UINT32_MAX) {
    lua_pushboolean(L, 0);
    return 1;
  }
  hilt__stream_end(c, op, NULL, NULL);
  hilt__deadline_stop(op);
  if (op->done) {  // it broke the protocol: that is its outcome
    rpc_msg_put_error(&c->out, op->id, "protocol", op->why);
    hilt__conn_send(c);
    op_release(c, op);
    rpc_session_end(&c->s, op);
    hilt__conn_update_ref(c);
    lua_pushboolean(L, 0);
    return 1;
  }
  char err[200];
  msgpack_packer pk;
  msgpack_packer_init(&pk, &c->out, mpk_buf_write);
  rpc_msg_put_response(&c->out, op->id);
  if (ok) {
    msgpack_pack_nil(&pk);
    if (op->sub == RPC_SUB_DONE) {
      msgpack_pack_nil(&pk);
    } else if (hilt__msgpack_pack_into(L, 4, &c->out, err, sizeof err) != 0) {
      mpk_buf_reset(&c->out);
      char msg[240];
      snprintf(msg, sizeof msg, "cannot send the result: %s", err);
      rpc_msg_put_error(&c->out, op->id, "failed", msg);
    }
  } else if (hilt__msgpack_pack_into(L, 4, &c->out, err, sizeof err) != 0) {
    mpk_buf_reset(&c->out);
    rpc_msg_put_error(&c->out, op->id, "failed", err);
  } else {
    msgpack_pack_nil(&pk);
  }
  if (hilt__conn_check_size(c, err, sizeof err) != 0) {
    mpk_buf_reset(&c->out);
    char msg[240];
    snprintf(msg, sizeof msg, "result too large: %s", err);
    rpc_msg_put_error(&c->out, op->id, "failed", msg);
  }
  hilt__conn_send(c);
  op_release(c, op);
  rpc_session_end(&c->s, op);
  hilt__conn_update_ref(c);
  lua_pushboolean(L, 1);
  return 1;
}

// --- the connection's life ----------------------------------------------------------

static void fail_call(void *opv, void *data)
{
  rpc_op_t *op = opv;
  conn_t *c = data;
  hilt__stream_end(c, op, "unavailable", c->why);
  if (op->data != NULL) {
    call_t *call = op->data;
    call_fail(call, "unavailable", "connection to %s lost", c->peer);
  }
}

static void cancel_handler(void *opv, void *data)
{
  rpc_op_t *op = opv;
  conn_t *c = data;
  hilt__stream_end(c, op, "unavailable", "the caller went away");
  hilt__deadline_stop(op);
  op_interrupt(c, op, "unavailable", "the caller went away", 0);
  op_release(c, op);
}

void hilt__conn_end(conn_t *c, const char *why)
{
  if (c->ended) {
    return;
  }
  c->ended = 1;
  snprintf(c->why, sizeof c->why, "%s", why);
  rpc_session_each(&c->s, RPC_CALLER, fail_call, c);
  rpc_session_each(&c->s, RPC_CALLEE, cancel_handler, c);
  rpc_session_close(&c->s);
  lua_State *L = c->L;
  push_self(c);
  if (lua_getiuservalue(L, -1, CONN_UV_ON_RESET) == LUA_TFUNCTION) {
    lua_pushstring(L, c->why);
    hilt_task_spawn_at(L, 1, "rpc on_reset");
  }
  lua_pop(L, 2);
  flush_cork(c);  // what was said before the end still goes
  if (c->connecting != NULL) {
    lua_pushnil(c->connecting->co);
    lua_pushstring(c->connecting->co, c->why);
    hilt_task_wake(c->connecting, 2);
    c->connecting = NULL;
  }
  net_stream_close(c->stream);
  c->stream = NULL;
}

static void stream_read(net_stream_t *s, const char *p, size_t n, void *data)
{
  conn_t *c = data;
  if (!c->ended && rpc_session_feed(&c->s, p, n) != 0) {
    HILT_WARN("rpc", "closing the connection with %s: %s", c->peer,
              c->s.why);
    hilt__conn_end(c, c->s.why);
    return;
  }
  hilt__conn_update_ref(c);
}

static void stream_end(net_stream_t *s, int status, void *data)
{
  conn_t *c = data;
  hilt__conn_end(c, status == 0 ? "closed by the peer" : uv_strerror(status));
}

static void stream_close(net_stream_t *s, void *data)
{
  conn_t *c = data;
  luaL_unref(c->L, LUA_REGISTRYINDEX, c->self_ref);
  c->self_ref = LUA_NOREF;
}

static void stream_connect(net_stream_t *s, int status, const char *err,
                           void *data)
{
  conn_t *c = data;
  hilt_task_t *t = c->connecting;
  c->connecting = NULL;
  if (status != 0) {
    hilt__conn_end(c, err);
    if (t != NULL) {
      lua_pushnil(t->co);
      lua_pushstring(t->co, err);
      hilt_task_wake(t, 2);
    }
    return;
  }
  if (t != NULL) {
    lua_pushboolean(t->co, 1);
    hilt_task_wake(t, 1);
  }
}

const net_stream_cb_t hilt__conn_stream_cb = {
    stream_connect, stream_read, stream_end, NULL, stream_close};

conn_t *hilt__conn_new(lua_State *L, const char *token, const char *peer)
{
  conn_t *c = lua_newuserdatauv(L, sizeof *c, CONN_UV_COUNT);
  memset(c, 0, sizeof *c);
  c->L = L;
  c->self_ref = LUA_NOREF;
  c->ended = 1;  // until attached
  snprintf(c->why, sizeof c->why, "not connected");
  snprintf(c->peer, sizeof c->peer, "%s", peer);
  mpk_buf_init(&c->out);
  mpk_buf_init(&c->cork);
  if (token != NULL) {
    c->token = strdup(token);
  }
  rpc_session_init(&c->s, NULL, &session_cb, c, c->token, "hilt " HILT_VERSION);
  luaL_setmetatable(L, RPC_CONN_MT);
  return c;
}

void hilt__conn_update_ref(conn_t *c)
{
  int keep = c->keep_alive || rpc_session_pending(&c->s, RPC_CALLER) > 0 ||
             rpc_session_pending(&c->s, RPC_CALLEE) > 0;
  if (keep != c->kept && c->stream != NULL) {
    net_stream_ref(c->stream, keep);
    c->kept = keep;
  }
}

void hilt__conn_attach(conn_t *c, net_stream_t *stream)
{
  c->stream = stream;
  c->ended = 0;
  c->why[0] = '\0';
  c->kept = 1;  // as libuv handles start
  lua_pushvalue(c->L, -1);
  c->self_ref = luaL_ref(c->L, LUA_REGISTRYINDEX);
  net_stream_set_cb(stream, &hilt__conn_stream_cb, c);
  net_stream_read_start(stream);
  hilt__conn_update_ref(c);
}

static int l_conn_gc(lua_State *L)
{
  conn_t *c = check_conn(L, 1);
  if (c->stream != NULL) {
    // Still open, so collected by lua_close at exit: the stream closes
    // without calling back into this memory.
    static const net_stream_cb_t none = {0};
    net_stream_set_cb(c->stream, &none, NULL);
    net_stream_close(c->stream);
    c->stream = NULL;
  }
  rpc_session_close(&c->s);
  mpk_buf_free(&c->out);
  mpk_buf_free(&c->cork);
  free(c->token);
  c->token = NULL;
  return 0;
}

// conn:close(): pending calls end unavailable, handlers are cancelled.
static int l_conn_close(lua_State *L)
{
  hilt__conn_end(check_conn(L, 1), "closed by this end");
  return 0;
}

static int set_uv(lua_State *L, int slot)
{
  check_conn(L, 1);
  if (!lua_isnil(L, 2)) {
    luaL_checktype(L, 2, LUA_TFUNCTION);
  }
  lua_settop(L, 2);
  lua_setiuservalue(L, 1, slot);
  return 0;
}

// conn:serve(dispatch): dispatch(conn, id|nil, method, params, trace,
// streaming) runs in a new task per incoming call.
static int l_conn_serve(lua_State *L)
{
  return set_uv(L, CONN_UV_DISPATCH);
}

// conn:on_reset(fn): fn(why) runs in a task when the connection ends.
static int l_conn_on_reset(lua_State *L)
{
  return set_uv(L, CONN_UV_ON_RESET);
}

// conn:keep_alive(on): whether the connection keeps the process running
// while nothing is in flight on it (a server on stdio, a client waiting
// for its peer's calls).
static int l_conn_keep_alive(lua_State *L)
{
  conn_t *c = check_conn(L, 1);
  c->keep_alive = lua_toboolean(L, 2);
  hilt__conn_update_ref(c);
  return 0;
}

// conn:status() -> "open" | "closed", why, peer
static int l_conn_status(lua_State *L)
{
  conn_t *c = check_conn(L, 1);
  lua_pushstring(L, c->ended ? "closed" : "open");
  lua_pushstring(L, c->why);
  lua_pushstring(L, c->peer);
  return 3;
}

// conn:pending() -> calls waiting here, calls being handled here
static int l_conn_pending(lua_State *L)
{
  conn_t *c = check_conn(L, 1);
  lua_pushinteger(L, (lua_Integer)rpc_session_pending(&c->s, RPC_CALLER));
  lua_pushinteger(L, (lua_Integer)rpc_session_pending(&c->s, RPC_CALLEE));
  return 2;
}

// conn:args(params) -> ...: the values of a params array (msgpack bytes
// the session checked), for the handler's arguments without a table.
static int l_conn_args(lua_State *L)
{
  size_t n, pos = 0;
  const char *p = luaL_checklstring(L, 2, &n);
  mpk_item_t it;
  if (mpk_item_read(p, n, &pos, &it) != MPK_OK || it.kind != MPK_ARRAY) {
    return luaL_error(L, "params are not a msgpack array");
  }
  luaL_checkstack(L, (int)(it.n < 200 ? it.n : 200), "too many arguments");
  mp_opts_t o = {.max_depth = MPK_DEPTH_MAX};
  for (uint32_t i = 0; i < it.n; i++) {
    if (i % 200 == 199) {
      luaL_checkstack(L, 200, "too many arguments");
    }
    mp_decoder_t d = {.L = L};
    int rc = hilt__msgpack_decode(&d, p, n, &pos, &o);
    if (rc != MP_DECODE_OK) {
      char msg[160];
      hilt__msgpack_decode_message(&d, rc, msg, sizeof msg);
      hilt_error_push(L, "invalid_argument", "argument %d: %s", (int)i + 1,
                      msg);
      return lua_error(L);
    }
  }
  return (int)it.n;
}

static int l_conn_tostring(lua_State *L)
{
  conn_t *c = check_conn(L, 1);
  lua_pushfstring(L, "hilt.rpc.Conn(%s, %s)", c->peer,
                  c->ended ? "closed" : "open");
  return 1;
}

void hilt__conn_open(lua_State *L, int uv)
{
  static const luaL_Reg methods[] = {
      {"call", l_conn_call},         {"notify", l_conn_notify},
      {"respond", l_conn_respond},   {"serve", l_conn_serve},
      {"on_reset", l_conn_on_reset}, {"close", l_conn_close},
      {"status", l_conn_status},     {"pending", l_conn_pending},
      {"args", l_conn_args},         {"open", hilt__stream_call},
      {"stream", hilt__stream_of},   {"keep_alive", l_conn_keep_alive},
      {NULL, NULL}};
  luaL_newmetatable(L, RPC_CONN_MT);
  lua_newtable(L);
  hilt__msgpack_setfuncs(L, uv, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_conn_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_conn_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  hilt__stream_open(L, uv);
}
