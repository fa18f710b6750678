// hilt.serial.core: serial ports for scripts (docs/serial.md), over
// runtime/serial*.c. list() enumerates, open() opens a port by path or by
// what is known of it and returns its controls (l_serial_port.c) and its
// byte stream (a hilt.net Stream, l_net_stream.c, marked as a device), and
// openpty() makes a pseudo-terminal whose master end is a Stream, for
// simulated devices. lua/hilt/serial.lua builds the Port object.
#include <lauxlib.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "bind.h"
#include "errors.h"
#include "l_net.h"
#include "l_serial.h"

static const char *const open_keys[] = {"baud", "bits", "parity", "stop",
                                        "flow", "dtr",  "rts",    "exclusive",
                                        NULL};
static const char *const match_keys[] = {"vid", "pid", "serial",
                                         "description", NULL};

int hilt__serial_arg_error(lua_State *L, int arg, const char *fname,
                           const char *fmt, ...)
{
  va_list ap;
  luaL_where(L, 2);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_pushfstring(L, "bad argument #%d to '%s' (%s)", arg, fname,
                  lua_tostring(L, -1));
  lua_remove(L, -2);
  lua_concat(L, 2);
  return lua_error(L);
}

// --- checking arguments ---------------------------------------------------------

void hilt__serial_check_keys(lua_State *L, int idx, int arg,
                             const char *fname, const char *what,
                             const char *const *keys)
{
  for (lua_pushnil(L); lua_next(L, idx) != 0; lua_pop(L, 1)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                   : NULL;
    int i = 0;
    while (k != NULL && keys[i] != NULL && strcmp(keys[i], k) != 0) {
      i++;
    }
    if (k == NULL || keys[i] == NULL) {
      hilt__serial_arg_error(L, arg, fname, "unknown %s '%s'", what,
                             luaL_tolstring(L, -2, NULL));
    }
  }
}

// Reads the integer field `name` of the table at idx into *out, if set.
static void int_field(lua_State *L, int idx, const char *name, int arg,
                      const char *fname, int *out)
{
  int ok;
  if (lua_getfield(L, idx, name) != LUA_TNIL) {
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (lua_type(L, -1) != LUA_TNUMBER || !ok || v < INT_MIN ||
        v > INT_MAX) {
      hilt__serial_arg_error(L, arg, fname, "%s must be an integer, got %s",
                             name, luaL_tolstring(L, -1, NULL));
    }
    *out = (int)v;
  }
  lua_pop(L, 1);
}

// Reads the string field `name` of the table at idx, or NULL if unset.
static const char *string_field(lua_State *L, int idx, const char *name,
                                int arg, const char *fname)
{
  const char *s = NULL;
  if (lua_getfield(L, idx, name) != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING) {
      hilt__serial_arg_error(L, arg, fname, "%s must be a string, got %s",
                             name, luaL_typename(L, -1));
    }
    s = lua_tostring(L, -1);  // the table keeps it
  }
  lua_pop(L, 1);
  return s;
}

static void bad_name(lua_State *L, int arg, const char *fname,
                     const char *name, const char *names, const char *got)
{
  hilt__serial_arg_error(L, arg, fname, "%s must be %s, got '%s'", name,
                         names, got);
}

void hilt__serial_check_settings(lua_State *L, int idx, int arg,
                                 const char *fname, serial_settings_t *s)
{
  char err[128];
  int_field(L, idx, "baud", arg, fname, &s->baud);
  int_field(L, idx, "bits", arg, fname, &s->bits);
  int_field(L, idx, "stop", arg, fname, &s->stop);
  const char *parity = string_field(L, idx, "parity", arg, fname);
  if (parity != NULL && serial_parity_parse(parity, &s->parity) != 0) {
    bad_name(L, arg, fname, "parity", serial_parity_names, parity);
  }
  const char *flow = string_field(L, idx, "flow", arg, fname);
  if (flow != NULL && serial_flow_parse(flow, &s->flow) != 0) {
    bad_name(L, arg, fname, "flow", serial_flow_names, flow);
  }
  if (serial_settings_check(s, err, sizeof err) != 0) {
    hilt__serial_arg_error(L, arg, fname, "%s", err);
  }
}

