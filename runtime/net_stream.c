// Byte streams over libuv (see net_stream.h).
//
// A stream owns one or two libuv handles, each allocated on its own and
// freed in its close callback: one for sockets and pairs; for stdio, one
// to read fd 0 and one to write fd 1. A connection attempt that fails
// leaves a socket that cannot connect again, so net_connect replaces the
// handle for each address it tries. The stream itself is freed when its
// last handle has closed and no name resolution is in flight (`refs`).
#include "net_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

// A drained write buffer larger than this is given back.
#define WBUF_KEEP (256 * 1024)
#define WBUF_MIN 4096

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

struct net_listener {
  net_handle_t h;
  net_accept_cb on_accept;
  void *data;
  net_addr_kind_t kind;
  int closing;
  int own_path;            // this listener created `path`
  dev_t dev;               // ... and it was this file
  ino_t ino;
  char path[NET_ADDR_PATH_MAX];
};

static int stream_flush(net_stream_t *s);

// Writes a message into err[0..n) if err is not NULL; returns code.
static int fail(char *err, size_t n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t n, int code, const char *fmt, ...)
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

static net_stream_t *stream_new(uv_loop_t *loop, const net_stream_cb_t *cb,
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

static void stream_unref(net_stream_t *s)
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
  stream_unref(s);
}

static void handle_close(net_handle_t *h)
{
  uv_close(&h->handle, handle_close_cb);
}

// A new TCP or pipe handle for s, counted in s->refs.
static net_handle_t *handle_new(net_stream_t *s, uv_handle_type type)
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
static void stream_abandon(net_stream_t *s)
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
    handle_close(s->out);
  }
  if (s->in != NULL) {
    handle_close(s->in);
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

int net_stream_read_start(net_stream_t *s)
{
  if (s->closing) {
    return UV_EBADF;
  }
  s->reading = 1;
  if (s->connecting || s->ended) {
    return 0;
  }
  int rc = uv_read_start(&s->in->stream, alloc_cb, read_cb);
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
  handle_close(s->out);
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
  int rc = stream_flush(s);
  if (rc < 0) {
    stream_fail(s, rc);
  } else if (!s->writing && s->cb.on_drain != NULL) {
    s->cb.on_drain(s, s->data);
  }
}

// Hands the queue to libuv unless a write is in flight; the queue fills
// again meanwhile, so at most two buffers exist. Once the queue is empty,
// starts a shutdown that was asked for.
static int stream_flush(net_stream_t *s)
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
  return rc != 0 ? rc : stream_flush(s);
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
  return stream_flush(s);
}

int net_stream_fileno(const net_stream_t *s, int *fd)
{
  if (s->closing) {
    return UV_EBADF;
  }
  return uv_fileno(&s->in->handle, fd);
}

/* ---- Connecting -------------------------------------------------------- */

static void connect_fail(net_stream_t *s, int status, const char *verb)
{
  char name[NET_ADDR_STRLEN], msg[NET_ERR_MAX];
  net_addr_format(&s->addr, name, sizeof name);
  int k = snprintf(msg, sizeof msg, "cannot %s %s: %s", verb, name,
                   uv_strerror(status));
  // Name what was tried when it is not what the user wrote.
  if (k > 0 && (size_t)k < sizeof msg && s->tried[0] != '\0' &&
      (s->tries > 1 || strcmp(s->tried, s->addr.host) != 0)) {
    snprintf(msg + k, sizeof msg - (size_t)k, " (tried %s)", s->tried);
  }
  uv_freeaddrinfo(s->ai);
  s->ai = s->ai_next = NULL;
  s->connecting = 0;
  s->ended = 1;
  s->err = status;
  s->pending.len = 0;
  if (s->cb.on_connect != NULL) {
    s->cb.on_connect(s, status, msg, s->data);
  }
}

