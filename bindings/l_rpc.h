// Internal declarations of hilt.rpc.core: l_rpc.c (the module, connect,
// listen, pair, listeners), l_rpc_conn.c (connections), l_rpc_call.c
// (calls made), l_rpc_handle.c (calls answered), l_rpc_deadline.c (the
// callee's clock) and l_rpc_stream*.c (streams).
#ifndef HILT_L_RPC_H
#define HILT_L_RPC_H

#include <lua.h>

#include "net_stream.h"
#include "rpc_session.h"
#include "task.h"

#define RPC_CONN_MT "hilt.rpc.Conn"

/// Uservalue slots of a connection.
enum {
  CONN_UV_DISPATCH = 1,
  CONN_UV_ON_RESET = 2,
  CONN_UV_NOTIFY = 3,  // runs a read's notifications: notify(conn, q, n)
  CONN_UV_COUNT = 3
};

typedef struct {
  rpc_session_t s;
  net_stream_t *stream;  // NULL once its close began
  lua_State *L;          // the main state (hilt_sched_state)
  int self_ref;          // anchors the userdata while the stream is open
  int ended;             // the connection is over; why says how
  char why[200];
  char peer[NET_ADDR_STRLEN];
  char *token;           // owned copy, required in the peer's hello
  hilt_task_t *connecting;  // the task waiting in connect
  uint32_t connecting_seq;
  mpk_buf_t out;         // scratch for messages packed here
  mpk_buf_t cork;        // what tasks wrote this pass, sent at its end
  int cork_queued;       // a flush of cork is deferred to the pass's end
  int keep_alive;        // 1: keeps the process running even when idle;
                         // -1: never, not even with calls in flight
  int kept;              // the stream's handles keep the loop running
  int notify_ref;        // the notifications of this read, or LUA_NOREF
  int notify_n;          // their count, times 3 (method, params, trace)
} conn_t;

/// Pushes a new connection (not yet attached to a stream) and returns it.
/// token may be NULL. Must run inside a closure over msgpack's upvalues.
conn_t *hilt__conn_new(lua_State *L, const char *token, const char *peer);

/// Attaches stream to c (at the top of L's stack), starts reading and
/// anchors c until it ends.
void hilt__conn_attach(lua_State *L, conn_t *c, net_stream_t *stream);

/// The callbacks a connection's stream uses.
extern const net_stream_cb_t hilt__conn_stream_cb;

/// Spawns one task running the notifications the last read queued, in
/// their order (see hilt__handle_request).
void hilt__handle_notifications(conn_t *c);

/// Ends the connection: fails every pending call `unavailable`, cancels
/// every handler, runs on_reset, closes the stream. Idempotent.
void hilt__conn_end(conn_t *c, const char *why);

// --- connections (l_rpc_conn.c) --------------------------------------------------

/// The connection at idx.
conn_t *hilt__conn_check(lua_State *L, int idx);

/// The connection at idx, raising `unavailable` if it has ended.
conn_t *hilt__conn_check_open(lua_State *L, int idx);

// --- calls this end makes (l_rpc_call.c) ---------------------------------------

/// conn:call(method, opts, ...) -> result, and conn:notify(method, ...).
int hilt__conn_call(lua_State *L);
int hilt__conn_notify(lua_State *L);
int hilt__conn_notify_all(lua_State *L);

/// Begins an op for the call on L's stack (method at 2, arguments from 4)
/// with options o, and sends it; NULL for sub none, which nothing answers.
/// Raises invalid_argument when it cannot be sent.
rpc_op_t *hilt__conn_send_call(lua_State *L, conn_t *c, const rpc_opts_t *o);

/// Replaces the msgpack bytes on top of L, checked by the session, by
/// their value. Must run inside a closure over msgpack's upvalues.
void hilt__rpc_decode_top(lua_State *L);

/// The response to a unary call of ours.
void hilt__call_response(conn_t *c, rpc_op_t *op, const rpc_msg_t *m);

/// Ends a unary call of ours here with an Error `code`, if it still waits.
void hilt__call_end(rpc_op_t *op, const char *code, const char *message);

