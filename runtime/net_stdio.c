// The process's stdin and stdout as one byte stream, streams on a
// descriptor given to us, and pairs of connected streams in one process
// (see net_stream.h).
#include "net_stream_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

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
    net__handle_close(h);
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
  return net__fail(err, n, UV_EINVAL,
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
  net_stream_t *s = net__stream_new(loop, cb, data);
  if (s == NULL) {
    return net__fail(err, errlen, UV_ENOMEM, "cannot use stdio: %s",
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
    net__stream_abandon(s);
    return net__fail(err, errlen, rc, "cannot use stdio: %s", uv_strerror(rc));
  }
  stdio_redirect();
  *out = s;
  return 0;
}

int net_stream_open_fd(uv_loop_t *loop, int fd, const net_stream_cb_t *cb,
                      void *data, net_stream_t **out, char *err,
                      size_t errlen)
{
  *out = NULL;
  net_stream_t *s = net__stream_new(loop, cb, data);
  if (s == NULL) {
    return net__fail(err, errlen, UV_ENOMEM, "cannot open fd %d: %s", fd,
                     uv_strerror(UV_ENOMEM));
  }
  s->in = s->out = net__handle_new(s, UV_NAMED_PIPE);
  int rc = s->in != NULL ? uv_pipe_open(&s->in->pipe, fd) : UV_ENOMEM;
  if (rc != 0) {
    net__stream_abandon(s);
    return net__fail(err, errlen, rc, "cannot open fd %d: %s", fd,
                     uv_strerror(rc));
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
  int rc = net_stream_open_fd(loop, fds[0], cb_a, data_a, a, NULL, 0);
  if (rc != 0) {
    close(fds[0]);
    close(fds[1]);
    return rc;
  }
  rc = net_stream_open_fd(loop, fds[1], cb_b, data_b, b, NULL, 0);
  if (rc != 0) {
    close(fds[1]);
    net__stream_abandon(*a);
    *a = NULL;
  }
  return rc;
}