static void connect_done(net_stream_t *s)
{
  uv_freeaddrinfo(s->ai);
  s->ai = s->ai_next = NULL;
  s->connecting = 0;
  if (s->addr.kind == NET_ADDR_TCP) {
    uv_tcp_nodelay(&s->in->tcp, 1);
  }
  int rc = s->reading ? uv_read_start(&s->in->stream, alloc_cb, read_cb) : 0;
  if (rc == 0) {
    rc = stream_flush(s);
  }
  if (rc < 0) {
    connect_fail(s, rc, "connect to");
  } else if (s->cb.on_connect != NULL) {
    s->cb.on_connect(s, 0, NULL, s->data);
  }
}

static void note_tried(net_stream_t *s, const struct sockaddr *sa)
{
  char ip[64];
  size_t len = strlen(s->tried);
  if (uv_ip_name(sa, ip, sizeof ip) != 0) {
    return;
  }
  snprintf(s->tried + len, sizeof s->tried - len, "%s%s",
           len > 0 ? ", " : "", ip);
}

static void connect_cb(uv_connect_t *req, int status);

// Tries the next resolved address, each on a fresh handle.
static void connect_next(net_stream_t *s)
{
  while (s->ai_next != NULL) {
    struct addrinfo *ai = s->ai_next;
    s->ai_next = ai->ai_next;
    if (s->tries > 0) {
      net_handle_t *h = handle_new(s, UV_TCP);
      if (h == NULL) {
        connect_fail(s, UV_ENOMEM, "connect to");
        return;
      }
      handle_close(s->in);
      s->in = s->out = h;
    }
    s->tries++;
    note_tried(s, ai->ai_addr);
    int rc = uv_tcp_connect(&s->creq, &s->in->tcp, ai->ai_addr, connect_cb);
    if (rc == 0) {
      return;
    }
    s->connect_err = rc;
  }
  connect_fail(s, s->connect_err, "connect to");
}

static void connect_cb(uv_connect_t *req, int status)
{
  net_stream_t *s = STREAM_OF(req, creq);
  if (s->closing) {
    return;
  }
  if (status < 0) {
    s->connect_err = status;
    connect_next(s);
  } else {
    connect_done(s);
  }
}

static void resolve_cb(uv_getaddrinfo_t *req, int status,
                       struct addrinfo *res)
{
  net_stream_t *s = STREAM_OF(req, gai);
  s->resolving = 0;
  s->ai = res;
  if (s->closing) {
    stream_unref(s);
    return;
  }
  s->refs--; // the handle still holds the stream
  if (status < 0) {
    connect_fail(s, status, "resolve");
    return;
  }
  s->ai_next = res;
  connect_next(s);
}

static int connect_start(net_stream_t *s)
{
  if (s->addr.kind == NET_ADDR_UNIX) {
    uv_pipe_connect(&s->creq, &s->in->pipe, s->addr.path, connect_cb);
    return 0;
  }
  struct addrinfo hints;
  char port[16];
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  snprintf(port, sizeof port, "%d", s->addr.port);
  int rc = uv_getaddrinfo(s->loop, &s->gai, resolve_cb, s->addr.host, port,
                          &hints);
  if (rc == 0) {
    s->resolving = 1;
    s->refs++;
  }
  return rc;
}

// Checks what libuv would not: an address made by hand rather than parsed.
static int connect_check(const net_addr_t *addr, const char *name,
                         char *err, size_t n)
{
  if (addr->kind == NET_ADDR_TCP && addr->host[0] == '\0') {
    return fail(err, n, UV_EINVAL,
                "cannot connect to %s: no host (':port' is for listening)",
                name);
  }
  if (addr->kind == NET_ADDR_TCP && (addr->port < 1 || addr->port > 65535)) {
    return fail(err, n, UV_EINVAL,
                "cannot connect to %s: port must be 1..65535", name);
  }
  if (addr->kind == NET_ADDR_UNIX &&
      (addr->path[0] == '\0' ||
       memchr(addr->path, '\0', NET_ADDR_PATH_MAX) == NULL)) {
    return fail(err, n, UV_EINVAL, "cannot connect to %s: bad path", name);
  }
  if (addr->kind != NET_ADDR_TCP && addr->kind != NET_ADDR_UNIX) {
    return fail(err, n, UV_EINVAL,
                "cannot connect to %s: only tcp and unix addresses connect",
                name);
  }
  return 0;
}

