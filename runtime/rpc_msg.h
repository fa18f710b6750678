// The messages of hilt's wire (docs/protocol.md): msgpack-RPC's request,
// response and notification, and hilt's call and stream messages. Parsing
// takes the bytes of one framed message and points into them; encoding
// writes envelopes into an mpk_buf_t, leaving values (params, results,
// payloads) for the caller to append with any msgpack packer.
#ifndef HILT_RPC_MSG_H
#define HILT_RPC_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "mpk_buf.h"

enum {
  RPC_REQUEST = 0,    // [0, id, method, params]
  RPC_RESPONSE = 1,   // [1, id, error, result]
  RPC_NOTIFY = 2,     // [2, method, params]
  RPC_CALL = 3,       // [3, id, method, params, opts]
  RPC_TO_CALLER = 4,  // [4, id, seq, kind, payload]
  RPC_TO_CALLEE = 5,  // [5, id, seq, kind, payload]
};

/// Kinds of stream messages (types 4 and 5).
enum {
  RPC_ITEM = 0,
  RPC_DATA = 1,
  RPC_END = 2,
  RPC_CREDIT = 3,
  RPC_CANCEL = 4,   // caller to callee only
  RPC_EXPIRE = 5,   // caller to callee only
  RPC_DEADLINE = 6, // caller to callee only
  RPC_KIND_COUNT
};

/// What the caller subscribes to (the "sub" option of a call).
enum { RPC_SUB_FULL = 0, RPC_SUB_DONE = 1, RPC_SUB_NONE = 2 };

/// Parse results: the message is fine; it breaks the stream (the
/// connection must close); or it names an operation but is wrong (answer
/// that operation, keep the connection).
enum { RPC_MSG_OK = 0, RPC_MSG_EFATAL = -1, RPC_MSG_EOP = -2 };

#define RPC_HELLO "rpc.hello"  // the method of the hello request
#define RPC_VERSION 1           // the wire's version, sent in the hello

#define RPC_TRACE_MAX 64    // bytes of a trace id
#define RPC_METHOD_MAX 1024 // bytes of a method path

/// The msgpack encoding of one value inside a message.
typedef struct {
  const char *p;
  size_t n;
} rpc_span_t;

typedef struct {
  int has_timeout;
  double timeout;     // seconds, > 0
  rpc_span_t trace;   // the id's bytes (str or bin payload), n == 0 if none
  int sub;            // RPC_SUB_*
  int has_credit;
  uint64_t credit;
  int stream;         // the caller takes streams (results, input, bytes)
} rpc_opts_t;

typedef struct {
  int type;           // RPC_REQUEST .. RPC_TO_CALLEE
  uint32_t id;        // all but RPC_NOTIFY
  rpc_span_t method;  // REQUEST, NOTIFY, CALL: the path's bytes, not msgpack
  rpc_span_t params;  // REQUEST, NOTIFY, CALL: an array value
  rpc_span_t error;   // RESPONSE: a value, nil on success
  rpc_span_t result;  // RESPONSE
  int failed;         // RESPONSE: error is not nil
  rpc_opts_t opts;    // CALL; defaults for REQUEST
  uint64_t seq;       // TO_CALLER, TO_CALLEE
  int kind;           // TO_CALLER, TO_CALLEE: RPC_ITEM ..
  rpc_span_t payload; // TO_CALLER, TO_CALLEE: a value
  uint64_t count;     // CREDIT: the payload as a count
  double seconds;     // DEADLINE: the payload as seconds
} rpc_msg_t;

/// Parses the n bytes at p, one complete msgpack value (framed by
/// mpk_stream), into *m, whose spans point into p. Returns RPC_MSG_OK;
/// RPC_MSG_EOP when m->type and m->id are known but the rest is wrong
/// (a request whose params are not an array, a bad option, a kind that
/// direction cannot send); RPC_MSG_EFATAL otherwise. On failure *why is a
/// static description.
int rpc_msg_parse(const char *p, size_t n, rpc_msg_t *m, const char **why);

/// Envelopes. Each writes the start of a message; the caller appends the
/// values named, in order, each exactly one msgpack value.
void rpc_msg_put_request(mpk_buf_t *b, uint32_t id, const char *method,
                         size_t n);                   // then params
void rpc_msg_put_call(mpk_buf_t *b, uint32_t id, const char *method,
                      size_t n);                      // then params, opts
void rpc_msg_put_notify(mpk_buf_t *b, const char *method, size_t n);
                                                      // then params
void rpc_msg_put_response(mpk_buf_t *b, uint32_t id); // then error, result
void rpc_msg_put_stream(mpk_buf_t *b, int type, uint32_t id, uint64_t seq,
                        int kind);                    // then payload

/// A call's options as a map (only the ones that differ from defaults).
void rpc_msg_put_opts(mpk_buf_t *b, const rpc_opts_t *o);

/// A whole error response [1, id, {code, message}, nil].
void rpc_msg_put_error(mpk_buf_t *b, uint32_t id, const char *code,
                       const char *message);

/// A whole stream message with no payload (nil) or a count payload.
void rpc_msg_put_signal(mpk_buf_t *b, int type, uint32_t id, uint64_t seq,
                        int kind);
void rpc_msg_put_credit(mpk_buf_t *b, int type, uint32_t id, uint64_t seq,
                        uint64_t n);

/// The whole reply to a hello: [1, id, nil, {version, name, limits}].
void rpc_msg_put_hello_reply(mpk_buf_t *b, uint32_t id, const char *name,
                             uint64_t max_message, int max_depth,
                             uint64_t max_pending);

#endif
