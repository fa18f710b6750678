// Byte streams over libuv: TCP (IPv4 and IPv6), unix sockets, the
// process's stdin/stdout, and an in-process pair, behind one interface.
//
// A stream is made by net_connect, by a listener's on_accept, by
// net_stream_stdio or by net_stream_pair, and is always ended by its owner
// with net_stream_close. It reads only between net_stream_read_start and
// net_stream_read_stop, and delivers, through its callbacks:
//
//   on_connect  once, for net_connect only: connected, or why not;
//   on_read     data as it arrives, valid only during the call;
//   on_end      at most once: the peer's EOF (0) or an error from reading
//               or writing (a negative libuv code). The stream reads no
//               more, but after an EOF it can still write (half-close);
//   on_drain    when the write queue empties after it was not empty;
//   on_close    once, after net_stream_close, when the handles are closed;
//               the stream's memory is freed right after it returns.
//
// After net_stream_close only on_close is called. Every callback may call
// any function here on its own stream, including net_stream_close; none is
// ever called from inside a function here, only from the loop.
//
// Writes copy: net_stream_write tries the socket at once and queues what
// it could not write. Nothing limits the queue; a writer that can outrun
// its peer watches net_stream_write_queued and waits for on_drain.
//
// A process using streams should ignore SIGPIPE (hilt's main() does), so
// that writing to a peer that has gone away fails with UV_EPIPE instead of
// ending the process.
#ifndef HILT_NET_STREAM_H
#define HILT_NET_STREAM_H

#include <stddef.h>
#include <uv.h>

#include "net_addr.h"

// Reads land in one buffer of this size per stream.
#define NET_STREAM_READ_SIZE (64 * 1024)

// Room for any message that a function here writes into an error buffer.
#define NET_ERR_MAX (NET_ADDR_STRLEN + 160)

typedef struct net_stream net_stream_t;
typedef struct net_listener net_listener_t;

typedef struct {
  // status 0: connected. Otherwise a negative libuv code and `err` a
  // message naming the address ("cannot connect to tcp://127.0.0.1:9:
  // connection refused"), valid during the call. A stream that failed to
  // connect only waits for net_stream_close.
  void (*on_connect)(net_stream_t *s, int status, const char *err,
                     void *data);
  void (*on_read)(net_stream_t *s, const char *p, size_t n, void *data);
  void (*on_end)(net_stream_t *s, int status, void *data);
  void (*on_drain)(net_stream_t *s, void *data);
  void (*on_close)(net_stream_t *s, void *data);
} net_stream_cb_t;

/// Called for each connection a listener accepts, with status 0 and a new
/// stream that the callee owns: it sets callbacks (net_stream_set_cb),
/// starts reading, and eventually closes it. The stream has no callbacks
/// and does not read until then. On a failed accept (such as EMFILE),
/// status is the negative libuv code and s is NULL; the listener goes on.
typedef void (*net_accept_cb)(net_listener_t *l, net_stream_t *s, int status,
                              void *data);

/// Opens a listener on `addr` (TCP or UNIX) and sets *out. Returns 0, or a
/// negative libuv code with a message naming the address in err[0..errlen)
/// (err may be NULL), and *out NULL.
///
/// TCP: the host is resolved now, synchronously, and the listener takes
/// the first address it can bind; "" (":port") binds "::" with IPv4
/// mapped in, or 0.0.0.0 where there is no IPv6. Port 0 takes any free
/// port. Accepted connections have TCP_NODELAY set.
///
/// UNIX: the socket file is created with mode 0600. A socket file left by
/// a process that is gone (nothing answers on it) is removed first; a
/// path where something answers, or that is not a socket, fails.
///
/// `on_accept` must not be NULL; it and `data` are not used after
/// net_listener_close.
int net_listen(uv_loop_t *loop, const net_addr_t *addr,
               net_accept_cb on_accept, void *data, net_listener_t **out,
               char *err, size_t errlen);

/// The address the listener is bound to, with the port chosen for port 0.
/// Returns 0 or a negative libuv code.
int net_listener_addr(const net_listener_t *l, net_addr_t *out);

/// Stops accepting and frees the listener once libuv lets go of it. A unix
/// socket file the listener created is removed now, if it is still the
/// same file. Streams already accepted are not affected. Calling it again
/// before the loop runs is harmless; l may be NULL.
void net_listener_close(net_listener_t *l);