int net_connect(uv_loop_t *loop, const net_addr_t *addr,
                const net_stream_cb_t *cb, void *data, net_stream_t **out,
                char *err, size_t errlen)
{
  char name[NET_ADDR_STRLEN];
  *out = NULL;
  net_addr_format(addr, name, sizeof name);
  int rc = connect_check(addr, name, err, errlen);
  if (rc != 0) {
    return rc;
  }
  net_stream_t *s = stream_new(loop, cb, data);
  if (s == NULL) {
    return fail(err, errlen, UV_ENOMEM, "cannot connect to %s: %s", name,
                uv_strerror(UV_ENOMEM));
  }
  s->addr = *addr;
  s->connecting = 1;
  s->in = s->out = handle_new(s, addr->kind == NET_ADDR_TCP ? UV_TCP
                                                            : UV_NAMED_PIPE);
  rc = s->in != NULL ? connect_start(s) : UV_ENOMEM;
  if (rc != 0) {
    stream_abandon(s);
    return fail(err, errlen, rc, "cannot connect to %s: %s", name,
                uv_strerror(rc));
  }
  *out = s;
  return 0;
}

/* ---- Listening --------------------------------------------------------- */

// What net_listen was asked, for the helpers below.
typedef struct {
  uv_loop_t *loop;
  const net_addr_t *addr;
  net_accept_cb on_accept;
  void *data;
  char *err;
  size_t errlen;
  char name[NET_ADDR_STRLEN];
} listen_req_t;

static void listener_close_cb(uv_handle_t *h)
{
  free(h->data);
}

// Frees a listener that never reached its owner.
static void listener_drop(net_listener_t *l)
{
  uv_close(&l->h.handle, listener_close_cb);
}

// A stream for the connection waiting on l, with no callbacks yet.
static int listener_accept(net_listener_t *l, net_stream_t **out)
{
  net_stream_t *s = stream_new(l->h.handle.loop, NULL, NULL);
  if (s == NULL) {
    return UV_ENOMEM;
  }
  s->in = s->out =
      handle_new(s, l->kind == NET_ADDR_TCP ? UV_TCP : UV_NAMED_PIPE);
  int rc = s->in != NULL ? uv_accept(&l->h.stream, &s->in->stream)
                         : UV_ENOMEM;
  if (rc != 0) {
    stream_abandon(s);
    return rc;
  }
  if (l->kind == NET_ADDR_TCP) {
    uv_tcp_nodelay(&s->in->tcp, 1);
  }
  *out = s;
  return 0;
}

static void connection_cb(uv_stream_t *server, int status)
{
  net_listener_t *l = server->data;
  net_stream_t *s = NULL;
  if (status == 0) {
    status = listener_accept(l, &s);
  }
  l->on_accept(l, s, status, l->data);
}

static net_listener_t *listener_new(const listen_req_t *q)
{
  net_listener_t *l = calloc(1, sizeof *l);
  if (l == NULL) {
    return NULL;
  }
  int rc = q->addr->kind == NET_ADDR_TCP ? uv_tcp_init(q->loop, &l->h.tcp)
                                         : uv_pipe_init(q->loop, &l->h.pipe, 0);
  if (rc != 0) {
    free(l);
    return NULL;
  }
  l->h.handle.data = l;
  l->kind = q->addr->kind;
  l->on_accept = q->on_accept;
  l->data = q->data;
  return l;
}

