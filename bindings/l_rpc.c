// hilt.rpc.core: connections of hilt's wire (docs/protocol.md) for the Lua
// library in lua/hilt/rpc.lua. connect and listen take an address string
// (runtime/net_addr.c); pair makes two connected ends in this process.
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "task.h"
#include "l_msgpack.h"
#include "l_rpc.h"
#include "log.h"

#define LISTENER_MT "hilt.rpc.Listener"

typedef struct {
  net_listener_t *l;  // NULL once closed
  lua_State *L;
  int self_ref;       // anchors the userdata while listening
  char addr[NET_ADDR_STRLEN];
  char *token;
} listener_t;

enum { LISTENER_UV_ON_ACCEPT = 1, LISTENER_UV_CONN_NEW = 2 };

static void check_addr(lua_State *L, int idx, net_addr_t *a)
{
  char err[NET_ERR_MAX];
  if (net_addr_parse(a, luaL_checkstring(L, idx), err, sizeof err) != 0) {
    hilt_error_push(L, "invalid_argument", "%s", err);
    lua_error(L);
  }
}

static const char *opt_token(lua_State *L, int idx)
{
  if (lua_isnoneornil(L, idx)) {
    return NULL;
  }
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "token");
  const char *t = luaL_optstring(L, -1, NULL);
  lua_pop(L, 1);
  luaL_argcheck(L, t == NULL || *t != '\0', idx, "token must not be empty");
  return t;
}

// Resumes connect with (true) or (nil, why): returns the conn or raises.
static int connect_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  if (lua_isnil(L, -2)) {
    hilt_error_push(L, "unavailable", "%s", lua_tostring(L, -1));
    return lua_error(L);
  }
  lua_settop(L, (int)ctx);
  return 1;
}

static void connect_cancel(hilt_task_t *task, void *data)
{
  conn_t *c = data;
  c->connecting = NULL;
  hilt__conn_end(c, "connect cancelled");
}

// connect(addr [, opts]) -> conn; raises unavailable on failure
static int l_connect(lua_State *L)
{
  net_addr_t a;
  char err[NET_ERR_MAX], name[NET_ADDR_STRLEN];
  check_addr(L, 1, &a);
  hilt_task_check_can_wait(L, "rpc.connect");
  conn_t *c = hilt__conn_new(L, NULL, net_addr_format(&a, name, sizeof name));
  net_stream_t *s;
  if (net_connect(hilt_sched_loop(), &a, &hilt__conn_stream_cb, c, &s, err,
                  sizeof err) != 0) {
    hilt_error_push(L, "unavailable", "%s", err);
    return lua_error(L);
  }
  hilt__conn_attach(L, c, s);
  c->connecting = hilt_task_current();
  return hilt_task_waitk(L, "rpc.connect", connect_cancel, c, lua_gettop(L),
                         connect_k);
}

// pair() -> conn_a, conn_b: two connected ends in this process
static int l_pair(lua_State *L)
{
  net_stream_t *a, *b;
  int rc = net_stream_pair(hilt_sched_loop(), NULL, NULL, NULL, NULL, &a, &b);
  if (rc != 0) {
    hilt_error_push(L, "unavailable", "cannot make a pair: %s",
                    uv_strerror(rc));
    return lua_error(L);
  }
  conn_t *ca = hilt__conn_new(L, NULL, "pair");
  hilt__conn_attach(L, ca, a);
  conn_t *cb = hilt__conn_new(L, NULL, "pair");
  hilt__conn_attach(L, cb, b);
  return 2;
}

// stdio() -> conn: the process's stdin and stdout as one connection (for
// hilt run by another program); stray prints go to stderr from then on.
static int l_stdio(lua_State *L)
{
  char err[NET_ERR_MAX];
  net_stream_t *s;
  if (net_stream_stdio(hilt_sched_loop(), NULL, NULL, &s, err, sizeof err) !=
      0) {
    hilt_error_push(L, "unavailable", "cannot speak on stdio: %s", err);
    return lua_error(L);
  }
  conn_t *c = hilt__conn_new(L, NULL, "stdio");
  hilt__conn_attach(L, c, s);
  return 1;
}

// --- listeners -------------------------------------------------------------------

static void on_accept(net_listener_t *nl, net_stream_t *s, int status,
                      void *data)
{
  listener_t *l = data;
  lua_State *L = l->L;
  if (status != 0) {
    HILT_WARN("rpc", "accepting on %s: %s", l->addr, uv_strerror(status));
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, l->self_ref);
  lua_getiuservalue(L, -1, LISTENER_UV_ON_ACCEPT);
  // The conn is made by a closure over msgpack's upvalues.
  lua_getiuservalue(L, -2, LISTENER_UV_CONN_NEW);
  lua_pushlightuserdata(L, l);
  lua_call(L, 1, 1);
  conn_t *c = lua_touserdata(L, -1);
  hilt__conn_attach(L, c, s);
  hilt_task_spawn_at(L, 1, "rpc on_connect");  // on_accept(conn)
  lua_pop(L, 2);
}

