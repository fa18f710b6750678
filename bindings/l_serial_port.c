// A serial port's controls (hilt.serial.Control): settings, the modem
// lines, break, flush and the device's output queue, over runtime/
// serial_port.c. The port's bytes go through its Stream (the user value
// PORT_UV_STREAM); lua/hilt/serial.lua joins both into the Port object
// that scripts see, and its methods pass their caller's arguments here.
//
// Every call is a system call that returns at once. A failure raises a
// hilt.Error: `unavailable` when the device went away, `failed` when it
// does not do what was asked (a pty has no modem lines).
#include <lauxlib.h>
#include <string.h>

#include "errors.h"
#include "l_net.h"
#include "l_serial.h"

static const char *const set_keys[] = {"baud", "bits", "parity", "stop",
                                       "flow", NULL};

lport_t *hilt__serial_port_new(lua_State *L, const char *path)
{
  lport_t *lp = lua_newuserdatauv(L, sizeof *lp, 1);
  lp->p = NULL;
  snprintf(lp->path, sizeof lp->path, "%s", path);
  luaL_setmetatable(L, SERIAL_PORT_MT);
  return lp;
}

int hilt__serial_raise(lua_State *L, const lport_t *lp, const char *op,
                       int status)
{
  char msg[SERIAL_ERR_MAX];
  serial_describe(lp->p, op, status, msg, sizeof msg);
  hilt_error_push(L, serial_gone(status) ? "unavailable" : "failed", "%s",
                  msg);
  return lua_error(L);
}

// The control object at 1, raising `unavailable` once it is closed.
static lport_t *check_port(lua_State *L)
{
  lport_t *lp = luaL_checkudata(L, 1, SERIAL_PORT_MT);
  if (lp->p == NULL) {
    hilt_error_push(L, "unavailable", "serial %s: the port is closed",
                    lp->path);
    lua_error(L);
  }
  return lp;
}

// Raises argument #1 of `fname` unless the value at 2 is a boolean.
static int check_on(lua_State *L, const char *fname)
{
  if (lua_type(L, 2) != LUA_TBOOLEAN) {
    hilt__serial_arg_error(L, 1, fname, "boolean expected, got %s",
                           luaL_typename(L, 2));
  }
  return lua_toboolean(L, 2);
}

static void push_settings(lua_State *L, const serial_settings_t *s)
{
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, s->baud);
  lua_setfield(L, -2, "baud");
  lua_pushinteger(L, s->bits);
  lua_setfield(L, -2, "bits");
  lua_pushstring(L, serial_parity_name(s->parity));
  lua_setfield(L, -2, "parity");
  lua_pushinteger(L, s->stop);
  lua_setfield(L, -2, "stop");
  lua_pushstring(L, serial_flow_name(s->flow));
  lua_setfield(L, -2, "flow");
}

// set({baud=, bits=, parity=, stop=, flow=}): changes what is given.
static int l_set(lua_State *L)
{
  lport_t *lp = check_port(L);
  char err[SERIAL_ERR_MAX];
  serial_settings_t s;
  if (!lua_istable(L, 2)) {
    return hilt__serial_arg_error(L, 1, "set", "table expected, got %s",
                                  luaL_typename(L, 2));
  }
  hilt__serial_check_keys(L, 2, 1, "set", "setting", set_keys);
  serial_get(lp->p, &s);
  hilt__serial_check_settings(L, 2, 1, "set", &s);
  int rc = serial_set(lp->p, &s, err, sizeof err);
  if (rc != 0) {
    hilt_error_push(L, serial_gone(rc) ? "unavailable" : "failed", "%s",
                    err);
    return lua_error(L);
  }
  return 0;
}

// get() -> {baud=, bits=, parity=, stop=, flow=}
static int l_get(lua_State *L)
{
  serial_settings_t s;
  serial_get(check_port(L)->p, &s);
  push_settings(L, &s);
  return 1;
}

static int l_dtr(lua_State *L)
{
  lport_t *lp = check_port(L);
  int rc = serial_set_dtr(lp->p, check_on(L, "dtr"));
  return rc == 0 ? 0 : hilt__serial_raise(L, lp, "dtr", rc);
}

static int l_rts(lua_State *L)
{
  lport_t *lp = check_port(L);
  int rc = serial_set_rts(lp->p, check_on(L, "rts"));
  return rc == 0 ? 0 : hilt__serial_raise(L, lp, "rts", rc);
}