/// Reads call options {timeout=, trace=, sub=, credit=} at idx into o.
void hilt__conn_opts(lua_State *L, int idx, rpc_opts_t *o);

/// Packs the values at first..top as an array into c->out: 0, or -1 with
/// why in err[0..n).
int hilt__conn_pack_args(lua_State *L, conn_t *c, int first, char *err,
                         size_t n);

/// 0 when what was packed into c->out fits the message limit; else -1
/// with why in err[0..n).
int hilt__conn_check_size(conn_t *c, char *err, size_t n);

/// A connection keeps the process running while operations are in
/// flight on it either way, or when asked to (conn:keep_alive): call after
/// operations begin or end.
void hilt__conn_update_ref(conn_t *c);

/// Sends what was packed into c->out.
void hilt__conn_send(conn_t *c);

/// Turns the decoded error object at idx into a hilt.Error on top of L,
/// its `remote` field naming the peer it came from.
void hilt__rpc_push_error(lua_State *L, int idx, const char *peer);

// --- calls this end answers (l_rpc_handle.c) -------------------------------------

/// The session's on_request: runs the dispatch function in a new task.
void hilt__handle_request(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m);

/// A CANCEL, EXPIRE or DEADLINE for a call this end handles.
void hilt__handle_signal(conn_t *c, rpc_op_t *op, const rpc_msg_t *m);

/// The connection ended under a call this end handles: its handler is
/// interrupted `unavailable` and the op let go of.
void hilt__handle_drop(conn_t *c, rpc_op_t *op);

/// Interrupts the handler of callee op with an Error `code` (answering
/// for it if it has not started).
void hilt__conn_interrupt(conn_t *c, rpc_op_t *op, const char *code,
                          const char *message);

/// conn:respond(id, ok, value) and conn:args(params) -> ... (the
/// handler's arguments).
int hilt__conn_respond(lua_State *L);
int hilt__conn_args(lua_State *L);

// --- the callee's deadlines (l_rpc_deadline.c) ------------------------------------

/// Starts op's clock: its handler is interrupted `expired` after seconds.
void hilt__deadline_start(conn_t *c, rpc_op_t *op, double seconds);

/// The same for a call nothing answers; its handler task is on top of
/// c->L (popped).
void hilt__deadline_start_task(conn_t *c, double seconds);

/// A DEADLINE: op now expires `seconds` after its start.
void hilt__deadline_move(conn_t *c, rpc_op_t *op, double seconds);

/// Stops op's clock; before op ends.
void hilt__deadline_stop(rpc_op_t *op);

// --- streams (l_rpc_stream.c) ---------------------------------------------------

#define RPC_STREAM_MT "hilt.rpc.Stream"

/// conn:open(method, opts, ...) -> stream: starts a streaming call.
int hilt__stream_call(lua_State *L);

/// conn:stream(id) -> stream: the stream of the incoming call id.
int hilt__stream_of(lua_State *L);

/// Pushes a new stream object for `op` on the connection at conn_idx. The
/// callee's is made as its request arrives, so items, bytes and END the
/// caller sends before the handler runs wait in it.
void *hilt__stream_push(lua_State *L, conn_t *c, int conn_idx, rpc_op_t *op);

/// A stream message for an op that has a stream.
void hilt__stream_deliver(conn_t *c, rpc_op_t *op, const rpc_msg_t *m);

/// The response to a streaming call; the session frees op afterwards.
void hilt__stream_response(conn_t *c, rpc_op_t *op, const rpc_msg_t *m);

/// Ends op's stream here with an outcome `code` (its waiters wake and see
/// it) and lets go of op, which the session is about to end or free.
void hilt__stream_end(conn_t *c, rpc_op_t *op, const char *code,
                      const char *message);

/// Registers the Stream metatable (closures over msgpack's upvalues at
/// stack index uv and after).
void hilt__stream_open(lua_State *L, int uv);

/// Registers the Conn metatable (methods closed over msgpack's upvalues,
/// which are at stack index uv and after); pushes nothing.
void hilt__conn_open(lua_State *L, int uv);

#endif
