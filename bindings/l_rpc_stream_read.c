// Taking what arrived on a stream: items (recv), bytes (read, read_until)
// and the call's result, with the grants that keep the peer sending. See
// l_rpc_stream.c for how arrivals are queued.
#define _GNU_SOURCE  // memmem
#include <lauxlib.h>
#include <string.h>

#include "errors.h"
#include "l_rpc_stream.h"

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
static int wait_for(lua_State *L, stream_t *st, int kind, int step)
{
  rpc_op_t *op = st->op;
  if (op != NULL && !op->end_in && !op->window_in && op->credit_in == 0) {
    if (st->window == 0) {
      st->window = stream_default_window(st, kind);
    }
    if (st->ring_count > 0 || stream_bytes_queued(st) > 0) {
      st->extra += st->window;
    }
    rpc_session_grant(&st->c->s, op, st->window);
  }
  return hilt__stream_wait(L, st, &st->reader, step);
}

// With nothing queued: 0 when more may come; otherwise pushes nil (the
// stream ended well) and returns 1, or raises the failure.
static int at_end(lua_State *L, stream_t *st)
{
  if (st->done && !st->ok) {
    return hilt__stream_raise(L, st);
  }
  if (st->eof || st->done || st->op == NULL) {
    lua_pushnil(L);
    return 1;
  }
  return 0;
}

int hilt__stream_recv_step(lua_State *L, stream_t *st)
{
  if (st->ring_count > 0) {
    hilt__stream_ring_pop(L, st);
    hilt__rpc_decode_top(L);
    took(st, 1);
    return 1;
  }
  if (stream_bytes_queued(st) > 0) {
    return luaL_error(L, "this stream carries bytes: use read or read_until");
  }
  if (at_end(L, st)) {
    return 1;
  }
  return wait_for(L, st, RPC_ITEM, STEP_RECV);
}

// stream:recv() -> the next item, or nil once the stream ended; raises the
// call's error after the last item. Also the stream's __call.
int hilt__stream_recv(lua_State *L)
{
  lua_settop(L, 1);
  return hilt__stream_recv_step(L, hilt__stream_check(L, 1));
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
    memmove(st->in.data, st->in.data + st->in_off, stream_bytes_queued(st));
    st->in.len -= st->in_off;
    st->in_off = 0;
  }
  took(st, n);
}

int hilt__stream_read_step(lua_State *L, stream_t *st)
{
  size_t max = (size_t)lua_tointeger(L, 2);
  size_t n = stream_bytes_queued(st);
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
  return wait_for(L, st, RPC_DATA, STEP_READ);
}

// stream:read([max]) -> the bytes that arrived (at most max), waiting for
// some; nil once the stream ended.
int hilt__stream_read(lua_State *L)
{
  stream_t *st = hilt__stream_check(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, max >= 0, 2, "max must be >= 0");
  lua_settop(L, 1);
  lua_pushinteger(L, max == 0 ? LUA_MAXINTEGER : max);
  return hilt__stream_read_step(L, st);
}

int hilt__stream_until_step(lua_State *L, stream_t *st)
{
  size_t seplen;
  const char *sep = lua_tolstring(L, 2, &seplen);
  size_t max = (size_t)lua_tointeger(L, 3);
  size_t n = stream_bytes_queued(st);
  const char *at =
      n > 0 ? memmem(st->in.data + st->in_off, n, sep, seplen) : NULL;
  if (at != NULL) {
    take_bytes(L, st, (size_t)(at - (st->in.data + st->in_off)) + seplen);
    return 1;
  }
  if (n >= max) {
    hilt_error_push(L, "failed", "read_until: no separator within %I bytes",
                    (lua_Integer)max);
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
  return wait_for(L, st, RPC_DATA, STEP_UNTIL);
}

// stream:read_until(sep [, max]) -> the bytes up to and including sep;
// at the end, what is left without it, then nil. Raises `failed` when
// max bytes (default 1 MiB) come without sep.
int hilt__stream_read_until(lua_State *L)
{
  stream_t *st = hilt__stream_check(L, 1);
  size_t seplen;
  luaL_checklstring(L, 2, &seplen);
  luaL_argcheck(L, seplen > 0, 2, "separator must not be empty");
  lua_Integer max = luaL_optinteger(L, 3, READ_UNTIL_MAX);
  luaL_argcheck(L, max > 0, 3, "max must be > 0");
  lua_settop(L, 2);
  lua_pushinteger(L, max);
  return hilt__stream_until_step(L, st);
}

int hilt__stream_result_step(lua_State *L, stream_t *st)
{
  // Whatever was not taken is dropped, and granted back, so a producer
  // waiting for credit can reach its response.
  uint64_t n = (uint64_t)st->ring_count + stream_bytes_queued(st);
  while (st->ring_count > 0) {
    hilt__stream_ring_pop(L, st);
    lua_pop(L, 1);
  }
  mpk_buf_reset(&st->in);
  st->in_off = 0;
  if (n > 0) {
    took(st, n);
  }
  if (st->done) {
    if (!st->ok) {
      return hilt__stream_raise(L, st);
    }
    if (st->outcome_ref == LUA_NOREF) {
      return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->outcome_ref);
    hilt__rpc_decode_top(L);
    return 1;
  }
  return wait_for(L, st, RPC_ITEM, STEP_RESULT);
}

// stream:result() -> the call's result, once its response came; drops
// items and bytes not taken yet. Raises the call's error.
int hilt__stream_result(lua_State *L)
{
  stream_t *st = hilt__stream_check(L, 1);
  if (st->side != RPC_CALLER) {
    return luaL_error(L, "result: only the calling end has a result");
  }
  lua_settop(L, 1);
  return hilt__stream_result_step(L, st);
}
