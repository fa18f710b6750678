// Serial ports (serial.h): opening a device through the backend that takes
// it, its settings, and the calls of serial.h over the backend's ops.
// serial_sp.c and serial_termios.c are the backends; serial_list.c lists
// and matches ports, serial_pty.c makes pseudo-terminals.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serial_int.h"

// How far (in percent) a baud rate a driver picks may be from the one
// asked for: about what a UART receiver tolerates.
#define BAUD_TOLERANCE 3

// Writes "serial <path>: <message>" into err[0..n) if err is not NULL;
// returns code.
static int fail(char *err, size_t n, int code, const char *path,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t n, int code, const char *path,
                const char *fmt, ...)
{
  if (err != NULL && n > 0) {
    int k = snprintf(err, n, "serial %s: ", path);
    if (k >= 0 && (size_t)k < n) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(err + k, n - (size_t)k, fmt, ap);
      va_end(ap);
    }
  }
  return code;
}

/* ---- Opening ----------------------------------------------------------- */

// The group that owns the device at path, for a permission message; ""
// if unknown or root's (joining which is no advice).
static const char *owner_group(const char *path, char *buf, size_t n)
{
  struct stat st;
  struct group g, *found = NULL;
  char scratch[4096];
  buf[0] = '\0';
  if (stat(path, &st) == 0 && st.st_gid != 0 &&
      getgrgid_r(st.st_gid, &g, scratch, sizeof scratch, &found) == 0 &&
      found != NULL) {
    snprintf(buf, n, "%s", g.gr_name);
  }
  return buf;
}

static int open_fail(const char *path, int rc, char *err, size_t n)
{
  char group[64];
  switch (rc) {
  case UV_EACCES:
  case UV_EPERM:
    if (*owner_group(path, group, sizeof group) != '\0') {
      return fail(err, n, rc, path,
                  "permission denied (the device belongs to group '%s': add "
                  "your user to it, then log in again)",
                  group);
    }
    break;
  case UV_ENOTTY:
    return fail(err, n, rc, path, "not a serial port (not a terminal "
                "device)");
  case UV_EBUSY:
    return fail(err, n, rc, path, "busy (another program has it open "
                "exclusively)");
  }
  return fail(err, n, rc, path, "%s", uv_strerror(rc));
}

// Opens p->path with libserialport if it takes the device, else termios.
static int open_device(serial_port_t *p)
{
  char real[PATH_MAX];
  if (realpath(p->path, real) == NULL) {
    return serial__errno();
  }
  int rc = serial__sp_open(p, real);
  if (rc == SERIAL_REFUSED) {
    rc = serial__termios_open(p);
  }
  if (rc == 0 && fcntl(p->fd, F_SETFD, FD_CLOEXEC) != 0) {
    rc = serial__errno();
    p->ops->close(p);
  }
  return rc;
}

int serial_open(const char *path, const serial_settings_t *s, int exclusive,
                serial_port_t **out, char *err, size_t errlen)
{
  *out = NULL;
  if (strlen(path) >= SERIAL_PATH_MAX) {
    char cut[72];
    snprintf(cut, sizeof cut, "%.64s...", path);
    return fail(err, errlen, UV_ENAMETOOLONG, cut, "%s",
                uv_strerror(UV_ENAMETOOLONG));
  }
  int rc = serial_settings_check(s, err, errlen);
  if (rc != 0) {
    return rc;
  }
  serial_port_t *p = calloc(1, sizeof *p);
  if (p == NULL) {
    return fail(err, errlen, UV_ENOMEM, path, "%s", uv_strerror(UV_ENOMEM));
  }
  p->fd = -1;
  snprintf(p->path, sizeof p->path, "%s", path);
  rc = open_device(p);
  if (rc != 0) {
    free(p);
    return open_fail(path, rc, err, errlen);
  }
  if (exclusive && ioctl(p->fd, TIOCEXCL) != 0) {
    rc = open_fail(path, serial__errno(), err, errlen);
  }
  if (rc == 0) {
    rc = serial_set(p, s, err, errlen);
  }
  if (rc != 0) {
    serial_close(p);
    return rc;
  }
  *out = p;
  return 0;
}

void serial_close(serial_port_t *p)
{
  if (p != NULL) {
    p->ops->close(p);
    free(p);
  }
}

const char *serial_path(const serial_port_t *p)
{
  return p->path;
}

const char *serial_backend(const serial_port_t *p)
{
  return p->ops->name;
}