static int listen_tcp_one(const listen_req_t *q, const struct sockaddr *sa,
                          net_listener_t **out)
{
  net_listener_t *l = listener_new(q);
  if (l == NULL) {
    return UV_ENOMEM;
  }
  int rc = uv_tcp_bind(&l->h.tcp, sa, 0);
  if (rc == 0) {
    rc = uv_listen(&l->h.stream, SOMAXCONN, connection_cb);
  }
  if (rc != 0) {
    listener_drop(l);
    return rc;
  }
  *out = l;
  return 0;
}

// "" (every interface) tries "::" first: libuv binds it with IPv4 mapped
// in, so one listener serves both; 0.0.0.0 is for hosts without IPv6.
static int listen_tcp(const listen_req_t *q, net_listener_t **out)
{
  const char *host = q->addr->host[0] != '\0' ? q->addr->host : NULL;
  struct addrinfo hints;
  uv_getaddrinfo_t req;
  char port[16];
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  snprintf(port, sizeof port, "%d", q->addr->port);
  int rc = uv_getaddrinfo(q->loop, &req, NULL, host, port, &hints);
  if (rc != 0) {
    return fail(q->err, q->errlen, rc, "cannot resolve %s: %s", q->name,
                uv_strerror(rc));
  }
  for (int pass = 0; pass < 2 && *out == NULL; pass++) {
    for (struct addrinfo *ai = req.addrinfo; ai != NULL && *out == NULL;
         ai = ai->ai_next) {
      int first = host != NULL || ai->ai_family == AF_INET6;
      if (first == (pass == 0)) {
        rc = listen_tcp_one(q, ai->ai_addr, out);
      }
    }
  }
  uv_freeaddrinfo(req.addrinfo);
  if (*out == NULL) {
    return fail(q->err, q->errlen, rc, "cannot listen on %s: %s", q->name,
                uv_strerror(rc));
  }
  return 0;
}

// Whether anything answers on the unix socket at `path`: 0 or UV_EAGAIN
// (a full backlog) when something does, UV_ECONNREFUSED when nothing
// does. The socket does not block, so a busy listener cannot stall us.
static int unix_probe(const char *path)
{
  struct sockaddr_un sa;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return uv_translate_sys_error(errno);
  }
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  rc = rc == 0 ? 0 : uv_translate_sys_error(errno);
  close(fd);
  return rc;
}

// Removes a socket file left by a listener that is gone. A path where
// something answers, or that is not a socket, is left alone.
static int unix_clear_stale(const listen_req_t *q)
{
  const char *path = q->addr->path;
  struct stat st;
  if (lstat(path, &st) != 0) {
    int rc = uv_translate_sys_error(errno);
    return rc == UV_ENOENT ? 0 : fail(q->err, q->errlen, rc,
                                      "cannot listen on %s: %s", q->name,
                                      uv_strerror(rc));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return fail(q->err, q->errlen, UV_EEXIST,
                "cannot listen on %s: the path exists and is not a socket",
                q->name);
  }
  int rc = unix_probe(path);
  if (rc == 0 || rc == UV_EAGAIN) {
    return fail(q->err, q->errlen, UV_EADDRINUSE,
                "cannot listen on %s: another process is listening there",
                q->name);
  }
  if (rc == UV_ECONNREFUSED) {
    rc = unlink(path) == 0 ? 0 : uv_translate_sys_error(errno);
  }
  if (rc == 0 || rc == UV_ENOENT) {
    return 0;
  }
  return fail(q->err, q->errlen, rc, "cannot listen on %s: %s", q->name,
              uv_strerror(rc));
}

// Binds, makes the file private, listens. Nobody can connect between bind
// and listen, so setting the mode in between leaves no window open.
static int listen_unix_bind(net_listener_t *l, const char *path)
{
  struct stat st;
  int rc = uv_pipe_bind(&l->h.pipe, path);
  if (rc != 0) {
    return rc;
  }
  l->own_path = 1;
  if (chmod(path, 0600) != 0 || lstat(path, &st) != 0) {
    return uv_translate_sys_error(errno);
  }
  l->dev = st.st_dev;
  l->ino = st.st_ino;
  return uv_listen(&l->h.stream, SOMAXCONN, connection_cb);
}

