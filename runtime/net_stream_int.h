// Internals shared by the files of the byte-stream transport:
// net_stream.c (lifetime, reading, writing), net_connect.c, net_listen.c
// and net_stdio.c (stdio and pairs). See net_stream.h for the interface.
#ifndef HILT_NET_STREAM_INT_H
#define HILT_NET_STREAM_INT_H

#include <netdb.h>
#include <stddef.h>

#include "net_stream.h"

#define STREAM_OF(ptr, field)                                                \
  ((net_stream_t *)((char *)(ptr) - offsetof(net_stream_t, field)))

typedef union {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
  uv_tty_t tty;
} net_handle_t;

typedef struct {
  char *p;
  size_t len;
  size_t cap;
} wbuf_t;

struct net_stream {
  uv_loop_t *loop;
  net_stream_cb_t cb;
  void *data;
  net_handle_t *in;        // reads come from here
  net_handle_t *out;       // writes go here: `in` but for stdio; NULL once
                           // a separate one has been shut
  int refs;                // open handles, plus a resolution in flight
  int err;                 // the error that ended the stream, or 0
  unsigned connecting : 1; // net_connect has not reported yet
  unsigned resolving : 1;  // `gai` is in flight
  unsigned closing : 1;    // net_stream_close was called
  unsigned ended : 1;      // on_end was delivered, or never will be
  unsigned reading : 1;    // the owner wants on_read
  unsigned shut : 1;       // net_stream_shutdown was called
  unsigned shut_started : 1;
  unsigned writing : 1;    // `sending` is in flight
  wbuf_t pending;          // queued, not yet given to libuv
  wbuf_t sending;          // given to libuv in `wreq`
  uv_write_t wreq;
  uv_shutdown_t sreq;
  // Connecting: the address, its resolved forms, the last failure.
  net_addr_t addr;
  uv_getaddrinfo_t gai;
  uv_connect_t creq;
  struct addrinfo *ai;
  struct addrinfo *ai_next;
  int tries;
  int connect_err;
  char tried[128];         // addresses tried, for the error message
  char rbuf[NET_STREAM_READ_SIZE];
};

/// Writes a message into err[0..n) if err is not NULL; returns code.
int net__fail(char *err, size_t n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/// A stream with no handle yet; NULL when out of memory.
net_stream_t *net__stream_new(uv_loop_t *loop, const net_stream_cb_t *cb,
                              void *data);

/// Drops one of the stream's references (a handle, a resolution); the
/// last one delivers on_close and frees the stream.
void net__stream_unref(net_stream_t *s);

/// A new TCP or pipe handle for s, counted in s->refs; NULL on failure.
net_handle_t *net__handle_new(net_stream_t *s, uv_handle_type type);

/// Closes a handle of a stream; its close callback drops the reference.
void net__handle_close(net_handle_t *h);

/// Disposes of a stream its maker could not finish: no callback follows.
void net__stream_abandon(net_stream_t *s);

/// Starts libuv reading into the stream's buffer.
int net__stream_read_begin(net_stream_t *s);

/// Hands queued bytes to libuv, or starts an asked-for shutdown once the
/// queue is empty. Returns 0 or a negative libuv code.
int net__stream_flush(net_stream_t *s);

#endif
