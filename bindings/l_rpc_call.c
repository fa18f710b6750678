// Calls this end of a connection makes (conn:call, conn:notify): a call
// packs its request here, then its task waits; the response's bytes are
// handed to the task as a string and decoded in the call's continuation,
// which runs inside this module's closure (decoding needs msgpack's
// upvalues, which a libuv callback does not have).
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "l_msgpack.h"
#include "l_rpc.h"
#include "log.h"

// A task waiting for the response to one of our operations.
typedef struct {
  conn_t *c;
  rpc_op_t *op;
  hilt_task_t *task;
  uv_timer_t *timer;  // the call's own timeout, or NULL
} call_t;

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

void hilt__rpc_push_error(lua_State *L, int idx, const char *peer)
{
  idx = lua_absindex(L, idx);
  push_error_object(L, idx);
  lua_pushstring(L, peer);
  lua_setfield(L, -2, "remote");
}

// Resumes conn:call with (true, result bytes) or (false, error bytes |
// hilt.Error).
void hilt__rpc_decode_top(lua_State *L)
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

static int call_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  int ok = lua_toboolean(L, -2);
  if (lua_type(L, -1) == LUA_TSTRING) {
    hilt__rpc_decode_top(L);
  }
  if (ok) {
    return 1;
  }
  if (!hilt_error_is(L, -1, NULL)) {
    hilt__rpc_push_error(L, -1, hilt__conn_check(L, 1)->peer);
  }
  return lua_error(L);
}

static int pack_args(lua_State *L, mpk_buf_t *out, int first, char *err,
                     size_t n)
{
  int top = lua_gettop(L);
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, mpk_buf_write);
  msgpack_pack_array(&pk, (size_t)(top >= first ? top - first + 1 : 0));
  for (int i = first; i <= top; i++) {
    if (hilt__msgpack_pack_into(L, i, out, err, n) != 0) {
      return -1;
    }
  }
  return 0;
}

int hilt__conn_pack_args(lua_State *L, conn_t *c, int first, char *err,
                         size_t n)
{
  return pack_args(L, &c->out, first, err, n);
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

rpc_op_t *hilt__conn_send_call(lua_State *L, conn_t *c, const rpc_opts_t *o)
{
  size_t mlen;
  const char *method = lua_tolstring(L, 2, &mlen);
  // Without options the call goes as a plain msgpack-RPC request.
  int plain = !o->has_timeout && o->trace.n == 0 && o->sub == RPC_SUB_FULL &&
              !o->has_credit && !o->stream;
  rpc_op_t *op = NULL;
  if (o->sub != RPC_SUB_NONE && (op = rpc_session_begin(&c->s, o)) == NULL) {
    luaL_error(L, "out of memory");
  }
  uint32_t id = op != NULL ? op->id : 0;
  if (plain) {
    rpc_msg_put_request(&c->out, id, method, mlen);
  } else {
    rpc_msg_put_call(&c->out, id, method, mlen);
  }
  char err[200];
  int rc = hilt__conn_pack_args(L, c, 4, err, sizeof err);
  if (rc == 0 && !plain) {
    rpc_msg_put_opts(&c->out, o);
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
    lua_error(L);
  }
  hilt__conn_send(c);
  hilt__conn_update_ref(c);
  return op;
}

// conn:call(method, opts, ...) -> result; raises a hilt.Error
int hilt__conn_call(lua_State *L)
{
  conn_t *c = hilt__conn_check_open(L, 1);
  luaL_checkstring(L, 2);
  rpc_opts_t o;
  hilt__conn_opts(L, 3, &o);
  if (o.sub != RPC_SUB_NONE) {
    hilt_task_check_can_wait(L, "rpc call");
  }
  rpc_op_t *op = hilt__conn_send_call(L, c, &o);
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
int hilt__conn_notify(lua_State *L)
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

// notify_all(conns, method, ...) -> sent: one notification, packed once,
// to each open connection in the array conns; closed ones are skipped.
// A change that many clients observe costs one encoding, not one each.
int hilt__conn_notify_all(lua_State *L)
{
  static mpk_buf_t out;  // one loop thread; kept between calls
  luaL_checktype(L, 1, LUA_TTABLE);
  size_t mlen;
  const char *method = luaL_checklstring(L, 2, &mlen);
  char err[200];
  mpk_buf_reset(&out);
  rpc_msg_put_notify(&out, method, mlen);
  if (pack_args(L, &out, 3, err, sizeof err) != 0 || out.failed) {
    const char *why = out.failed ? "out of memory" : err;
    hilt_error_push(L, "invalid_argument", "cannot send %s: %s", method, why);
    mpk_buf_reset(&out);
    return lua_error(L);
  }
  lua_Integer sent = 0, n = luaL_len(L, 1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    conn_t *c = luaL_testudata(L, -1, RPC_CONN_MT);
    lua_pop(L, 1);
    if (c == NULL || c->ended) {
      continue;
    }
    if (out.len > c->s.limits.max_message) {
      HILT_WARN("rpc", "%s not sent to %s: %zu bytes, over its limit", method,
                c->peer, out.len);
      continue;
    }
    rpc_session_send(&c->s, out.data, out.len);
    sent++;
  }
  mpk_buf_trim(&out, 64 * 1024);
  lua_pushinteger(L, sent);
  return 1;
}

// The response to a unary call: wakes its task, unless its outcome is in.
void hilt__call_response(conn_t *c, rpc_op_t *op, const rpc_msg_t *m)
{
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

void hilt__call_end(rpc_op_t *op, const char *code, const char *message)
{
  if (op->data != NULL) {
    call_fail(op->data, code, "%s", message);
  }
}