// The conn of a new connection on the listener (a lightuserdata).
static int l_conn_for(lua_State *L)
{
  listener_t *l = lua_touserdata(L, 1);
  hilt__conn_new(L, l->token, "client");
  return 1;
}

static listener_t *check_listener(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, LISTENER_MT);
}

static void listener_stop(listener_t *l)
{
  if (l->l != NULL) {
    net_listener_close(l->l);
    l->l = NULL;
    luaL_unref(l->L, LUA_REGISTRYINDEX, l->self_ref);
    l->self_ref = LUA_NOREF;
  }
}

// listen(addr, opts, on_accept) -> listener. A TCP address that is not
// loopback needs opts.token.
static int l_listen(lua_State *L)
{
  net_addr_t a;
  char err[NET_ERR_MAX];
  check_addr(L, 1, &a);
  const char *token = opt_token(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  if (token == NULL && !net_addr_is_loopback(&a)) {
    hilt_error_push(L, "invalid_argument",
                    "listening on %s, which is not a loopback address, "
                    "needs a token (give one with --token or opts.token)",
                    lua_tostring(L, 1));
    return lua_error(L);
  }
  listener_t *l = lua_newuserdatauv(L, sizeof *l, 2);
  memset(l, 0, sizeof *l);
  l->L = hilt_sched_state();  // not L: a task's thread is reused
  l->self_ref = LUA_NOREF;
  luaL_setmetatable(L, LISTENER_MT);
  if (token != NULL) {
    l->token = strdup(token);
  }
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, -2, LISTENER_UV_ON_ACCEPT);
  lua_pushvalue(L, lua_upvalueindex(MP_NUP + 1));
  lua_setiuservalue(L, -2, LISTENER_UV_CONN_NEW);
  if (net_listen(hilt_sched_loop(), &a, on_accept, l, &l->l, err,
                 sizeof err) != 0) {
    hilt_error_push(L, "unavailable", "%s", err);
    return lua_error(L);
  }
  net_addr_t bound;
  if (net_listener_addr(l->l, &bound) == 0) {
    net_addr_format(&bound, l->addr, sizeof l->addr);
  }
  lua_pushvalue(L, -1);
  l->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static int l_listener_close(lua_State *L)
{
  listener_stop(check_listener(L, 1));
  return 0;
}

// listener:address() -> the bound address (with the port chosen for 0)
static int l_listener_address(lua_State *L)
{
  lua_pushstring(L, check_listener(L, 1)->addr);
  return 1;
}

static int l_listener_gc(lua_State *L)
{
  listener_t *l = check_listener(L, 1);
  listener_stop(l);
  free(l->token);
  l->token = NULL;
  return 0;
}

int luaopen_hilt_rpc_core(lua_State *L)
{
  static const luaL_Reg funcs[] = {
      {"connect", l_connect}, {"pair", l_pair}, {"stdio", l_stdio},
      {"notify_all", hilt__conn_notify_all}, {NULL, NULL}};
  lua_getglobal(L, "require");
  lua_pushstring(L, "hilt.msgpack");
  lua_call(L, 1, 0);
  lua_newtable(L);
  int mod = lua_gettop(L);
  hilt__msgpack_push_upvalues(L);
  hilt__conn_open(L, mod + 1);
  lua_pushvalue(L, mod);
  hilt__msgpack_setfuncs(L, mod + 1, funcs);
  lua_pop(L, 1);
  // listen closes over msgpack's upvalues and, after them, the maker of
  // conns, itself a closure over the same upvalues: one set for each.
  for (int i = 1; i <= MP_NUP; i++) {
    lua_pushvalue(L, mod + i);
  }
  for (int i = 1; i <= MP_NUP; i++) {
    lua_pushvalue(L, mod + i);
  }
  lua_pushcclosure(L, l_conn_for, MP_NUP);
  lua_pushcclosure(L, l_listen, MP_NUP + 1);
  lua_setfield(L, mod, "listen");
  lua_settop(L, mod);
  if (luaL_newmetatable(L, LISTENER_MT)) {
    static const luaL_Reg methods[] = {{"close", l_listener_close},
                                       {"address", l_listener_address},
                                       {NULL, NULL}};
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_listener_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  return 1;
}
