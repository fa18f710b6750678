// Streams of hilt.rpc.core, shared by their files: l_rpc_stream.c (the
// object, what arrives, waiting, making), l_rpc_stream_read.c (taking what
// arrived) and l_rpc_stream_write.c (sending).
#ifndef HILT_L_RPC_STREAM_H
#define HILT_L_RPC_STREAM_H

#include "l_rpc.h"

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

/// What a waiting task resumes: each step reads its arguments from the
/// stack, so one continuation serves them all.
enum {
  STEP_RECV,    // [stream]
  STEP_READ,    // [stream, max]
  STEP_UNTIL,   // [stream, sep, max]
  STEP_RESULT,  // [stream]
  STEP_SEND,    // [stream, value]
  STEP_WRITE,   // [stream, bytes, offset]
};

int hilt__stream_recv_step(lua_State *L, stream_t *st);
int hilt__stream_read_step(lua_State *L, stream_t *st);
int hilt__stream_until_step(lua_State *L, stream_t *st);
int hilt__stream_result_step(lua_State *L, stream_t *st);
int hilt__stream_send_step(lua_State *L, stream_t *st);
int hilt__stream_write_step(lua_State *L, stream_t *st);

stream_t *hilt__stream_check(lua_State *L, int idx);

/// Waits in the reader's or the writer's slot (one task each), then goes on
/// with `step`.
int hilt__stream_wait(lua_State *L, stream_t *st, hilt_task_t **slot,
                      int step);

/// Raises the stream's failed outcome.
int hilt__stream_raise(lua_State *L, stream_t *st);

/// Pushes the oldest queued item's bytes and drops it from the queue.
void hilt__stream_ring_pop(lua_State *L, stream_t *st);

/// Arms the caller's timer to fire `seconds` after the call started.
void hilt__stream_start_timer(stream_t *st, double seconds);

/// Cancels the caller's op unless its outcome is in.
void hilt__stream_cancel(stream_t *st);

/// The methods of each file, for the metatable.
int hilt__stream_recv(lua_State *L);
int hilt__stream_read(lua_State *L);
int hilt__stream_read_until(lua_State *L);
int hilt__stream_result(lua_State *L);
int hilt__stream_send(lua_State *L);
int hilt__stream_write(lua_State *L);
int hilt__stream_close_write(lua_State *L);
int hilt__stream_close(lua_State *L);
int hilt__stream_set_timeout(lua_State *L);

static inline uint64_t stream_default_window(const stream_t *st, int kind)
{
  return kind == RPC_DATA ? st->c->s.limits.credit_bytes
                          : st->c->s.limits.credit;
}

static inline size_t stream_bytes_queued(const stream_t *st)
{
  return st->in.len - st->in_off;
}

#endif
