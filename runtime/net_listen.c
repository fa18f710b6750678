// Listening for byte streams, on TCP and unix sockets (see net_stream.h).
#include "net_stream_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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
  net_stream_t *s = net__stream_new(l->h.handle.loop, NULL, NULL);
  if (s == NULL) {
    return UV_ENOMEM;
  }
  s->in = s->out =
      net__handle_new(s, l->kind == NET_ADDR_TCP ? UV_TCP : UV_NAMED_PIPE);
  int rc = s->in != NULL ? uv_accept(&l->h.stream, &s->in->stream)
                         : UV_ENOMEM;
  if (rc != 0) {
    net__stream_abandon(s);
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
    return net__fail(q->err, q->errlen, rc, "cannot resolve %s: %s", q->name,
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
    return net__fail(q->err, q->errlen, rc, "cannot listen on %s: %s", q->name,
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
    return rc == UV_ENOENT ? 0 : net__fail(q->err, q->errlen, rc,
                                      "cannot listen on %s: %s", q->name,
                                      uv_strerror(rc));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return net__fail(q->err, q->errlen, UV_EEXIST,
                "cannot listen on %s: the path exists and is not a socket",
                q->name);
  }
  int rc = unix_probe(path);
  if (rc == 0 || rc == UV_EAGAIN) {
    return net__fail(q->err, q->errlen, UV_EADDRINUSE,
                "cannot listen on %s: another process is listening there",
                q->name);
  }
  if (rc == UV_ECONNREFUSED) {
    rc = unlink(path) == 0 ? 0 : uv_translate_sys_error(errno);
  }
  if (rc == 0 || rc == UV_ENOENT) {
    return 0;
  }
  return net__fail(q->err, q->errlen, rc, "cannot listen on %s: %s", q->name,
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
    return net__fail(q->err, q->errlen, UV_EINVAL, "cannot listen on %s: bad path",
                q->name);
  }
  int rc = unix_clear_stale(q);
  if (rc != 0) {
    return rc;
  }
  net_listener_t *l = listener_new(q);
  if (l == NULL) {
    return net__fail(q->err, q->errlen, UV_ENOMEM, "cannot listen on %s: %s",
                q->name, uv_strerror(UV_ENOMEM));
  }
  memcpy(l->path, path, len + 1);
  rc = listen_unix_bind(l, path);
  if (rc != 0) {
    if (l->own_path) {
      unlink(path);
    }
    listener_drop(l);
    return net__fail(q->err, q->errlen, rc, "cannot listen on %s: %s", q->name,
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
      return net__fail(err, errlen, UV_EINVAL,
                  "cannot listen on %s: port must be 0..65535", q.name);
    }
    return listen_tcp(&q, out);
  }
  if (addr->kind == NET_ADDR_UNIX) {
    return listen_unix(&q, out);
  }
  return net__fail(err, errlen, UV_EINVAL,
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
