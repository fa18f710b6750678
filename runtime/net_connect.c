// Connecting a byte stream (see net_stream.h). A connection attempt that
// fails leaves a socket that cannot connect again, so each address tried
// gets a fresh handle.
#include "net_stream_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
  int rc = s->reading ? net__stream_read_begin(s) : 0;
  if (rc == 0) {
    rc = net__stream_flush(s);
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
      net_handle_t *h = net__handle_new(s, UV_TCP);
      if (h == NULL) {
        connect_fail(s, UV_ENOMEM, "connect to");
        return;
      }
      net__handle_close(s->in);
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
    net__stream_unref(s);
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
    return net__fail(err, n, UV_EINVAL,
                "cannot connect to %s: no host (':port' is for listening)",
                name);
  }
  if (addr->kind == NET_ADDR_TCP && (addr->port < 1 || addr->port > 65535)) {
    return net__fail(err, n, UV_EINVAL,
                "cannot connect to %s: port must be 1..65535", name);
  }
  if (addr->kind == NET_ADDR_UNIX &&
      (addr->path[0] == '\0' ||
       memchr(addr->path, '\0', NET_ADDR_PATH_MAX) == NULL)) {
    return net__fail(err, n, UV_EINVAL, "cannot connect to %s: bad path", name);
  }
  if (addr->kind != NET_ADDR_TCP && addr->kind != NET_ADDR_UNIX) {
    return net__fail(err, n, UV_EINVAL,
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
  net_stream_t *s = net__stream_new(loop, cb, data);
  if (s == NULL) {
    return net__fail(err, errlen, UV_ENOMEM, "cannot connect to %s: %s", name,
                uv_strerror(UV_ENOMEM));
  }
  s->addr = *addr;
  s->connecting = 1;
  s->in = s->out = net__handle_new(s, addr->kind == NET_ADDR_TCP ? UV_TCP
                                                            : UV_NAMED_PIPE);
  rc = s->in != NULL ? connect_start(s) : UV_ENOMEM;
  if (rc != 0) {
    net__stream_abandon(s);
    return net__fail(err, errlen, rc, "cannot connect to %s: %s", name,
                uv_strerror(rc));
  }
  *out = s;
  return 0;
}
