// Serial ports: real devices through libserialport, and any terminal
// device libserialport refuses (pseudo-terminals above all: libserialport
// 0.1.1 only takes devices that sysfs lists as serial hardware) through
// plain termios, behind one interface.
//
// A port is opened by path (serial_open) and configured by it; its bytes
// travel over a net_stream_t that serial_stream_open makes on a duplicate
// of the port's descriptor, so reading and writing never block the loop
// and follow the byte streams' rules (net_stream.h). The port itself
// carries the rest: settings, the modem lines, break, flush and the
// output queue of the device. Functions here other than serial_stream_open
// make system calls that return at once (ioctl, tcsetattr); none waits.
//
// Which backend a port uses:
//
//   libserialport  the path, once symlinks are resolved (/dev/serial/by-id
//                  names work), is a device libserialport knows and opens;
//   termios        anything else that is a terminal: ptys, and ttys that
//                  libserialport lists not or cannot open. Settings go
//                  through tcsetattr (standard baud rates only), lines
//                  through TIOCMGET/TIOCMSET where the driver has them
//                  (ptys do not: those calls fail with UV_ENOTTY), break
//                  through TIOCSBRK/TIOCCBRK, flush through tcflush.
//
// Failures are negative libuv codes; serial_describe words them for
// people. A device that goes away (a USB adapter unplugged) fails what
// follows with UV_EIO, UV_ENXIO or UV_ENODEV (serial_gone).
#ifndef HILT_SERIAL_H
#define HILT_SERIAL_H

#include <stddef.h>
#include <uv.h>

#include "net_stream.h"

// Longest path a port may have, with its NUL.
#define SERIAL_PATH_MAX 256

// Room for any message a function here writes into an error buffer.
#define SERIAL_ERR_MAX (SERIAL_PATH_MAX + 256)

typedef enum {
  SERIAL_PARITY_NONE,
  SERIAL_PARITY_ODD,
  SERIAL_PARITY_EVEN,
  SERIAL_PARITY_MARK,
  SERIAL_PARITY_SPACE,
} serial_parity_t;

typedef enum {
  SERIAL_FLOW_NONE,
  SERIAL_FLOW_XONXOFF,
  SERIAL_FLOW_RTSCTS,
  SERIAL_FLOW_DTRDSR,
} serial_flow_t;

typedef enum {
  SERIAL_FLUSH_INPUT = 1,
  SERIAL_FLUSH_OUTPUT = 2,
  SERIAL_FLUSH_BOTH = 3,
} serial_flush_t;

typedef struct {
  int baud;               // bits per second, > 0
  int bits;               // data bits: 5, 6, 7 or 8
  serial_parity_t parity;
  int stop;               // stop bits: 1 or 2
  serial_flow_t flow;
} serial_settings_t;

// 115200 baud, 8 data bits, no parity, 1 stop bit, no flow control.
extern const serial_settings_t serial_defaults;

// The modem lines: inputs (cts, dsr, dcd, ri) and outputs (dtr, rts),
// each 1 when asserted.
typedef struct {
  int cts, dsr, dcd, ri, dtr, rts;
} serial_lines_t;

typedef struct serial_port serial_port_t;

/* ---- Settings ---------------------------------------------------------- */

/// The name of a parity, flow control or flush ("none", "odd", "even",
/// "mark", "space"; "none", "xonxoff", "rtscts", "dtrdsr"; "input",
/// "output", "both"), and the reverse: 0, or UV_EINVAL for a name that is
/// none of them (out untouched).
const char *serial_parity_name(serial_parity_t p);
int serial_parity_parse(const char *name, serial_parity_t *out);
const char *serial_flow_name(serial_flow_t f);
int serial_flow_parse(const char *name, serial_flow_t *out);
int serial_flush_parse(const char *name, serial_flush_t *out);

// The names each parse takes, for messages: "none, odd, even, mark or
// space".
extern const char serial_parity_names[];
extern const char serial_flow_names[];
extern const char serial_flush_names[];

/// Checks that every field of s is in range. Returns 0, or UV_EINVAL with
/// a message naming the field and the value in err[0..n) ("bits must be
/// 5, 6, 7 or 8, got 9"); err may be NULL.
int serial_settings_check(const serial_settings_t *s, char *err, size_t n);

/* ---- Ports ------------------------------------------------------------- */

/// Opens the terminal device at `path` (a real serial port, a symlink to
/// one, or a pty's /dev/pts/N) for reading and writing, with settings s
/// applied, and sets *out. `exclusive` asks the kernel to refuse any
/// further open of the device (TIOCEXCL) while this one lasts. Returns 0,
/// or a negative libuv code with a message in err[0..errlen) that names
/// the path (err may be NULL) and *out NULL:
///   UV_ENOENT  the path does not exist ("serial /dev/ttyUSB9: no such
///              file or directory");
///   UV_EACCES  permission denied, with the group that owns the device;
///   UV_ENOTTY  the path is not a terminal device;
///   UV_EINVAL, UV_ENOTSUP  s has a value the device refuses (a baud
///              rate, dtrdsr flow control): the message names it;
///   anything else the system said (UV_EBUSY: opened exclusively).
/// Does not block beyond the open itself (devices are opened O_NONBLOCK).
int serial_open(const char *path, const serial_settings_t *s, int exclusive,
                serial_port_t **out, char *err, size_t errlen);

/// Closes the device (the descriptor this port holds; a stream made by
/// serial_stream_open has its own and lives on). p may be NULL.
void serial_close(serial_port_t *p);

