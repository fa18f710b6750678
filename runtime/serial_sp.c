// The libserialport backend of serial ports (serial.h): devices that
// libserialport 0.1.1 knows (sysfs lists them as serial hardware) and can
// open. libserialport opens them, sets the lines, sends breaks, flushes,
// reports the output queue and sets baud rates termios has no constant
// for (through termios2). The rest of the settings go through termios as
// in serial_termios.c: libserialport 0.1.1 sets RTS/CTS flow control in
// c_iflag, where Linux does not look for it, and never clears it.
#include <libserialport.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "serial_int.h"

// libserialport's result as a negative libuv code: its SP_ERR_FAIL
// carries the errno of the call that failed.
static int sp_code(enum sp_return rc)
{
  if (rc >= 0) {
    return 0;
  }
  switch (rc) {
  case SP_ERR_ARG:
    return UV_EINVAL;
  case SP_ERR_MEM:
    return UV_ENOMEM;
  case SP_ERR_SUPP:
    return UV_ENOTSUP;
  default: {
    int e = sp_last_error_code();
    return e > 0 ? uv_translate_sys_error(e) : UV_EIO;
  }
  }
}

static int s_configure(serial_port_t *p, const serial_settings_t *s)
{
  speed_t speed;
  int standard = serial__termios_speed(s->baud, &speed) == 0;
  int rc = serial__termios_apply(p->fd, s, standard);
  if (rc == 0 && !standard) {
    rc = sp_code(sp_set_baudrate(p->sp, s->baud));
  }
  return rc;
}

static int s_get_baud(serial_port_t *p, int *baud)
{
  struct sp_port_config *c;
  int rc = sp_code(sp_new_config(&c));
  if (rc != 0) {
    return rc;
  }
  rc = sp_code(sp_get_config(p->sp, c));
  if (rc == 0) {
    rc = sp_code(sp_get_config_baudrate(c, baud));
  }
  sp_free_config(c);
  return rc;
}

static int s_set_line(serial_port_t *p, int line, int on)
{
  if (line == TIOCM_DTR) {
    return sp_code(sp_set_dtr(p->sp, on ? SP_DTR_ON : SP_DTR_OFF));
  }
  return sp_code(sp_set_rts(p->sp, on ? SP_RTS_ON : SP_RTS_OFF));
}

// The outputs as the device has them: on, or taken by flow control.
static int s_get_outputs(serial_port_t *p, serial_lines_t *out)
{
  struct sp_port_config *c;
  enum sp_dtr dtr = SP_DTR_OFF;
  enum sp_rts rts = SP_RTS_OFF;
  int rc = sp_code(sp_new_config(&c));
  if (rc != 0) {
    return rc;
  }
  rc = sp_code(sp_get_config(p->sp, c));
  if (rc == 0) {
    sp_get_config_dtr(c, &dtr);
    sp_get_config_rts(c, &rts);
  }
  sp_free_config(c);
  out->dtr = dtr != SP_DTR_OFF;
  out->rts = rts != SP_RTS_OFF;
  return rc;
}

static int s_get_lines(serial_port_t *p, serial_lines_t *out)
{
  enum sp_signal sig;
  int rc = sp_code(sp_get_signals(p->sp, &sig));
  if (rc != 0) {
    return rc;
  }
  out->cts = (sig & SP_SIG_CTS) != 0;
  out->dsr = (sig & SP_SIG_DSR) != 0;
  out->dcd = (sig & SP_SIG_DCD) != 0;
  out->ri = (sig & SP_SIG_RI) != 0;
  return s_get_outputs(p, out);
}

static int s_brk(serial_port_t *p, int on)
{
  return sp_code(on ? sp_start_break(p->sp) : sp_end_break(p->sp));
}

static int s_flush(serial_port_t *p, serial_flush_t which)
{
  enum sp_buffer b = which == SERIAL_FLUSH_INPUT    ? SP_BUF_INPUT
                     : which == SERIAL_FLUSH_OUTPUT ? SP_BUF_OUTPUT
                                                    : SP_BUF_BOTH;
  return sp_code(sp_flush(p->sp, b));
}

static int s_output_waiting(serial_port_t *p, size_t *n)
{
  enum sp_return rc = sp_output_waiting(p->sp);
  if (rc < 0) {
    return sp_code(rc);
  }
  *n = (size_t)rc;
  return 0;
}

static void s_close(serial_port_t *p)
{
  sp_close(p->sp);
  sp_free_port(p->sp);
  p->sp = NULL;
  p->fd = -1;
}

const serial_ops_t serial__sp_ops = {
    "libserialport", s_configure, s_get_baud,       s_set_line, s_get_lines,
    s_brk,           s_flush,     s_output_waiting, s_close,
};

// Whether a failure to open says something about the device itself,
// which opening it with termios would only meet again.
static int device_failure(int code)
{
  return code == UV_ENOENT || code == UV_EACCES || code == UV_EPERM ||
         code == UV_EBUSY || code == UV_ENXIO || code == UV_ENODEV ||
         code == UV_EIO || code == UV_ENOMEM;
}

int serial__sp_open(serial_port_t *p, const char *real)
{
  struct sp_port *sp;
  if (sp_get_port_by_name(real, &sp) != SP_OK) {
    return SERIAL_REFUSED;
  }
  int rc = sp_code(sp_open(sp, SP_MODE_READ_WRITE));
  int fd = -1;
  if (rc == 0) {
    rc = sp_code(sp_get_port_handle(sp, &fd));
    if (rc != 0) {
      sp_close(sp);
    }
  }
  if (rc != 0) {
    sp_free_port(sp);
    return device_failure(rc) ? rc : SERIAL_REFUSED;
  }
  p->sp = sp;
  p->fd = fd;
  p->ops = &serial__sp_ops;
  return 0;
}
