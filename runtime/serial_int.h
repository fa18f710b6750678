// Internals shared by the files of the serial ports: serial_port.c (opening,
// settings, the interface of serial.h), the two backends serial_sp.c
// (libserialport) and serial_termios.c (plain termios), and the settings
// tables of serial_settings.c.
#ifndef HILT_SERIAL_INT_H
#define HILT_SERIAL_INT_H

#include <termios.h>

#include "serial.h"

struct sp_port;

// What a backend does for a port. Each returns 0 or a negative libuv code.
typedef struct {
  const char *name;
  int (*configure)(serial_port_t *p, const serial_settings_t *s);
  int (*get_baud)(serial_port_t *p, int *baud);  // the rate in force
  int (*set_line)(serial_port_t *p, int line, int on);  // TIOCM_DTR/RTS
  int (*get_lines)(serial_port_t *p, serial_lines_t *out);
  int (*brk)(serial_port_t *p, int on);
  int (*flush)(serial_port_t *p, serial_flush_t which);
  int (*output_waiting)(serial_port_t *p, size_t *n);
  void (*close)(serial_port_t *p);  // closes fd (and frees sp)
} serial_ops_t;

struct serial_port {
  const serial_ops_t *ops;
  int fd;                       // the open device
  struct sp_port *sp;           // libserialport's port, or NULL
  int pty;                      // the device is a pseudo-terminal
  serial_settings_t settings;   // as last applied
  char path[SERIAL_PATH_MAX];   // as the caller gave it
};

extern const serial_ops_t serial__sp_ops;
extern const serial_ops_t serial__termios_ops;

// serial__sp_open's "libserialport does not take this device": the port
// opens through termios instead.
#define SERIAL_REFUSED 1

/// Opens p->path (whose symlinks resolve to `real`) with libserialport,
/// setting p->ops, p->sp and p->fd. Returns 0, SERIAL_REFUSED when
/// libserialport does not know or cannot open the device, or a negative
/// libuv code for a failure any backend would meet (no such device,
/// permission denied, busy).
int serial__sp_open(serial_port_t *p, const char *real);

/// Opens p->path as a terminal with termios, setting p->ops, p->fd and
/// p->pty. Returns 0 or a negative libuv code (UV_ENOTTY: not a
/// terminal).
int serial__termios_open(serial_port_t *p);

/// The termios speed for a baud rate: 0 and UV_EINVAL for a rate termios
/// has no constant for. And the reverse: the rate of a speed, or -1.
int serial__termios_speed(int baud, speed_t *out);
int serial__termios_baud(speed_t speed);

/// Writes s into t but for the baud rate: raw mode, then s's fields.
/// Returns 0, or UV_ENOTSUP for flow control termios does not have
/// (dtrdsr).
int serial__termios_from(struct termios *t, const serial_settings_t *s);

/// Applies s to the terminal `fd` with tcsetattr, with its baud rate if
/// `speed` (UV_EINVAL for a rate termios has no constant for), else
/// keeping the rate in force. Returns 0 or a negative libuv code.
int serial__termios_apply(int fd, const serial_settings_t *s, int speed);

/// Reads back into *s what t says of s's fields; a speed termios has no
/// rate for reads as baud -1. A parity termios cannot express reads as
/// none.
void serial__termios_to(const struct termios *t, serial_settings_t *s);

/// The errno of a failed system call as a negative libuv code.
int serial__errno(void);

#endif