/// The path the port was opened with; "libserialport" or "termios"; and
/// whether the device is a pseudo-terminal. p must not be NULL.
const char *serial_path(const serial_port_t *p);
const char *serial_backend(const serial_port_t *p);
int serial_is_pty(const serial_port_t *p);

/// Makes a byte stream over a duplicate of the port's descriptor (see
/// net_stream_open_fd for cb, data and the result); the stream outlives
/// serial_close. A device that hangs up shows in the stream as an EOF or
/// as UV_EIO. Returns 0, or a negative libuv code with a message in
/// err[0..errlen) and *out NULL.
int serial_stream_open(serial_port_t *p, uv_loop_t *loop,
                       const net_stream_cb_t *cb, void *data,
                       net_stream_t **out, char *err, size_t errlen);

/// Applies s (which serial_settings_check accepts) to the device. A baud
/// rate the device or its driver refuses, or replaces by one more than 3%
/// away, fails with UV_EINVAL; a flow control it has not, with
/// UV_ENOTSUP; either way the message names the value, and the previous
/// settings stay. Returns 0 or a negative libuv code, with a message in
/// err[0..errlen) (err may be NULL).
int serial_set(serial_port_t *p, const serial_settings_t *s, char *err,
               size_t errlen);

/// The settings last applied by serial_open or serial_set. A pty takes
/// every setting, but Linux keeps only its baud rate, stop bits and flow
/// control (it forces 8 data bits and no parity on ptys), so this reports
/// what was asked rather than what the kernel kept.
void serial_get(const serial_port_t *p, serial_settings_t *out);

/// Sets an output line: DTR or RTS, on (1) or off (0). Returns 0 or a
/// negative libuv code (UV_ENOTTY on a pty).
int serial_set_dtr(serial_port_t *p, int on);
int serial_set_rts(serial_port_t *p, int on);

/// Reads the modem lines into *out. Returns 0 or a negative libuv code
/// (UV_ENOTTY on a pty).
int serial_get_lines(serial_port_t *p, serial_lines_t *out);

/// Starts (on) or ends (off) a break: the line held at space. A timed
/// break is a start, a wait, and an end, so the loop never blocks. Ptys
/// accept a break but carry nothing to the other end. Returns 0 or a
/// negative libuv code.
int serial_break(serial_port_t *p, int on);

/// Drops what the device holds: bytes received and not yet read, bytes
/// written and not yet sent, or both. Bytes a stream has already taken
/// from the device or not yet given to it are the stream's. Returns 0 or
/// a negative libuv code.
int serial_flush(serial_port_t *p, serial_flush_t which);

/// Sets *n to the bytes the device holds that it has not sent yet (the
/// driver's output queue; 0 on a pty). Returns 0 or a negative libuv code.
int serial_output_waiting(serial_port_t *p, size_t *n);

/// Whether `status` means the device went away: an EOF from reading (a
/// hangup), UV_EIO, UV_ENXIO or UV_ENODEV.
int serial_gone(int status);

/// Words the failure `status` of operation `op` ("dtr", "lines", ...) on
/// p for people, into out[0..n), always NUL-terminated; returns out:
///   "serial /dev/ttyUSB0: device gone (input/output error)"
///   "serial /dev/pts/3: dtr: not supported by a pseudo-terminal"
///   "serial /dev/ttyS0: flush: <the system's reason>"
const char *serial_describe(const serial_port_t *p, const char *op,
                            int status, char *out, size_t n);

/* ---- Enumeration ------------------------------------------------------- */

typedef enum {
  SERIAL_TRANSPORT_NATIVE,
  SERIAL_TRANSPORT_USB,
  SERIAL_TRANSPORT_BLUETOOTH,
} serial_transport_t;

// A port of this machine as libserialport lists it. Strings are NULL
// where unknown, vid and pid -1.
typedef struct {
  char *path;
  char *description;
  serial_transport_t transport;
  int vid, pid;
  char *serial, *manufacturer, *product;
} serial_info_t;

// What to look for among the ports: each field that is set must match
// (vid, pid: -1 for any; serial: exactly; description: a substring).
typedef struct {
  int vid, pid;
  const char *serial;
  const char *description;
} serial_match_t;

/// "native", "usb" or "bluetooth".
const char *serial_transport_name(serial_transport_t t);

/// Lists the serial ports of this machine into a new array *out of *n
/// entries, sorted by path, which the caller frees with serial_list_free
/// (*out may be NULL when *n is 0). Returns 0 or a negative libuv code.
int serial_list(serial_info_t **out, size_t *n);

/// Frees what serial_list returned; list may be NULL.
void serial_list_free(serial_info_t *list, size_t n);

/// Finds the one port of list[0..n) that m matches and sets *index.
/// Returns 0; UV_ENOENT when none does, with a message naming m and
/// listing the ports there are ("no serial port matches vid=0x0403
/// pid=0x6001; ports here: /dev/ttyS0 (ttyS0)"); UV_EINVAL when several
/// do, listing them. err may be NULL.
int serial_list_match(const serial_info_t *list, size_t n,
                      const serial_match_t *m, size_t *index, char *err,
                      size_t errlen);

/* ---- Pseudo-terminals -------------------------------------------------- */

/// Makes a pseudo-terminal: *master is the end a simulated device uses,
/// *slave an open descriptor of the end a serial port opens by the path
/// written into path[0..n) ("/dev/pts/3"). The slave starts in raw mode
/// (no echo, no line editing, 8 bits through). Keep *slave open while the
/// master is in use: with no slave open, Linux fails reads on the master
/// with EIO and reports it hung up. Both descriptors are close-on-exec;
/// the caller owns them. Returns 0 or a negative libuv code.
int serial_pty_open(int *master, int *slave, char *path, size_t n);

#endif