/// Starts connecting to `addr` (TCP or UNIX) and sets *out to the new
/// stream; cb->on_connect reports the outcome. TCP resolves the host
/// without blocking the loop and tries each of its addresses in turn, with
/// TCP_NODELAY. Writes, read_start and shutdown may be called at once;
/// they take effect on connecting. Copies *cb. Returns 0, or a negative
/// libuv code with a message in err[0..errlen) (err may be NULL), *out
/// NULL and no callback to come.
int net_connect(uv_loop_t *loop, const net_addr_t *addr,
                const net_stream_cb_t *cb, void *data, net_stream_t **out,
                char *err, size_t errlen);

/// Makes the process's stdin and stdout one stream (for hilt run as a
/// child process). The stream takes duplicates of fds 0 and 1, then points
/// fd 0 at /dev/null and fd 1 at stderr: stray prints cannot corrupt the
/// stream, nothing else competes for its input, and the peer sees EOF when
/// the stream shuts down or closes. Pipes, sockets and terminals work; a
/// regular file fails. Copies *cb. Returns 0, or a negative libuv code
/// with a message in err[0..errlen) (err may be NULL), fds 0 and 1
/// untouched and *out NULL.
int net_stream_stdio(uv_loop_t *loop, const net_stream_cb_t *cb, void *data,
                     net_stream_t **out, char *err, size_t errlen);

/// Adopts `fd`, a connected socket or a pipe that this process made (one
/// end of a socketpair given to a child process, say), as a stream: it is
/// made non-blocking and opened as a libuv pipe. On success the stream owns
/// fd and closes it; on failure fd is left to the caller. A pipe that goes
/// one way only fails the other way (writing to a read end ends the
/// stream), and shutting one down fails: use a socket where the peer must
/// see EOF while this side still reads. Copies *cb (cb may be NULL).
/// Returns 0, or a negative libuv code with a message in err[0..errlen)
/// (err may be NULL) and *out NULL.
int net_stream_open_fd(uv_loop_t *loop, int fd, const net_stream_cb_t *cb,
                       void *data, net_stream_t **out, char *err,
                       size_t errlen);

/// Two streams connected to each other in this process: the two ends of a
/// socketpair(AF_UNIX, SOCK_STREAM), each opened as a libuv pipe, so they
/// behave exactly as a unix socket connection does. Copies *cb_a and
/// *cb_b (either may be NULL). Returns 0 or a negative libuv code (and
/// *a, *b NULL).
int net_stream_pair(uv_loop_t *loop, const net_stream_cb_t *cb_a,
                    void *data_a, const net_stream_cb_t *cb_b, void *data_b,
                    net_stream_t **a, net_stream_t **b);

/// Replaces the callbacks and their data (cb NULL: none). For accepted
/// streams, and for handing a stream to a new owner.
void net_stream_set_cb(net_stream_t *s, const net_stream_cb_t *cb,
                       void *data);

/// Starts or stops delivering on_read (for backpressure). Returns 0, or
/// UV_EBADF once closed. Starting after on_end, or stopping when not
/// reading, does nothing.
int net_stream_read_start(net_stream_t *s);
int net_stream_read_stop(net_stream_t *s);

/// Writes p[0..n), copying whatever the socket does not take at once.
/// Returns 0, or a negative libuv code: UV_EPIPE after
/// net_stream_shutdown, UV_EBADF after net_stream_close, UV_ENOMEM, or
/// the error that already ended the stream (a failed connect's, a read or
/// write error's). A write that fails at once returns its error; one
/// that fails after queueing ends the stream through on_end.
int net_stream_write(net_stream_t *s, const char *p, size_t n);

/// Bytes accepted by net_stream_write and not yet handed to the kernel.
size_t net_stream_write_queued(const net_stream_t *s);

/// Half-closes: once the queue has drained, the peer sees EOF; this side
/// can still read. Returns 0, or UV_EBADF once closed. Idempotent.
int net_stream_shutdown(net_stream_t *s);

/// Closes the stream: queued writes are dropped, no callback but on_close
/// follows, and on_close comes from the loop once libuv lets go of the
/// handles. Idempotent until on_close; s may be NULL.
void net_stream_close(net_stream_t *s);

/// Whether the stream's handles keep the loop running (they do at first,
/// as libuv handles do). Writes in flight keep it running either way.
void net_stream_ref(net_stream_t *s, int keep);

/// The descriptor the stream reads from, for socket options it does not
/// set. The stream keeps ownership. Returns 0 or a negative libuv code.
int net_stream_fileno(const net_stream_t *s, int *fd);

#endif
