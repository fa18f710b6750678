// The settings of a serial port (serial.h): their names and their ranges.
#include <stdio.h>
#include <string.h>

#include "serial_int.h"

const serial_settings_t serial_defaults = {
    .baud = 115200,
    .bits = 8,
    .parity = SERIAL_PARITY_NONE,
    .stop = 1,
    .flow = SERIAL_FLOW_NONE,
};

// Indexed by the enums; NULL-terminated.
static const char *const parity_names[] = {"none", "odd", "even", "mark",
                                           "space", NULL};
static const char *const flow_names[] = {"none", "xonxoff", "rtscts",
                                         "dtrdsr", NULL};
static const char *const flush_names[] = {"", "input", "output", "both",
                                          NULL};

const char serial_parity_names[] = "none, odd, even, mark or space";
const char serial_flow_names[] = "none, xonxoff, rtscts or dtrdsr";
const char serial_flush_names[] = "input, output or both";

// The index of `name` in names[from..], or -1.
static int find(const char *const *names, int from, const char *name)
{
  for (int i = from; name != NULL && names[i] != NULL; i++) {
    if (strcmp(names[i], name) == 0) {
      return i;
    }
  }
  return -1;
}

const char *serial_parity_name(serial_parity_t p)
{
  return p <= SERIAL_PARITY_SPACE ? parity_names[p] : "?";
}

const char *serial_flow_name(serial_flow_t f)
{
  return f <= SERIAL_FLOW_DTRDSR ? flow_names[f] : "?";
}

int serial_parity_parse(const char *name, serial_parity_t *out)
{
  int i = find(parity_names, 0, name);
  if (i < 0) {
    return UV_EINVAL;
  }
  *out = (serial_parity_t)i;
  return 0;
}

int serial_flow_parse(const char *name, serial_flow_t *out)
{
  int i = find(flow_names, 0, name);
  if (i < 0) {
    return UV_EINVAL;
  }
  *out = (serial_flow_t)i;
  return 0;
}

int serial_flush_parse(const char *name, serial_flush_t *out)
{
  int i = find(flush_names, 1, name);
  if (i < 0) {
    return UV_EINVAL;
  }
  *out = (serial_flush_t)i;
  return 0;
}

static int fail(char *err, size_t n, const char *what, int got)
{
  if (err != NULL && n > 0) {
    snprintf(err, n, "%s, got %d", what, got);
  }
  return UV_EINVAL;
}

int serial_settings_check(const serial_settings_t *s, char *err, size_t n)
{
  if (s->baud <= 0) {
    return fail(err, n, "baud must be > 0", s->baud);
  }
  if (s->bits < 5 || s->bits > 8) {
    return fail(err, n, "bits must be 5, 6, 7 or 8", s->bits);
  }
  if (s->stop != 1 && s->stop != 2) {
    return fail(err, n, "stop must be 1 or 2", s->stop);
  }
  if ((unsigned)s->parity > SERIAL_PARITY_SPACE) {
    return fail(err, n, "parity must be one of none, odd, even, mark, space",
                (int)s->parity);
  }
  if ((unsigned)s->flow > SERIAL_FLOW_DTRDSR) {
    return fail(err, n, "flow must be one of none, xonxoff, rtscts, dtrdsr",
                (int)s->flow);
  }
  return 0;
}

int serial_gone(int status)
{
  return status == UV_EOF || status == UV_EIO || status == UV_ENXIO ||
         status == UV_ENODEV;
}