static int listen_unix(const listen_req_t *q, net_listener_t **out)
{
  const char *path = q->addr->path;
  size_t len = strnlen(path, NET_ADDR_PATH_MAX);
  if (len == 0 || len == NET_ADDR_PATH_MAX) {
    return fail(q->err, q->errlen, UV_EINVAL, "cannot listen on %s: bad path",
                q->name);
  }
  int rc = unix_clear_stale(q);
  if (rc != 0) {
    return rc;
  }
  net_listener_t *l = listener_new(q);
  if (l == NULL) {
    return fail(q->err, q->errlen, UV_ENOMEM, "cannot listen on %s: %s",
                q->name, uv_strerror(UV_ENOMEM));
  }
  memcpy(l->path, path, len + 1);
  rc = listen_unix_bind(l, path);
  if (rc != 0) {
    if (l->own_path) {
      unlink(path);
    }
    listener_drop(l);
    return fail(q->err, q->errlen, rc, "cannot listen on %s: %s", q->name,
                uv_strerror(rc));
  }
  *out = l;
  return 0;
}

int net_listen(uv_loop_t *loop, const net_addr_t *addr,
               net_accept_cb on_accept, void *data, net_listener_t **out,
               char *err, size_t errlen)
{
  listen_req_t q = {loop, addr, on_accept, data, err, errlen, {0}};
  *out = NULL;
  net_addr_format(addr, q.name, sizeof q.name);
  if (addr->kind == NET_ADDR_TCP) {
    if (addr->port < 0 || addr->port > 65535) {
      return fail(err, errlen, UV_EINVAL,
                  "cannot listen on %s: port must be 0..65535", q.name);
    }
    return listen_tcp(&q, out);
  }
  if (addr->kind == NET_ADDR_UNIX) {
    return listen_unix(&q, out);
  }
  return fail(err, errlen, UV_EINVAL,
              "cannot listen on %s: only tcp and unix addresses listen",
              q.name);
}

int net_listener_addr(const net_listener_t *l, net_addr_t *out)
{
  struct sockaddr_storage ss;
  int len = sizeof ss;
  memset(out, 0, sizeof *out);
  out->kind = l->kind;
  if (l->kind == NET_ADDR_UNIX) {
    memcpy(out->path, l->path, sizeof out->path);
    return 0;
  }
  int rc = uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&ss, &len);
  if (rc == 0) {
    rc = uv_ip_name((struct sockaddr *)&ss, out->host, sizeof out->host);
  }
  if (rc == 0) {
    out->port = ss.ss_family == AF_INET6
                    ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  }
  return rc;
}

void net_listener_close(net_listener_t *l)
{
  struct stat st;
  if (l == NULL || l->closing) {
    return;
  }
  l->closing = 1;
  // Another listener may have replaced the file since (after finding
  // this one gone); only the file this listener made is removed.
  if (l->own_path && lstat(l->path, &st) == 0 && st.st_dev == l->dev &&
      st.st_ino == l->ino) {
    unlink(l->path);
  }
  uv_close(&l->h.handle, listener_close_cb);
}

/* ---- stdio and pairs --------------------------------------------------- */

// Opens `fd` as a handle of the kind it is; on success the handle owns it.
static int stdio_open(net_stream_t *s, int fd, net_handle_t **out)
{
  uv_handle_type type = uv_guess_handle(fd);
  net_handle_t *h = malloc(sizeof *h);
  if (h == NULL) {
    return UV_ENOMEM;
  }
  int rc = type == UV_TTY   ? uv_tty_init(s->loop, &h->tty, fd, 0)
           : type == UV_TCP ? uv_tcp_init(s->loop, &h->tcp)
                            : uv_pipe_init(s->loop, &h->pipe, 0);
  if (rc != 0) {
    free(h);
    return rc;
  }
  h->handle.data = s;
  s->refs++;
  if (type == UV_TCP) {
    rc = uv_tcp_open(&h->tcp, fd);
  } else if (type != UV_TTY) {
    rc = uv_pipe_open(&h->pipe, fd);
  }
  if (rc != 0) {
    handle_close(h);
    return rc;
  }
  *out = h;
  return 0;
}

