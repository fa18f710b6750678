// Unit tests of runtime/serial_port.c, serial_termios.c and serial_pty.c
// on pseudo-terminals: opening one through the termios backend, its
// settings as the kernel keeps them, the controls a pty has and has not,
// a byte stream on it under a real loop, and the device going away.
#include <stdio.h>

#include "net_harness.h"
#include "serial.h"

static char path[64];
static int master, slave;

static void pty_open(void)
{
  CHECK(serial_pty_open(&master, &slave, path, sizeof path) == 0);
  CHECK(strncmp(path, "/dev/pts/", 9) == 0);
}

static void pty_close(void)
{
  close(master);
  close(slave);
}

static void test_open_errors(void)
{
  char err[SERIAL_ERR_MAX];
  serial_port_t *p = (serial_port_t *)1;
  CHECK(serial_open("/dev/nonexistent-hilt", &serial_defaults, 0, &p, err,
                    sizeof err) == UV_ENOENT);
  CHECK(p == NULL);
  CHECK(strcmp(err, "serial /dev/nonexistent-hilt: no such file or "
               "directory") == 0);
  CHECK(serial_open("/dev/null", &serial_defaults, 0, &p, err, sizeof err) ==
        UV_ENOTTY);
  CHECK(strcmp(err, "serial /dev/null: not a serial port (not a terminal "
               "device)") == 0);
  serial_settings_t s = serial_defaults;
  s.bits = 4;
  CHECK(serial_open("/dev/null", &s, 0, &p, err, sizeof err) == UV_EINVAL);
  CHECK(strcmp(err, "bits must be 5, 6, 7 or 8, got 4") == 0);
}

static void test_settings(void)
{
  char err[SERIAL_ERR_MAX];
  serial_port_t *p;
  struct termios t;
  pty_open();
  CHECK(serial_open(path, &serial_defaults, 1, &p, err, sizeof err) == 0);
  CHECK(strcmp(serial_backend(p), "termios") == 0 && serial_is_pty(p));
  CHECK(strcmp(serial_path(p), path) == 0);
  serial_settings_t s = {9600, 7, SERIAL_PARITY_EVEN, 2, SERIAL_FLOW_RTSCTS};
  serial_settings_t got;
  CHECK(serial_set(p, &s, err, sizeof err) == 0);
  serial_get(p, &got);
  CHECK(memcmp(&s, &got, sizeof s) == 0);
  // What the kernel kept: the rate, stop bits and flow control.
  CHECK(tcgetattr(slave, &t) == 0 && cfgetospeed(&t) == B9600);
  CHECK((t.c_cflag & CSTOPB) && (t.c_cflag & CRTSCTS));
  s.baud = 250000;
  CHECK(serial_set(p, &s, err, sizeof err) == UV_EINVAL);
  CHECK(strstr(err, "baud rate 250000 is not supported") != NULL);
  serial_get(p, &got);
  CHECK(got.baud == 9600);
  s.baud = 9600;
  s.flow = SERIAL_FLOW_DTRDSR;
  CHECK(serial_set(p, &s, err, sizeof err) == UV_ENOTSUP);
  char want[SERIAL_ERR_MAX];
  snprintf(want, sizeof want, "serial %s: flow control dtrdsr is not "
           "supported by this device", path);
  CHECK(strcmp(err, want) == 0);
  serial_close(p);
  pty_close();
}

static void test_controls(void)
{
  char err[SERIAL_ERR_MAX], msg[SERIAL_ERR_MAX];
  serial_port_t *p;
  serial_lines_t l;
  size_t n = 99;
  pty_open();
  CHECK(serial_open(path, &serial_defaults, 0, &p, err, sizeof err) == 0);
  CHECK(serial_set_dtr(p, 1) == UV_ENOTTY);
  CHECK(serial_set_rts(p, 0) == UV_ENOTTY);
  CHECK(serial_get_lines(p, &l) == UV_ENOTTY);
  serial_describe(p, "dtr", UV_ENOTTY, msg, sizeof msg);
  snprintf(err, sizeof err, "serial %s: dtr: not supported by a "
           "pseudo-terminal", path);
  CHECK(strcmp(msg, err) == 0);
  CHECK(serial_break(p, 1) == 0 && serial_break(p, 0) == 0);
  CHECK(write(master, "stale", 5) == 5);
  CHECK(serial_flush(p, SERIAL_FLUSH_BOTH) == 0);
  CHECK(serial_output_waiting(p, &n) == 0 && n == 0);
  serial_describe(p, "read", UV_EOF, msg, sizeof msg);
  snprintf(err, sizeof err, "serial %s: device gone (hung up)", path);
  CHECK(strcmp(msg, err) == 0);
  serial_close(p);
  pty_close();
}

static void test_stream(void)
{
  char err[SERIAL_ERR_MAX];
  serial_port_t *p;
  net_stream_cb_t cb = {peer_connect, peer_read, peer_end, peer_drain,
                        peer_close};
  peer_t e = {.want = 5};
  loop_open();
  pty_open();
  CHECK(serial_open(path, &serial_defaults, 0, &p, err, sizeof err) == 0);
  CHECK(serial_stream_open(p, &loop, &cb, &e, &e.s, err, sizeof err) == 0);
  serial_close(p);  // the stream has its own descriptor
  net_stream_read_start(e.s);
  CHECK(write(master, "hello", 5) == 5);
  CHECK(run_until(&e.enough) && strcmp(e.got, "hello") == 0);
  CHECK(net_stream_write(e.s, "back", 4) == 0);
  char buf[8] = {0};
  usleep(10000);
  CHECK(read(master, buf, sizeof buf) == 4 && strcmp(buf, "back") == 0);
  // The device goes away: the stream ends, it does not hang.
  close(master);
  CHECK(run_until(&e.ends));
  CHECK(serial_gone(e.end_status == 0 ? UV_EOF : e.end_status));
  net_stream_close(e.s);
  close(slave);
  loop_finish();
  CHECK(e.closes == 1);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  test_open_errors();
  test_settings();
  test_controls();
  test_stream();
  return check_summary();
}
