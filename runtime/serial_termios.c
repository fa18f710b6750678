// The termios backend of serial ports (serial.h): any terminal device
// libserialport does not take, pseudo-terminals above all. Settings map
// onto a raw termios (cfmakeraw, then speed, size, parity, stop bits and
// flow control); the lines, break, flush and the output queue are the
// terminal ioctls, which a driver may not have (ptys have no modem lines:
// TIOCMGET and TIOCMSET fail with ENOTTY).
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "serial_int.h"

// The major device numbers of Unix 98 pty slaves (/dev/pts/N).
#define PTY_SLAVE_MAJOR_MIN 136
#define PTY_SLAVE_MAJOR_MAX 143

static const struct {
  int baud;
  speed_t speed;
} speeds[] = {
    {50, B50},           {75, B75},           {110, B110},
    {134, B134},         {150, B150},         {200, B200},
    {300, B300},         {600, B600},         {1200, B1200},
    {1800, B1800},       {2400, B2400},       {4800, B4800},
    {9600, B9600},       {19200, B19200},     {38400, B38400},
    {57600, B57600},     {115200, B115200},   {230400, B230400},
    {460800, B460800},   {500000, B500000},   {576000, B576000},
    {921600, B921600},   {1000000, B1000000}, {1152000, B1152000},
    {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000},
    {3000000, B3000000}, {3500000, B3500000}, {4000000, B4000000},
};

#define NSPEEDS (sizeof speeds / sizeof speeds[0])

int serial__errno(void)
{
  return uv_translate_sys_error(errno);
}

int serial__termios_speed(int baud, speed_t *out)
{
  for (size_t i = 0; i < NSPEEDS; i++) {
    if (speeds[i].baud == baud) {
      *out = speeds[i].speed;
      return 0;
    }
  }
  *out = 0;
  return UV_EINVAL;
}

int serial__termios_baud(speed_t speed)
{
  for (size_t i = 0; i < NSPEEDS; i++) {
    if (speeds[i].speed == speed) {
      return speeds[i].baud;
    }
  }
  return -1;
}

static const tcflag_t sizes[] = {CS5, CS6, CS7, CS8};

// The parity bits of c_cflag for each serial_parity_t.
static const tcflag_t parities[] = {
    [SERIAL_PARITY_NONE] = 0,
    [SERIAL_PARITY_ODD] = PARENB | PARODD,
    [SERIAL_PARITY_EVEN] = PARENB,
    [SERIAL_PARITY_MARK] = PARENB | CMSPAR | PARODD,
    [SERIAL_PARITY_SPACE] = PARENB | CMSPAR,
};

#define PARITY_BITS (PARENB | PARODD | CMSPAR)

int serial__termios_from(struct termios *t, const serial_settings_t *s)
{
  if (s->flow == SERIAL_FLOW_DTRDSR) {
    return UV_ENOTSUP;
  }
  cfmakeraw(t);
  t->c_cflag &= ~(CSIZE | PARITY_BITS | CSTOPB | CRTSCTS);
  t->c_cflag |= CLOCAL | CREAD | sizes[s->bits - 5] | parities[s->parity];
  if (s->stop == 2) {
    t->c_cflag |= CSTOPB;
  }
  if (s->flow == SERIAL_FLOW_RTSCTS) {
    t->c_cflag |= CRTSCTS;
  }
  t->c_iflag &= ~(IXON | IXOFF | IXANY);
  if (s->flow == SERIAL_FLOW_XONXOFF) {
    t->c_iflag |= IXON | IXOFF;
  }
  // Reads return what is there; the descriptor is non-blocking anyway.
  t->c_cc[VMIN] = 1;
  t->c_cc[VTIME] = 0;
  return 0;
}

int serial__termios_apply(int fd, const serial_settings_t *s, int speed)
{
  struct termios t;
  speed_t sp = 0;
  if (speed && serial__termios_speed(s->baud, &sp) != 0) {
    return UV_EINVAL;
  }
  if (tcgetattr(fd, &t) != 0) {
    return serial__errno();
  }
  int rc = serial__termios_from(&t, s);
  if (rc == 0 && speed) {
    cfsetispeed(&t, sp);
    cfsetospeed(&t, sp);
  }
  if (rc == 0 && tcsetattr(fd, TCSANOW, &t) != 0) {
    rc = serial__errno();
  }
  return rc;
}