static int stdio_check(int fd, const char *what, char *err, size_t n)
{
  uv_handle_type type = uv_guess_handle(fd);
  if (type == UV_TTY || type == UV_NAMED_PIPE || type == UV_TCP) {
    return 0;
  }
  return fail(err, n, UV_EINVAL,
              "cannot use stdio: %s is %s, not a pipe, socket or terminal",
              what, type == UV_FILE ? "a file or device" : "of unknown kind");
}

// Points fds 0 and 1 away from the peer (see net_stream_stdio).
static void stdio_redirect(void)
{
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
  }
  if (dup2(2, 1) < 0 && null >= 0) {
    dup2(null, 1);
  }
  if (null > 2) {
    close(null);
  }
}

int net_stream_stdio(uv_loop_t *loop, const net_stream_cb_t *cb, void *data,
                     net_stream_t **out, char *err, size_t errlen)
{
  *out = NULL;
  int rc = stdio_check(0, "stdin", err, errlen);
  if (rc == 0) {
    rc = stdio_check(1, "stdout", err, errlen);
  }
  if (rc != 0) {
    return rc;
  }
  net_stream_t *s = stream_new(loop, cb, data);
  if (s == NULL) {
    return fail(err, errlen, UV_ENOMEM, "cannot use stdio: %s",
                uv_strerror(UV_ENOMEM));
  }
  int fd0 = fcntl(0, F_DUPFD_CLOEXEC, 3);
  int fd1 = fd0 < 0 ? -1 : fcntl(1, F_DUPFD_CLOEXEC, 3);
  rc = fd1 < 0 ? uv_translate_sys_error(errno) : stdio_open(s, fd0, &s->in);
  if (rc == 0) {
    fd0 = -1;
    rc = stdio_open(s, fd1, &s->out);
  }
  if (rc != 0) {
    if (fd0 >= 0) {
      close(fd0);
    }
    if (fd1 >= 0) {
      close(fd1);
    }
    stream_abandon(s);
    return fail(err, errlen, rc, "cannot use stdio: %s", uv_strerror(rc));
  }
  stdio_redirect();
  *out = s;
  return 0;
}

// One end of a pair: a stream on `fd`, which it owns on success only.
static int pair_end(uv_loop_t *loop, const net_stream_cb_t *cb, void *data,
                    int fd, net_stream_t **out)
{
  net_stream_t *s = stream_new(loop, cb, data);
  if (s == NULL) {
    return UV_ENOMEM;
  }
  s->in = s->out = handle_new(s, UV_NAMED_PIPE);
  int rc = s->in != NULL ? uv_pipe_open(&s->in->pipe, fd) : UV_ENOMEM;
  if (rc != 0) {
    stream_abandon(s);
    return rc;
  }
  *out = s;
  return 0;
}

int net_stream_pair(uv_loop_t *loop, const net_stream_cb_t *cb_a,
                    void *data_a, const net_stream_cb_t *cb_b, void *data_b,
                    net_stream_t **a, net_stream_t **b)
{
  int fds[2];
  *a = *b = NULL;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return uv_translate_sys_error(errno);
  }
  int rc = pair_end(loop, cb_a, data_a, fds[0], a);
  if (rc != 0) {
    close(fds[0]);
    close(fds[1]);
    return rc;
  }
  rc = pair_end(loop, cb_b, data_b, fds[1], b);
  if (rc != 0) {
    close(fds[1]);
    stream_abandon(*a);
    *a = NULL;
  }
  return rc;
}