static void set_bool(lua_State *L, const char *name, int v)
{
  lua_pushboolean(L, v);
  lua_setfield(L, -2, name);
}

// lines() -> {cts=, dsr=, dcd=, ri=, dtr=, rts=}
static int l_lines(lua_State *L)
{
  lport_t *lp = check_port(L);
  serial_lines_t l;
  int rc = serial_get_lines(lp->p, &l);
  if (rc != 0) {
    return hilt__serial_raise(L, lp, "lines", rc);
  }
  lua_createtable(L, 0, 6);
  set_bool(L, "cts", l.cts);
  set_bool(L, "dsr", l.dsr);
  set_bool(L, "dcd", l.dcd);
  set_bool(L, "ri", l.ri);
  set_bool(L, "dtr", l.dtr);
  set_bool(L, "rts", l.rts);
  return 1;
}

static int l_break_start(lua_State *L)
{
  lport_t *lp = check_port(L);
  int rc = serial_break(lp->p, 1);
  return rc == 0 ? 0 : hilt__serial_raise(L, lp, "send_break", rc);
}

// Ends a break; does nothing once the port is closed (closing ended it).
static int l_break_stop(lua_State *L)
{
  lport_t *lp = luaL_checkudata(L, 1, SERIAL_PORT_MT);
  int rc = lp->p != NULL ? serial_break(lp->p, 0) : 0;
  return rc == 0 ? 0 : hilt__serial_raise(L, lp, "send_break", rc);
}

// flush([which]): which is "input", "output" or "both" (the default).
// Dropping input drops what the stream holds unread too.
static int l_flush(lua_State *L)
{
  lport_t *lp = check_port(L);
  serial_flush_t which = SERIAL_FLUSH_BOTH;
  if (!lua_isnoneornil(L, 2) &&
      (lua_type(L, 2) != LUA_TSTRING ||
       serial_flush_parse(lua_tostring(L, 2), &which) != 0)) {
    return hilt__serial_arg_error(L, 1, "flush", "which must be %s, got %s",
                                  serial_flush_names,
                                  luaL_tolstring(L, 2, NULL));
  }
  int rc = serial_flush(lp->p, which);
  if (rc != 0) {
    return hilt__serial_raise(L, lp, "flush", rc);
  }
  if (which & SERIAL_FLUSH_INPUT) {
    lua_getiuservalue(L, 1, PORT_UV_STREAM);
    hilt__net_stream_discard(luaL_checkudata(L, -1, NET_STREAM_MT));
  }
  return 0;
}

// output_waiting() -> bytes the device holds and has not sent.
static int l_output_waiting(lua_State *L)
{
  lport_t *lp = check_port(L);
  size_t n;
  int rc = serial_output_waiting(lp->p, &n);
  if (rc != 0) {
    return hilt__serial_raise(L, lp, "drain", rc);
  }
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

// close(): closes the device and the stream (which sends what was
// written first). Idempotent.
static int l_close(lua_State *L)
{
  lport_t *lp = luaL_checkudata(L, 1, SERIAL_PORT_MT);
  serial_close(lp->p);
  lp->p = NULL;
  if (lua_getiuservalue(L, 1, PORT_UV_STREAM) == LUA_TUSERDATA) {
    hilt__net_stream_close(luaL_checkudata(L, -1, NET_STREAM_MT));
  }
  return 0;
}

// The stream closes on its own (its own __gc).
static int l_gc(lua_State *L)
{
  lport_t *lp = luaL_checkudata(L, 1, SERIAL_PORT_MT);
  serial_close(lp->p);
  lp->p = NULL;
  return 0;
}

static int l_tostring(lua_State *L)
{
  lport_t *lp = luaL_checkudata(L, 1, SERIAL_PORT_MT);
  lua_pushfstring(L, "serial control %s%s", lp->path,
                  lp->p == NULL ? " (closed)" : "");
  return 1;
}

void hilt__serial_port_open(lua_State *L)
{
  static const luaL_Reg methods[] = {
      {"set", l_set},
      {"get", l_get},
      {"dtr", l_dtr},
      {"rts", l_rts},
      {"lines", l_lines},
      {"break_start", l_break_start},
      {"break_stop", l_break_stop},
      {"flush", l_flush},
      {"output_waiting", l_output_waiting},
      {"close", l_close},
      {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", l_gc},
                                  {"__close", l_close},
                                  {"__tostring", l_tostring},
                                  {NULL, NULL}};
  if (luaL_newmetatable(L, SERIAL_PORT_MT)) {
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}
