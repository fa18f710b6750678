// Byte streams over libuv (see net_stream.h): a stream's lifetime, reading
// and writing. Connecting, listening, stdio and pairs are in net_connect.c,
// net_listen.c and net_stdio.c.
//
// A stream owns one or two libuv handles, each allocated on its own and
// freed in its close callback: one for sockets and pairs; for stdio, one
// to read fd 0 and one to write fd 1. The stream itself is freed when its
// last handle has closed and no name resolution is in flight (`refs`).
#include "net_stream_int.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

// A drained write buffer larger than this is given back.
#define WBUF_KEEP (1024 * 1024)
#define WBUF_MIN 4096

int net__fail(char *err, size_t n, int code, const char *fmt, ...)
{
  if (err != NULL && n > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* ---- Lifetime ---------------------------------------------------------- */

net_stream_t *net__stream_new(uv_loop_t *loop, const net_stream_cb_t *cb,
                                void *data)
{
  net_stream_t *s = malloc(sizeof *s);
  if (s == NULL) {
    return NULL;
  }
  memset(s, 0, offsetof(net_stream_t, rbuf));
  s->loop = loop;
  net_stream_set_cb(s, cb, data);
  return s;
}

void net__stream_unref(net_stream_t *s)
{
  if (--s->refs > 0) {
    return;
  }
  if (s->cb.on_close != NULL) {
    s->cb.on_close(s, s->data);
  }
  uv_freeaddrinfo(s->ai);
  free(s->pending.p);
  free(s->sending.p);
  free(s);
}

static void handle_close_cb(uv_handle_t *h)
{
  net_stream_t *s = h->data;
  free(h);
  net__stream_unref(s);
}

void net__handle_close(net_handle_t *h)
{
  uv_close(&h->handle, handle_close_cb);
}

// A new TCP or pipe handle for s, counted in s->refs.
net_handle_t *net__handle_new(net_stream_t *s, uv_handle_type type)
{
  net_handle_t *h = malloc(sizeof *h);
  if (h == NULL) {
    return NULL;
  }
  int rc = type == UV_TCP ? uv_tcp_init(s->loop, &h->tcp)
                          : uv_pipe_init(s->loop, &h->pipe, 0);
  if (rc != 0) {
    free(h);
    return NULL;
  }
  h->handle.data = s;
  s->refs++;
  return h;
}

// Disposes of a stream its maker could not finish: no callback follows.
void net__stream_abandon(net_stream_t *s)
{
  memset(&s->cb, 0, sizeof s->cb);
  if (s->refs == 0) {
    free(s);
    return;
  }
  net_stream_close(s);
}

void net_stream_set_cb(net_stream_t *s, const net_stream_cb_t *cb,
                       void *data)
{
  if (cb != NULL) {
    s->cb = *cb;
  } else {
    memset(&s->cb, 0, sizeof s->cb);
  }
  s->data = data;
}

void net_stream_close(net_stream_t *s)
{
  if (s == NULL || s->closing) {
    return;
  }
  s->closing = 1;
  // A cancelled resolution still calls back (with UV_ECANCELED), and the
  // stream lives until it has; one already running just finishes.
  if (s->resolving) {
    uv_cancel((uv_req_t *)&s->gai);
  }
  if (s->out != NULL && s->out != s->in) {
    net__handle_close(s->out);
  }
  if (s->in != NULL) {
    net__handle_close(s->in);
  }
}

/* ---- Reading ----------------------------------------------------------- */

static void stream_end(net_stream_t *s, int status)
{
  if (s->ended || s->closing) {
    return;
  }
  s->ended = 1;
  uv_read_stop(&s->in->stream);
  if (s->cb.on_end != NULL) {
    s->cb.on_end(s, status, s->data);
  }
}

// An error ends the stream for writing too: what is queued cannot follow.
static void stream_fail(net_stream_t *s, int status)
{
  if (s->err == 0) {
    s->err = status;
  }
  s->pending.len = 0;
  stream_end(s, status);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  net_stream_t *s = h->data;
  *buf = uv_buf_init(s->rbuf, sizeof s->rbuf);
}

static void read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
  net_stream_t *s = h->data;
  if (nread > 0) {
    if (s->cb.on_read != NULL) {
      s->cb.on_read(s, buf->base, (size_t)nread, s->data);
    }
  } else if (nread == UV_EOF) {
    stream_end(s, 0);
  } else if (nread < 0) {
    stream_fail(s, (int)nread);
  }
}

int net__stream_read_begin(net_stream_t *s)
{
  return uv_read_start(&s->in->stream, alloc_cb, read_cb);
}

int net_stream_read_start(net_stream_t *s)
{
  if (s->closing) {
    return UV_EBADF;
  }
  s->reading = 1;
  if (s->connecting || s->ended) {
    return 0;
  }
  int rc = net__stream_read_begin(s);
  return rc == UV_EALREADY ? 0 : rc;
}

int net_stream_read_stop(net_stream_t *s)
{
  if (s->closing) {
    return UV_EBADF;
  }
  s->reading = 0;
  if (s->connecting || s->ended) {
    return 0;
  }
  return uv_read_stop(&s->in->stream);
}

/* ---- Writing ----------------------------------------------------------- */

static int wbuf_append(wbuf_t *b, const char *p, size_t n)
{
  if (n > b->cap - b->len) {
    if (n > SIZE_MAX / 4 - b->len) {
      return UV_ENOMEM;
    }
    size_t cap = b->cap < WBUF_MIN ? WBUF_MIN : b->cap;
    while (cap < b->len + n) {
      cap *= 2;
    }
    char *q = realloc(b->p, cap);
    if (q == NULL) {
      return UV_ENOMEM;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
  net_stream_t *s = STREAM_OF(req, sreq);
  if (status < 0 && !s->closing) {
    stream_fail(s, status);
  }
}

static int stream_shutdown_now(net_stream_t *s)
{
  s->shut_started = 1;
  if (s->out == s->in) {
    return uv_shutdown(&s->sreq, &s->out->stream, shutdown_cb);
  }
  // stdio: the peer sees EOF once our copy of its pipe is closed (fd 1
  // itself points at stderr now). shutdown() covers a socket that stdin
  // shares, where closing one copy is not enough; on a pipe it fails
  // harmlessly.
  int fd;
  if (uv_fileno(&s->out->handle, &fd) == 0) {
    shutdown(fd, SHUT_WR);
  }
  net__handle_close(s->out);
  s->out = NULL;
  return 0;
}

static void write_cb(uv_write_t *req, int status)
{
  net_stream_t *s = STREAM_OF(req, wreq);
  s->writing = 0;
  s->sending.len = 0;
  if (s->sending.cap > WBUF_KEEP) {
    free(s->sending.p);
    memset(&s->sending, 0, sizeof s->sending);
  }
  if (s->closing) {
    return;
  }
  if (status < 0) {
    stream_fail(s, status);
    return;
  }
  int rc = net__stream_flush(s);
  if (rc < 0) {
    stream_fail(s, rc);
  } else if (!s->writing && s->cb.on_drain != NULL) {
    s->cb.on_drain(s, s->data);
  }
}

// Hands the queue to libuv unless a write is in flight; the queue fills
// again meanwhile, so at most two buffers exist. Once the queue is empty,
// starts a shutdown that was asked for.
int net__stream_flush(net_stream_t *s)
{
  if (s->connecting || s->writing || s->closing || s->err != 0) {
    return 0;
  }
  if (s->pending.len == 0) {
    return s->shut && !s->shut_started ? stream_shutdown_now(s) : 0;
  }
  wbuf_t t = s->sending;
  s->sending = s->pending;
  s->pending = t;
  uv_buf_t buf = {.base = s->sending.p, .len = s->sending.len};
  int rc = uv_write(&s->wreq, &s->out->stream, &buf, 1, write_cb);
  if (rc < 0) {
    s->sending.len = 0;
    s->err = rc;
    return rc;
  }
  s->writing = 1;
  return 0;
}

int net_stream_write(net_stream_t *s, const char *p, size_t n)
{
  if (s->closing) {
    return UV_EBADF;
  }
  if (s->err != 0) {
    return s->err;
  }
  if (s->shut) {
    return UV_EPIPE;
  }
  if (n == 0) {
    return 0;
  }
  if (!s->connecting && !s->writing && s->pending.len == 0) {
    // uv_try_write counts in an int; a larger write goes in parts.
    uv_buf_t buf = {.base = (char *)p, .len = n < INT_MAX ? n : INT_MAX};
    int k = uv_try_write(&s->out->stream, &buf, 1);
    if (k < 0 && k != UV_EAGAIN) {
      s->err = k;
      return k;
    }
    if (k > 0) {
      p += k;
      n -= (size_t)k;
    }
    if (n == 0) {
      return 0;
    }
  }
  int rc = wbuf_append(&s->pending, p, n);
  return rc != 0 ? rc : net__stream_flush(s);
}

size_t net_stream_write_queued(const net_stream_t *s)
{
  size_t n = s->pending.len;
  if (s->writing) {
    n += uv_stream_get_write_queue_size(&s->out->stream);
  }
  return n;
}

int net_stream_shutdown(net_stream_t *s)
{
  if (s->closing) {
    return UV_EBADF;
  }
  if (s->shut) {
    return 0;
  }
  s->shut = 1;
  return net__stream_flush(s);
}

int net_stream_fileno(const net_stream_t *s, int *fd)
{
  if (s->closing) {
    return UV_EBADF;
  }
  return uv_fileno(&s->in->handle, fd);
}

void net_stream_ref(net_stream_t *s, int keep)
{
  net_handle_t *hs[2] = {s->in, s->out};
  for (int i = 0; i < 2; i++) {
    if (hs[i] == NULL || (i == 1 && hs[1] == hs[0])) {
      continue;
    }
    if (keep) {
      uv_ref(&hs[i]->handle);
    } else {
      uv_unref(&hs[i]->handle);
    }
  }
}
