// hilt.net's byte streams, shared by the binding files that make them:
// l_net_stream.c (the Stream type: reading, writing, closing),
// l_net_linger.c (closed streams still sending), l_net.c (connect,
// listen, stdio) and l_process.c (a child's pipes).
#ifndef HILT_L_NET_H
#define HILT_L_NET_H

#include <lua.h>

#include "mpk_buf.h"
#include "net_stream.h"
#include "task.h"

#define NET_STREAM_MT "hilt.net.Stream"

// Room for a stream's name: an address, or "stdout of process N".
#define NET_NAME_MAX (NET_ADDR_STRLEN + 32)

typedef struct {
  net_stream_t *s;       // NULL until attached, and once closed
  mpk_buf_t in;          // what arrived and was not read, from in_off
  size_t in_off;
  size_t want;           // read_until's limit while it waits, else 0
  int eof;               // the peer's EOF came
  int err;               // the error that ended the stream, or 0
  int closed;            // close() was called
  int shut;              // shutdown() was called
  int paused;            // reading stopped: the buffer is full
  int kept;              // the handles keep the loop alive
  int device;            // a device (a serial port): its end is an error,
                         // and its errors read "device gone (...)"
  int hold_fd;           // a descriptor closed with the stream, or -1
  int no_linger;         // closing drops what is queued (a pty's master:
                         // closing it unplugs the device)
  hilt_task_t *reader;   // the task waiting in read or read_until
  hilt_task_t *writer;   // the task waiting for the queue to drain
  hilt_task_t *connecting;
  char name[NET_NAME_MAX];     // for messages: "tcp://127.0.0.1:5000"
  char why[NET_ERR_MAX];       // why connecting failed
} lstream_t;

/// The callbacks of a stream's net_stream_t, for makers that take them at
/// once (net_connect), with the lstream_t as their data.
extern const net_stream_cb_t hilt__net_stream_cb;

/// Pushes a new Stream with no net_stream_t yet, named `name`.
lstream_t *hilt__net_stream_new(lua_State *L, const char *name);

/// Gives the Stream its net_stream_t, which it owns from now on and
/// closes: sets the callbacks, starts reading (so an EOF or a reset is
/// seen even with no reader) and lets the loop go unless a task waits.
void hilt__net_stream_attach(lstream_t *ls, net_stream_t *s);

/// Closes the stream, waking a task waiting on it: a reader gets nil, a
/// writer or a connecting task an error. Idempotent.
void hilt__net_stream_close(lstream_t *ls);

/// Drops the bytes that arrived and were not read (a serial port's
/// flush of its input).
void hilt__net_stream_discard(lstream_t *ls);

/// Keeps the loop alive exactly while a task waits on the stream; call
/// after a waiter comes or goes.
void hilt__net_stream_update_ref(lstream_t *ls);

/// Lets go of s, whose owner is done with it: it closes once what is
/// queued has been sent or sending failed (l_net_linger.c).
void hilt__net_linger(net_stream_t *s);

/// Makes sure the lingering streams are closed when the Lua state is.
void hilt__net_linger_open(lua_State *L);

/// Raises a hilt.Error `code` with the message "<name>: <libuv reason>";
/// for a device, "<name>: device gone (<reason>)" ("hung up" for an EOF).
int hilt__net_raise(lua_State *L, const char *code, const lstream_t *ls,
                    int status);

/// Registers the Stream metatable; pushes nothing.
void hilt__net_stream_open(lua_State *L);

#endif
