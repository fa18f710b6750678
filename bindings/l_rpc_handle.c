// Calls this end of a connection answers: each incoming call runs its
// handler in a task of its own (the dispatch function lua/hilt/rpc.lua
// serves), which answers with conn:respond. The task is reachable from
// the op, so a cancel, an expiry or the end of the connection can
// interrupt it.
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "l_msgpack.h"
#include "l_rpc.h"
#include "mpk_item.h"

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

// Notifications in a row are queued and run by one task (a task each
// made a notification cost 4 us, half of it the spawn). The queue goes to
// its task at the end of the read, or before any other message, so tasks
// still start in the order their messages came. The connection's notify function hands the rest of the
// queue to a new task when a handler waits, so none waits behind another.
static int queue_notification(conn_t *c, const rpc_msg_t *m)
{
  lua_State *L = c->L;
  if (c->notify_ref == LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->self_ref);
    int batched = lua_getiuservalue(L, -1, CONN_UV_NOTIFY) == LUA_TFUNCTION;
    lua_pop(L, 2);
    if (!batched) {
      return 0;
    }
    lua_createtable(L, 24, 0);
    c->notify_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    c->notify_n = 0;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->notify_ref);
  lua_pushlstring(L, m->method.p, m->method.n);
  lua_rawseti(L, -2, ++c->notify_n);
  lua_pushlstring(L, m->params.p, m->params.n);
  lua_rawseti(L, -2, ++c->notify_n);
  if (m->opts.trace.n > 0) {
    lua_pushlstring(L, m->opts.trace.p, m->opts.trace.n);
  } else {
    lua_pushboolean(L, 0);
  }
  lua_rawseti(L, -2, ++c->notify_n);
  lua_pop(L, 1);
  return 1;
}

void hilt__handle_notifications(conn_t *c)
{
  if (c->notify_ref == LUA_NOREF) {
    return;
  }
  lua_State *L = c->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->self_ref);
  if (lua_getiuservalue(L, -1, CONN_UV_NOTIFY) == LUA_TFUNCTION) {
    lua_insert(L, -2);  // notify, conn
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->notify_ref);
    lua_pushinteger(L, c->notify_n);
    hilt_task_spawn_at(L, 3, "rpc notifications");
    lua_pop(L, 1);
  } else {
    lua_pop(L, 2);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, c->notify_ref);
  c->notify_ref = LUA_NOREF;
  c->notify_n = 0;
}

void hilt__handle_request(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m)
{
  conn_t *c = s->data;
  lua_State *L = c->L;
  if (op == NULL && !m->opts.has_timeout && queue_notification(c, m)) {
    return;
  }
  hilt__handle_notifications(c);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->self_ref);
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
  int conn_idx = lua_gettop(L);
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
  if (op != NULL && m->opts.stream) {
    hilt__stream_push(L, c, conn_idx, op);
  } else {
    lua_pushnil(L);
  }
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

// A signal from the caller for one of the calls this end handles.
void hilt__handle_signal(conn_t *c, rpc_op_t *op, const rpc_msg_t *m)
{
  if (m->kind == RPC_CANCEL) {
    op_interrupt(c, op, "cancelled", "cancelled by the caller", 1);
  } else if (m->kind == RPC_EXPIRE) {
    op_interrupt(c, op, "expired", "the caller's deadline passed", 1);
  } else if (m->kind == RPC_DEADLINE) {
    hilt__deadline_move(c, op, m->seconds);
  }
}

// The connection ended under a call this end handles.
void hilt__handle_drop(conn_t *c, rpc_op_t *op)
{
  hilt__stream_end(c, op, "unavailable", "the caller went away");
  hilt__deadline_stop(op);
  op_interrupt(c, op, "unavailable", "the caller went away", 0);
  op_release(c, op);
}

// conn:respond(id, ok, value) -> sent: answers an incoming call. value is
// the result, or an error table {code=, message=, traceback=, data=}.
int hilt__conn_respond(lua_State *L)
{
  conn_t *c = hilt__conn_check(L, 1);
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

// conn:args(params) -> ...: the values of a params array (msgpack bytes
// the session checked), for the handler's arguments without a table.
int hilt__conn_args(lua_State *L)
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
