// hilt.Error: the structured error that tasks, timeouts and (later) remote
// calls raise. A table {code=, message=, traceback=, value=} whose
// __tostring is the message, so string-minded code still reads it.
#ifndef HILT_ERRORS_H
#define HILT_ERRORS_H

#include <lua.h>

/// Pushes a new Error with `code` ("cancelled", "timeout", ...) and a
/// formatted message. Never raises except on memory errors.
void hilt_error_push(lua_State *L, const char *code, const char *fmt, ...);

/// True when the value at idx is an Error; if code is not NULL, one with
/// that code.
int hilt_error_is(lua_State *L, int idx, const char *code);

/// Replaces the value at the top of L with an Error: an Error stays as is
/// (gaining `traceback` if it has none), anything else becomes
/// {code="failed", message=tostring(value), value=value}. `traceback` may be
/// NULL.
void hilt_error_wrap(lua_State *L, const char *traceback);

/// Registers the metatable; pushes nothing.
void hilt__error_open(lua_State *L);

/// Pushes the Error metatable (for the Lua library).
void hilt_error_push_metatable(lua_State *L);

#endif