// Reads the boolean field `name` of the table at idx: -1 if unset.
static int bool_field(lua_State *L, int idx, const char *name, int arg,
                      const char *fname)
{
  int t = lua_getfield(L, idx, name);
  if (t != LUA_TNIL && t != LUA_TBOOLEAN) {
    hilt__serial_arg_error(L, arg, fname, "%s must be a boolean, got %s",
                           name, luaL_typename(L, -1));
  }
  int v = t == LUA_TNIL ? -1 : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

typedef struct {
  serial_settings_t s;
  int dtr, rts, exclusive;  // -1: not asked for
} open_opts_t;

static void check_open_opts(lua_State *L, int idx, open_opts_t *o)
{
  o->s = serial_defaults;
  o->dtr = o->rts = o->exclusive = -1;
  if (lua_isnoneornil(L, idx)) {
    return;
  }
  if (!lua_istable(L, idx)) {
    hilt__serial_arg_error(L, idx, "open", "options table expected, got %s",
                           luaL_typename(L, idx));
  }
  hilt__serial_check_keys(L, idx, idx, "open", "option", open_keys);
  hilt__serial_check_settings(L, idx, idx, "open", &o->s);
  o->dtr = bool_field(L, idx, "dtr", idx, "open");
  o->rts = bool_field(L, idx, "rts", idx, "open");
  o->exclusive = bool_field(L, idx, "exclusive", idx, "open");
}

// Reads a match table: each field optional, at least one set.
static void check_match(lua_State *L, int idx, serial_match_t *m)
{
  m->vid = m->pid = -1;
  hilt__serial_check_keys(L, idx, 1, "open", "match field", match_keys);
  int_field(L, idx, "vid", 1, "open", &m->vid);
  int_field(L, idx, "pid", 1, "open", &m->pid);
  if (m->vid > 0xffff || m->pid > 0xffff || m->vid < -1 || m->pid < -1) {
    hilt__serial_arg_error(L, 1, "open", "vid and pid must be 0..0xffff");
  }
  m->serial = string_field(L, idx, "serial", 1, "open");
  m->description = string_field(L, idx, "description", 1, "open");
  if (m->vid < 0 && m->pid < 0 && m->serial == NULL &&
      m->description == NULL) {
    hilt__serial_arg_error(L, 1, "open", "a match needs vid, pid, serial "
                           "or description");
  }
}

// --- list ------------------------------------------------------------------------

static void set_string(lua_State *L, const char *name, const char *v)
{
  if (v != NULL) {
    lua_pushstring(L, v);
    lua_setfield(L, -2, name);
  }
}

static void push_info(lua_State *L, const serial_info_t *i)
{
  lua_createtable(L, 0, 8);
  set_string(L, "path", i->path);
  set_string(L, "description", i->description);
  set_string(L, "transport", serial_transport_name(i->transport));
  if (i->vid >= 0) {
    lua_pushinteger(L, i->vid);
    lua_setfield(L, -2, "vid");
    lua_pushinteger(L, i->pid);
    lua_setfield(L, -2, "pid");
  }
  set_string(L, "serial", i->serial);
  set_string(L, "manufacturer", i->manufacturer);
  set_string(L, "product", i->product);
}

// Holds a list from serial_list while it is pushed, so that an error
// (out of memory) does not leak it: its __gc frees what is left.
typedef struct {
  serial_info_t *list;
  size_t n;
} list_guard_t;

#define LIST_GUARD_MT "hilt.serial.ListGuard"

static int l_list_guard_gc(lua_State *L)
{
  list_guard_t *g = lua_touserdata(L, 1);
  serial_list_free(g->list, g->n);
  g->list = NULL;
  g->n = 0;
  return 0;
}

// list() -> { {path=, description=, transport=, vid=, pid=, serial=,
// manufacturer=, product=}, ... }, sorted by path.
static int l_list(lua_State *L)
{
  list_guard_t *g = lua_newuserdatauv(L, sizeof *g, 0);
  memset(g, 0, sizeof *g);
  luaL_setmetatable(L, LIST_GUARD_MT);
  int rc = serial_list(&g->list, &g->n);
  if (rc != 0) {
    hilt_error_push(L, "failed", "cannot list serial ports: %s",
                    uv_strerror(rc));
    return lua_error(L);
  }
  lua_createtable(L, (int)g->n, 0);
  for (size_t i = 0; i < g->n; i++) {
    push_info(L, &g->list[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  serial_list_free(g->list, g->n);
  g->list = NULL;
  g->n = 0;
  return 1;
}

// --- open ------------------------------------------------------------------------

// Finds the one port m matches and writes its path into path[0..n), or
// raises not_found (none) or invalid_argument (several).
static void find_port(lua_State *L, const serial_match_t *m, char *path,
                      size_t n)
{
  serial_info_t *list;
  size_t count, at;
  char err[1024];
  int rc = serial_list(&list, &count);
  if (rc == 0) {
    rc = serial_list_match(list, count, m, &at, err, sizeof err);
    if (rc == 0) {
      snprintf(path, n, "%s", list[at].path);
    }
    serial_list_free(list, count);
  } else {
    snprintf(err, sizeof err, "cannot list serial ports: %s",
             uv_strerror(rc));
  }
  if (rc != 0) {
    hilt_error_push(L, rc == UV_ENOENT   ? "not_found"
                       : rc == UV_EINVAL ? "invalid_argument"
                                         : "failed",
                    "%s", err);
    lua_error(L);
  }
}

// Raises for a port serial_open could not open.
static int raise_open(lua_State *L, int rc, const char *err)
{
  hilt_error_push(L, rc == UV_ENOENT ? "not_found" : "failed", "%s", err);
  return lua_error(L);
}

// Sets the lines asked for at opening; raises (closing the port) if the
// device has none.
static void set_lines(lua_State *L, lport_t *lp, const open_opts_t *o)
{
  int rc = 0;
  const char *op = "dtr";
  if (o->dtr >= 0) {
    rc = serial_set_dtr(lp->p, o->dtr);
  }
  if (rc == 0 && o->rts >= 0) {
    op = "rts";
    rc = serial_set_rts(lp->p, o->rts);
  }
  if (rc != 0) {
    char msg[SERIAL_ERR_MAX];
    serial_describe(lp->p, op, rc, msg, sizeof msg);
    serial_close(lp->p);
    lp->p = NULL;
    hilt_error_push(L, serial_gone(rc) ? "unavailable" : "failed", "%s", msg);
    lua_error(L);
  }
}

// Gives the port at -2 its stream, pushed at -1.
static void attach_stream(lua_State *L, lport_t *lp)
{
  char err[SERIAL_ERR_MAX], name[NET_NAME_MAX];
  net_stream_t *s;
  snprintf(name, sizeof name, "serial %s", lp->path);
  lstream_t *ls = hilt__net_stream_new(L, name);
  int rc = serial_stream_open(lp->p, hilt_sched_loop(), NULL, NULL, &s, err,
                              sizeof err);
  if (rc != 0) {
    serial_close(lp->p);
    lp->p = NULL;
    raise_open(L, rc, err);
  }
  ls->device = 1;
  hilt__net_stream_attach(ls, s);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, -3, PORT_UV_STREAM);
}

// The path at 1, raising an argument error for one that holds a NUL.
static const char *check_path(lua_State *L)
{
  size_t n;
  const char *path = lua_tolstring(L, 1, &n);
  if (strlen(path) != n) {
    hilt__serial_arg_error(L, 1, "open", "path must not hold a NUL byte");
  }
  return path;
}

// open(spec [, opts]) -> control, stream, path, backend. spec is a path
// or a match table.
static int l_open(lua_State *L)
{
  char found[SERIAL_PATH_MAX], err[SERIAL_ERR_MAX];
  const char *path = found;
  serial_match_t m;
  open_opts_t o;
  if (lua_type(L, 1) == LUA_TTABLE) {
    check_match(L, 1, &m);
  } else if (lua_type(L, 1) == LUA_TSTRING) {
    path = check_path(L);
  } else {
    return hilt__serial_arg_error(L, 1, "open", "path or match table "
                                  "expected, got %s", luaL_typename(L, 1));
  }
  check_open_opts(L, 2, &o);
  if (path == found) {
    find_port(L, &m, found, sizeof found);
  }
  lport_t *lp = hilt__serial_port_new(L, path);
  int rc = serial_open(path, &o.s, o.exclusive > 0, &lp->p, err, sizeof err);
  if (rc != 0) {
    return raise_open(L, rc, err);
  }
  set_lines(L, lp, &o);
  attach_stream(L, lp);
  lua_pushstring(L, serial_path(lp->p));
  lua_pushstring(L, serial_backend(lp->p));
  return 4;
}

// --- openpty ---------------------------------------------------------------------

// openpty() -> master stream, slave path: a simulated device's end of a
// pseudo-terminal, and the path serial.open opens as the port.
static int l_openpty(lua_State *L)
{
  char path[64], err[NET_ERR_MAX];
  int master, slave;
  net_stream_t *s;
  lstream_t *ls = hilt__net_stream_new(L, "pty");
  int rc = serial_pty_open(&master, &slave, path, sizeof path);
  if (rc == 0) {
    rc = net_stream_open_fd(hilt_sched_loop(), master, NULL, NULL, &s, err,
                            sizeof err);
    if (rc != 0) {
      close(master);
      close(slave);
    }
  }
  if (rc != 0) {
    hilt_error_push(L, "failed", "cannot make a pseudo-terminal: %s",
                    uv_strerror(rc));
    return lua_error(L);
  }
  snprintf(ls->name, sizeof ls->name, "pty %s", path);
  ls->hold_fd = slave;  // see serial_pty_open
  ls->no_linger = 1;    // a hangup drops the port's unread input anyway
  hilt__net_stream_attach(ls, s);
  lua_pushstring(L, path);
  return 2;
}

int luaopen_hilt_serial_core(lua_State *L)
{
  static const luaL_Reg funcs[] = {{"list", l_list},
                                   {"open", l_open},
                                   {"openpty", l_openpty},
                                   {NULL, NULL}};
  hilt__net_stream_open(L);
  hilt__serial_port_open(L);
  if (luaL_newmetatable(L, LIST_GUARD_MT)) {
    lua_pushcfunction(L, l_list_guard_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