int serial_is_pty(const serial_port_t *p)
{
  return p->pty;
}

int serial_stream_open(serial_port_t *p, uv_loop_t *loop,
                       const net_stream_cb_t *cb, void *data,
                       net_stream_t **out, char *err, size_t errlen)
{
  *out = NULL;
  int fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 3);
  int rc = fd < 0 ? serial__errno()
                  : net_stream_open_fd(loop, fd, cb, data, out, NULL, 0);
  if (rc != 0) {
    if (fd >= 0) {
      close(fd);
    }
    return fail(err, errlen, rc, p->path, "%s", uv_strerror(rc));
  }
  return 0;
}

/* ---- Settings ---------------------------------------------------------- */

// Fails unless the device runs at about `want` baud now; *got is the rate
// it runs at (0 if unknown).
static int check_baud(serial_port_t *p, int want, int *got)
{
  *got = 0;
  int rc = p->ops->get_baud(p, got);
  if (rc != 0) {
    return rc;
  }
  long long off = (long long)*got - want;
  if (*got <= 0 || llabs(off) * 100 > (long long)want * BAUD_TOLERANCE) {
    return UV_EINVAL;
  }
  return 0;
}

static int set_fail(serial_port_t *p, const serial_settings_t *s, int rc,
                    int got, char *err, size_t n)
{
  if (rc == UV_EINVAL && p->sp == NULL) {
    return fail(err, n, rc, p->path, "baud rate %d is not supported "
                "(termios has the standard rates only: 9600, 115200, "
                "921600, ...)", s->baud);
  }
  if (rc == UV_EINVAL && got > 0) {
    return fail(err, n, rc, p->path, "baud rate %d is not supported by "
                "this device (its driver chose %d)", s->baud, got);
  }
  if (rc == UV_EINVAL) {
    return fail(err, n, rc, p->path, "baud rate %d is not supported by "
                "this device", s->baud);
  }
  if (rc == UV_ENOTSUP) {
    return fail(err, n, rc, p->path, "flow control %s is not supported by "
                "this device", serial_flow_name(s->flow));
  }
  serial_describe(p, "settings", rc, err, n);
  return rc;
}

int serial_set(serial_port_t *p, const serial_settings_t *s, char *err,
               size_t errlen)
{
  int rc = serial_settings_check(s, err, errlen);
  if (rc != 0) {
    return rc;
  }
  int got = 0;
  rc = p->ops->configure(p, s);
  if (rc == 0) {
    rc = check_baud(p, s->baud, &got);
  }
  if (rc != 0) {
    if (p->settings.baud > 0) {
      p->ops->configure(p, &p->settings);  // best effort: back as it was
    }
    return set_fail(p, s, rc, got, err, errlen);
  }
  p->settings = *s;
  return 0;
}

void serial_get(const serial_port_t *p, serial_settings_t *out)
{
  *out = p->settings;
}

/* ---- Lines, break, flush ----------------------------------------------- */

int serial_set_dtr(serial_port_t *p, int on)
{
  return p->ops->set_line(p, TIOCM_DTR, on);
}

int serial_set_rts(serial_port_t *p, int on)
{
  return p->ops->set_line(p, TIOCM_RTS, on);
}

int serial_get_lines(serial_port_t *p, serial_lines_t *out)
{
  memset(out, 0, sizeof *out);
  return p->ops->get_lines(p, out);
}

int serial_break(serial_port_t *p, int on)
{
  return p->ops->brk(p, on);
}

int serial_flush(serial_port_t *p, serial_flush_t which)
{
  return p->ops->flush(p, which);
}

int serial_output_waiting(serial_port_t *p, size_t *n)
{
  *n = 0;
  return p->ops->output_waiting(p, n);
}

const char *serial_describe(const serial_port_t *p, const char *op,
                            int status, char *out, size_t n)
{
  int unsupported = status == UV_ENOTTY || status == UV_ENOTSUP;
  if (serial_gone(status)) {
    snprintf(out, n, "serial %s: device gone (%s)", p->path,
             status == UV_EOF ? "hung up" : uv_strerror(status));
  } else if (unsupported && p->pty) {
    snprintf(out, n, "serial %s: %s: not supported by a pseudo-terminal",
             p->path, op);
  } else if (unsupported) {
    snprintf(out, n, "serial %s: %s: not supported by this device (%s)",
             p->path, op, uv_strerror(status));
  } else {
    snprintf(out, n, "serial %s: %s: %s", p->path, op, uv_strerror(status));
  }
  return out;
}
