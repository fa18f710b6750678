// hilt.serial.core's shared parts: l_serial.c (list, open, openpty and
// the checking of settings) and l_serial_port.c (a port's controls).
#ifndef HILT_L_SERIAL_H
#define HILT_L_SERIAL_H

#include <lua.h>

#include "serial.h"

#define SERIAL_PORT_MT "hilt.serial.Control"

// A port's controls: settings, lines, break, flush. Its bytes go through a
// hilt.net Stream kept in the user value PORT_UV_STREAM; lua/hilt/
// serial.lua makes the two one Port object.
typedef struct {
  serial_port_t *p;             // NULL until opened, and once closed
  char path[SERIAL_PATH_MAX];   // for messages once closed
} lport_t;

enum { PORT_UV_STREAM = 1 };

/// Raises "bad argument #arg to 'fname' (<message>)" at the caller of the
/// Lua function that called the C function (lua/hilt/serial.lua's methods
/// pass their caller's arguments on).
int hilt__serial_arg_error(lua_State *L, int arg, const char *fname,
                           const char *fmt, ...);

/// Reads the settings in the table at idx (baud, bits, parity, stop,
/// flow; each optional) over *s, raising an argument error for argument
/// `arg` of `fname` that names a bad field. Other keys are the caller's
/// to check.
void hilt__serial_check_settings(lua_State *L, int idx, int arg,
                                 const char *fname, serial_settings_t *s);

/// Raises an argument error unless every key of the table at idx is one
/// of `keys` (NULL-terminated), naming the key as a `what`: "unknown
/// option 'baudrate'".
void hilt__serial_check_keys(lua_State *L, int idx, int arg,
                             const char *fname, const char *what,
                             const char *const *keys);

/// Pushes a new, unopened control object with a user value slot for the
/// stream.
lport_t *hilt__serial_port_new(lua_State *L, const char *path);

/// Raises the failure `status` of operation `op` on the port as a
/// hilt.Error: `unavailable` when the device went away, else `failed`.
int hilt__serial_raise(lua_State *L, const lport_t *lp, const char *op,
                       int status);

/// Registers the control object's metatable; pushes nothing.
void hilt__serial_port_open(lua_State *L);

#endif