void serial__termios_to(const struct termios *t, serial_settings_t *s)
{
  s->baud = serial__termios_baud(cfgetospeed(t));
  s->bits = 8;
  for (int i = 0; i < 4; i++) {
    if ((t->c_cflag & CSIZE) == sizes[i]) {
      s->bits = 5 + i;
    }
  }
  s->parity = SERIAL_PARITY_NONE;
  for (int p = SERIAL_PARITY_ODD; p <= SERIAL_PARITY_SPACE; p++) {
    if ((t->c_cflag & PARITY_BITS) == parities[p]) {
      s->parity = (serial_parity_t)p;
    }
  }
  s->stop = t->c_cflag & CSTOPB ? 2 : 1;
  s->flow = t->c_cflag & CRTSCTS  ? SERIAL_FLOW_RTSCTS
            : t->c_iflag & IXON   ? SERIAL_FLOW_XONXOFF
                                  : SERIAL_FLOW_NONE;
}

/* ---- The backend ------------------------------------------------------- */

static int t_configure(serial_port_t *p, const serial_settings_t *s)
{
  return serial__termios_apply(p->fd, s, 1);
}

static int t_get_baud(serial_port_t *p, int *baud)
{
  struct termios t;
  if (tcgetattr(p->fd, &t) != 0) {
    return serial__errno();
  }
  *baud = serial__termios_baud(cfgetospeed(&t));
  return 0;
}

static int t_set_line(serial_port_t *p, int line, int on)
{
  return ioctl(p->fd, on ? TIOCMBIS : TIOCMBIC, &line) == 0 ? 0
                                                            : serial__errno();
}

static int t_get_lines(serial_port_t *p, serial_lines_t *out)
{
  int bits;
  if (ioctl(p->fd, TIOCMGET, &bits) != 0) {
    return serial__errno();
  }
  out->cts = (bits & TIOCM_CTS) != 0;
  out->dsr = (bits & TIOCM_DSR) != 0;
  out->dcd = (bits & TIOCM_CAR) != 0;
  out->ri = (bits & TIOCM_RNG) != 0;
  out->dtr = (bits & TIOCM_DTR) != 0;
  out->rts = (bits & TIOCM_RTS) != 0;
  return 0;
}

static int t_brk(serial_port_t *p, int on)
{
  return ioctl(p->fd, on ? TIOCSBRK : TIOCCBRK) == 0 ? 0 : serial__errno();
}

static int t_flush(serial_port_t *p, serial_flush_t which)
{
  int q = which == SERIAL_FLUSH_INPUT    ? TCIFLUSH
          : which == SERIAL_FLUSH_OUTPUT ? TCOFLUSH
                                         : TCIOFLUSH;
  return tcflush(p->fd, q) == 0 ? 0 : serial__errno();
}

static int t_output_waiting(serial_port_t *p, size_t *n)
{
  int q;
  if (ioctl(p->fd, TIOCOUTQ, &q) != 0) {
    return serial__errno();
  }
  *n = q > 0 ? (size_t)q : 0;
  return 0;
}

static void t_close(serial_port_t *p)
{
  close(p->fd);
  p->fd = -1;
}

const serial_ops_t serial__termios_ops = {
    "termios", t_configure, t_get_baud,       t_set_line, t_get_lines,
    t_brk,     t_flush,     t_output_waiting, t_close,
};

static int is_pty(int fd)
{
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) {
    return 0;
  }
  unsigned m = major(st.st_rdev);
  return m >= PTY_SLAVE_MAJOR_MIN && m <= PTY_SLAVE_MAJOR_MAX;
}

int serial__termios_open(serial_port_t *p)
{
  int fd = open(p->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return serial__errno();
  }
  if (!isatty(fd)) {
    close(fd);
    return UV_ENOTTY;
  }
  p->fd = fd;
  p->ops = &serial__termios_ops;
  p->pty = is_pty(fd);
  return 0;
}
