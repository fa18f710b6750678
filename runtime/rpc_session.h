// One end of a wire connection (docs/protocol.md), without I/O and
// without Lua: bytes received go in through rpc_session_feed, complete
// messages are checked and come out through callbacks, and what the
// embedder sends is accounted here (ids, sequence numbers, credit, the
// limit of pending operations, the hello). The embedder moves the bytes
// (runtime/net_stream) and runs handlers (bindings/).
#ifndef HILT_RPC_SESSION_H
#define HILT_RPC_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "mpk_buf.h"
#include "mpk_stream.h"
#include "rpc_msg.h"
#include "rpc_optab.h"

enum { RPC_CALLER = 0, RPC_CALLEE = 1 };

typedef struct rpc_session rpc_session_t;

/// How a direction of an operation streams: fixed by its first ITEM or DATA.
enum { RPC_MODE_NONE = 0, RPC_MODE_ITEMS = 1, RPC_MODE_BYTES = 2 };

/// An operation in flight. Caller ops are ours until their response
/// arrives; callee ops until we send theirs. The session allocates and
/// frees them; `data`, `stream` and `timer` are the embedder's.
typedef struct {
  uint32_t id;
  int side;             // RPC_CALLER or RPC_CALLEE
  int sub;              // RPC_SUB_*
  int done;             // the outcome is decided; messages now only drain
  int streaming;        // the call was made with opts.stream
  uint8_t mode_in;      // RPC_MODE_* of what the peer streams to us
  uint8_t mode_out;     // RPC_MODE_* of what we stream to the peer
  uint8_t end_in;       // the peer sent END
  uint8_t end_out;      // we sent END
  uint8_t window_in;    // credit_in still lacks the default window
  uint8_t window_out;   // credit_out still lacks the default window
  uint64_t seq_in;      // the next stream message's expected seq
  uint64_t seq_out;     // the seq of the next stream message we send
  uint64_t credit_out;  // items or bytes we may still send
  uint64_t credit_in;   // items or bytes the peer may still send us
  const char *why;      // a static reason, once the op broke the protocol
  void *data;
  void *stream;
  void *timer;
} rpc_op_t;

typedef struct {
  size_t max_message;   // bytes of one message; default 16 MiB
  int max_depth;        // nesting; default 64
  size_t max_pending;   // incoming operations in flight; default 10,000
  uint64_t credit;      // result window in items by default; 64
  uint64_t credit_bytes;  // ... and in bytes; 256 KiB
} rpc_limits_t;

typedef struct {
  /// An incoming request, call or notification, after the hello. op is
  /// NULL for notifications and calls with sub none (nothing answers
  /// them); otherwise it is the callee op that rpc_session_end frees.
  void (*on_request)(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m);
  /// The response to our op; op is freed when this returns.
  void (*on_response)(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m);
  /// A stream message for op, in sequence and within credit.
  void (*on_stream)(rpc_session_t *s, rpc_op_t *op, const rpc_msg_t *m);
  /// op broke the protocol (why says how, also in op->why) and is done:
  /// for a callee op the embedder stops the handler, then answers
  /// `protocol` and ends it; for a caller op a CANCEL has been sent.
  void (*on_fail)(rpc_session_t *s, rpc_op_t *op, const char *why);
  /// Bytes to send, in order. Returns 0 or a negative error.
  int (*write)(rpc_session_t *s, const char *p, size_t n);
} rpc_session_cbs_t;

struct rpc_session {
  rpc_session_cbs_t cb;
  void *data;               // the embedder's
  rpc_limits_t limits;
  mpk_stream_t in;
  mpk_buf_t out;            // scratch for messages the session writes
  rpc_optab_t caller;       // our operations, by id
  rpc_optab_t callee;       // the peer's operations, by id
  uint32_t next_id;
  const char *token;        // required in the hello, or NULL
  const char *name;         // ours, sent in the hello reply
  int authed;               // a hello with the right token arrived
  int failed;               // the stream broke; nothing more is read
  char why[160];            // the reason, once failed
};

/// Fills l with the defaults.
void rpc_limits_default(rpc_limits_t *l);

/// Starts a session. limits may be NULL for the defaults; token (kept by
/// pointer, may be NULL) is required in the peer's hello; name (kept by
/// pointer) goes in our hello reply.
void rpc_session_init(rpc_session_t *s, const rpc_limits_t *limits,
                      const rpc_session_cbs_t *cb, void *data,
                      const char *token, const char *name);

/// Frees every op (their `data` must be released by the embedder first,
/// e.g. with rpc_session_each) and the buffers. Idempotent.
void rpc_session_close(rpc_session_t *s);

/// Consumes received bytes, calling back for each complete message.
/// Returns 0, or -1 once the stream is broken: s->why says why, and the
/// connection must close. Callbacks may send and end ops, not close s.
int rpc_session_feed(rpc_session_t *s, const char *p, size_t n);

/// Starts one of our ops with a fresh id, for a call with options o (NULL
/// for a plain request; o->sub RPC_SUB_NONE needs no op). The embedder
/// then sends the request with op->id and the same options. NULL when out
/// of memory.
rpc_op_t *rpc_session_begin(rpc_session_t *s, const rpc_opts_t *o);

/// Drops one of our ops whose request was never sent (its arguments
/// could not be packed): no response will come for it.
void rpc_session_forget(rpc_session_t *s, rpc_op_t *op);

/// Sends bytes the embedder encoded. Returns the write callback's result.
int rpc_session_send(rpc_session_t *s, const char *p, size_t n);

/// The seq for the next stream message on op, counted as sent.
uint64_t rpc_session_next_seq(rpc_op_t *op);

/// The units op may still send as `kind` (RPC_ITEM or RPC_DATA).
uint64_t rpc_session_credit(const rpc_session_t *s, const rpc_op_t *op,
                            int kind);

/// Takes n units of op's send credit for a message of `kind` (RPC_ITEM
/// or RPC_DATA), fixing the direction's mode: 0; -1 when not enough is
/// left (nothing is taken; the sender waits for CREDIT); -2 when op cannot
/// send `kind` at all (no streams asked, the other mode, or after END).
int rpc_session_take_credit(rpc_session_t *s, rpc_op_t *op, int kind,
                            uint64_t n);

/// Sends a stream message without payload (CANCEL, EXPIRE, END) on op.
/// A second END is not sent.
int rpc_session_signal(rpc_session_t *s, rpc_op_t *op, int kind);

/// Grants the peer n more units on op and sends the CREDIT message.
int rpc_session_grant(rpc_session_t *s, rpc_op_t *op, uint64_t n);

/// Ends a callee op after its response was sent, or a caller op whose
/// outcome the user already has (cancelled, expired) is marked done: its
/// response, when it comes, is dropped. Frees callee ops.
void rpc_session_end(rpc_session_t *s, rpc_op_t *op);

/// Calls fn on every op of a side (for failing them when the peer goes).
void rpc_session_each(rpc_session_t *s, int side,
                      void (*fn)(void *op, void *data), void *data);

/// Counts of ops in flight.
size_t rpc_session_pending(const rpc_session_t *s, int side);

/// Compares a and b in time that depends only on their lengths.
int rpc_token_equal(const char *a, size_t an, const char *b, size_t bn);

#endif
