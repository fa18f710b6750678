// Internal declarations of hilt.rpc.core: l_rpc.c (the module, connect,
// listen, pair, listeners) and l_rpc_conn.c (connections: calls, handlers,
// the end of a connection).
#ifndef HILT_L_RPC_H
#define HILT_L_RPC_H

#include <lua.h>

#include "net_stream.h"
#include "rpc_session.h"
#include "task.h"

#define RPC_CONN_MT "hilt.rpc.Conn"

/// Uservalue slots of a connection.
enum { CONN_UV_DISPATCH = 1, CONN_UV_ON_RESET = 2, CONN_UV_COUNT = 2 };

typedef struct {
  rpc_session_t s;
  net_stream_t *stream;  // NULL once its close began
  lua_State *L;          // the main state
  int self_ref;          // anchors the userdata while the stream is open
  int ended;             // the connection is over; why says how
  char why[200];
  char peer[NET_ADDR_STRLEN];
  char *token;           // owned copy, required in the peer's hello
  hilt_task_t *connecting;  // the task waiting in connect
  uint32_t connecting_seq;
  mpk_buf_t out;         // scratch for messages packed here
} conn_t;

/// Pushes a new connection (not yet attached to a stream) and returns it.
/// token may be NULL. Must run inside a closure over msgpack's upvalues.
conn_t *hilt__conn_new(lua_State *L, const char *token, const char *peer);

/// Attaches stream to c, starts reading and anchors c until it ends.
void hilt__conn_attach(conn_t *c, net_stream_t *stream);

/// The callbacks a connection's stream uses.
extern const net_stream_cb_t hilt__conn_stream_cb;

/// Ends the connection: fails every pending call `unavailable`, cancels
/// every handler, runs on_reset, closes the stream. Idempotent.
void hilt__conn_end(conn_t *c, const char *why);

/// Registers the Conn metatable (methods closed over msgpack's upvalues,
/// which are at stack index uv and after); pushes nothing.
void hilt__conn_open(lua_State *L, int uv);

#endif
