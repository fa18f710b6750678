// Sending on a stream: items (send) and bytes (write) within the peer's
// credit, END (close_write), the caller's cancel (close) and DEADLINE
// (set_timeout).
#include <lauxlib.h>

#include "errors.h"
#include "l_msgpack.h"
#include "l_rpc_stream.h"

// Raises unless st can still send `kind`.
static rpc_op_t *check_sendable(lua_State *L, stream_t *st, int kind)
{
  if (st->done && !st->ok) {
    hilt__stream_raise(L, st);
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

// The type of the stream messages this end sends.
static int stream_type(const stream_t *st)
{
  return st->side == RPC_CALLER ? RPC_TO_CALLEE : RPC_TO_CALLER;
}

int hilt__stream_send_step(lua_State *L, stream_t *st)
{
  conn_t *c = st->c;
  rpc_op_t *op = check_sendable(L, st, RPC_ITEM);
  if (rpc_session_credit(&c->s, op, RPC_ITEM) == 0) {
    return hilt__stream_wait(L, st, &st->writer, STEP_SEND);
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

// stream:send(value): streams one item, waiting for credit.
int hilt__stream_send(lua_State *L)
{
  stream_t *st = hilt__stream_check(L, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  return hilt__stream_send_step(L, st);
}

int hilt__stream_write_step(lua_State *L, stream_t *st)
{
  conn_t *c = st->c;
  size_t n;
  const char *p = lua_tolstring(L, 2, &n);
  size_t off = (size_t)lua_tointeger(L, 3);
  while (off < n) {
    rpc_op_t *op = check_sendable(L, st, RPC_DATA);
    uint64_t credit = rpc_session_credit(&c->s, op, RPC_DATA);
    if (credit == 0) {
      lua_pushinteger(L, (lua_Integer)off);
      lua_replace(L, 3);
      return hilt__stream_wait(L, st, &st->writer, STEP_WRITE);
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

// stream:write(bytes): streams raw bytes, in chunks as credit comes.
int hilt__stream_write(lua_State *L)
{
  stream_t *st = hilt__stream_check(L, 1);
  luaL_checkstring(L, 2);
  lua_settop(L, 2);
  lua_pushinteger(L, 0);  // how much has gone
  return hilt__stream_write_step(L, st);
}

// stream:close_write(): this end sends nothing more (END); reading goes on.
int hilt__stream_close_write(lua_State *L)
{
  stream_t *st = hilt__stream_check(L, 1);
  if (st->op != NULL && !st->c->ended) {
    rpc_session_signal(&st->c->s, st->op, RPC_END);
  }
  return 0;
}

// stream:close(): the caller cancels the call if it is still running; the
// callee closes its sending side.
int hilt__stream_close(lua_State *L)
{
  stream_t *st = hilt__stream_check(L, 1);
  if (st->side == RPC_CALLER) {
    hilt__stream_cancel(st);
  } else {
    hilt__stream_close_write(L);
  }
  return 0;
}

// stream:set_timeout(seconds): a new deadline for the call, `seconds` from
// its start as each end measured it (DEADLINE); one already past expires
// the call at once.
int hilt__stream_set_timeout(lua_State *L)
{
  stream_t *st = hilt__stream_check(L, 1);
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
  hilt__stream_start_timer(st, s);
  return 0;
}
