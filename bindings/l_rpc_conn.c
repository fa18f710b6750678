// Connections of hilt.rpc.core: the session's callbacks, what leaves
// (the cork), and the life of a connection. Calls this end makes are in
// l_rpc_call.c, calls it answers in l_rpc_handle.c, streams in
// l_rpc_stream.c.
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "task.h"
#include "l_msgpack.h"
#include "l_rpc.h"
#include "log.h"

conn_t *hilt__conn_check(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, RPC_CONN_MT);
}

conn_t *hilt__conn_check_open(lua_State *L, int idx)
{
  conn_t *c = hilt__conn_check(L, idx);
  if (c->ended) {
    hilt_error_push(L, "unavailable", "connection to %s is closed (%s)",
                    c->peer, c->why);
    lua_error(L);
  }
  return c;
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

// --- what leaves ------------------------------------------------------------------------

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

// --- the session's callbacks -------------------------------------------------------

// Every message but a queued notification first lets the notifications
// before it start, so tasks start in the order their messages came.
static void on_response(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m)
{
  hilt__handle_notifications(s->data);
  if (op->stream != NULL) {
    hilt__stream_response(s->data, op, m);
  } else {
    hilt__call_response(s->data, op, m);
  }
}

static void on_stream(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m)
{
  conn_t *c = s->data;
  hilt__handle_notifications(c);
  if (op->stream != NULL) {
    hilt__stream_deliver(c, op, m);
  }
  if (op->side == RPC_CALLEE) {
    hilt__handle_signal(c, op, m);
  }
}

static void on_fail(rpc_session_t *s, rpc_op_t *op, const char *why)
{
  conn_t *c = s->data;
  hilt__handle_notifications(c);
  hilt__stream_end(c, op, "protocol", why);
  if (op->side == RPC_CALLEE) {
    hilt__conn_interrupt(c, op, "protocol", why);
  } else {
    hilt__call_end(op, "protocol", why);
  }
}

static const rpc_session_cbs_t session_cb = {hilt__handle_request, on_response,
                                             on_stream, on_fail, write_cb};

// --- the connection's life ----------------------------------------------------------

static void fail_call(void *opv, void *data)
{
  rpc_op_t *op = opv;
  conn_t *c = data;
  hilt__stream_end(c, op, "unavailable", c->why);
  char msg[NET_ADDR_STRLEN + 32];
  snprintf(msg, sizeof msg, "connection to %s lost", c->peer);
  hilt__call_end(op, "unavailable", msg);
}

static void cancel_handler(void *opv, void *data)
{
  hilt__handle_drop(data, opv);
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
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->self_ref);
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
  int rc = c->ended ? 0 : rpc_session_feed(&c->s, p, n);
  hilt__handle_notifications(c);  // even those before a protocol error
  if (rc != 0) {
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
  c->L = hilt_sched_state();  // not L: a task's thread is reused
  c->self_ref = LUA_NOREF;
  c->notify_ref = LUA_NOREF;
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
  int keep = c->keep_alive > 0 ||
             (c->keep_alive == 0 &&
              (rpc_session_pending(&c->s, RPC_CALLER) > 0 ||
               rpc_session_pending(&c->s, RPC_CALLEE) > 0));
  if (keep != c->kept && c->stream != NULL) {
    net_stream_ref(c->stream, keep);
    c->kept = keep;
  }
}

void hilt__conn_attach(lua_State *L, conn_t *c, net_stream_t *stream)
{
  c->stream = stream;
  c->ended = 0;
  c->why[0] = '\0';
  c->kept = 1;  // as libuv handles start
  lua_pushvalue(L, -1);
  c->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  net_stream_set_cb(stream, &hilt__conn_stream_cb, c);
  net_stream_read_start(stream);
  hilt__conn_update_ref(c);
}

static int l_conn_gc(lua_State *L)
{
  conn_t *c = hilt__conn_check(L, 1);
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
  hilt__conn_end(hilt__conn_check(L, 1), "closed by this end");
  return 0;
}

static int set_uv(lua_State *L, int slot)
{
  hilt__conn_check(L, 1);
  if (!lua_isnil(L, 2)) {
    luaL_checktype(L, 2, LUA_TFUNCTION);
  }
  lua_settop(L, 2);
  lua_setiuservalue(L, 1, slot);
  return 0;
}

// conn:serve(dispatch[, notify]): dispatch(conn, id|nil, method, params,
// trace, streaming) runs in a new task per incoming call. With notify,
// the notifications (calls without an id or a timeout) of one read run
// in one task instead, notify(conn, q, n): q holds n/3 triples of method,
// params and trace (false if none), in the order they came.
static int l_conn_serve(lua_State *L)
{
  hilt__conn_check(L, 1);
  lua_settop(L, 3);
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TFUNCTION);
  }
  lua_setiuservalue(L, 1, CONN_UV_NOTIFY);
  return set_uv(L, CONN_UV_DISPATCH);
}

// conn:on_reset(fn): fn(why) runs in a task when the connection ends.
static int l_conn_on_reset(lua_State *L)
{
  return set_uv(L, CONN_UV_ON_RESET);
}

// conn:keep_alive(on): whether the connection keeps the process running
// while nothing is in flight on it (a server on stdio, a client waiting
// for its peer's calls). "never": not even while calls are in flight (a
// stream of log records shown for as long as the script runs anyway).
static int l_conn_keep_alive(lua_State *L)
{
  conn_t *c = hilt__conn_check(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *mode = lua_tostring(L, 2);
    luaL_argcheck(L, strcmp(mode, "never") == 0, 2,
                  "true, false or \"never\" expected");
    c->keep_alive = -1;
  } else {
    c->keep_alive = lua_toboolean(L, 2);
  }
  hilt__conn_update_ref(c);
  return 0;
}

// conn:status() -> "open" | "closed", why, peer
static int l_conn_status(lua_State *L)
{
  conn_t *c = hilt__conn_check(L, 1);
  lua_pushstring(L, c->ended ? "closed" : "open");
  lua_pushstring(L, c->why);
  lua_pushstring(L, c->peer);
  return 3;
}

// conn:pending() -> calls waiting here, calls being handled here
static int l_conn_pending(lua_State *L)
{
  conn_t *c = hilt__conn_check(L, 1);
  lua_pushinteger(L, (lua_Integer)rpc_session_pending(&c->s, RPC_CALLER));
  lua_pushinteger(L, (lua_Integer)rpc_session_pending(&c->s, RPC_CALLEE));
  return 2;
}

static int l_conn_tostring(lua_State *L)
{
  conn_t *c = hilt__conn_check(L, 1);
  lua_pushfstring(L, "hilt.rpc.Conn(%s, %s)", c->peer,
                  c->ended ? "closed" : "open");
  return 1;
}

void hilt__conn_open(lua_State *L, int uv)
{
  static const luaL_Reg methods[] = {
      {"call", hilt__conn_call},     {"notify", hilt__conn_notify},
      {"respond", hilt__conn_respond}, {"serve", l_conn_serve},
      {"on_reset", l_conn_on_reset}, {"close", l_conn_close},
      {"status", l_conn_status},     {"pending", l_conn_pending},
      {"args", hilt__conn_args},     {"open", hilt__stream_call},
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
