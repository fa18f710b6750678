// hilt.net.core: raw byte streams over TCP, unix sockets and stdio for
// scripts (docs/io.md). connect and listen take an address string
// (runtime/net_addr.h); the Stream type is in l_net_stream.c.
#include <lauxlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bind.h"
#include "errors.h"
#include "task.h"
#include "l_net.h"
#include "log.h"

#define LISTENER_MT "hilt.net.Listener"

typedef struct {
  net_listener_t *l;  // NULL once closed
  lua_State *L;
  int self_ref;       // anchors the userdata while listening
  net_addr_kind_t kind;
  char addr[NET_ADDR_STRLEN];
} listener_t;

enum { LISTENER_UV_ON_ACCEPT = 1 };

// Parses the address at idx, raising invalid_argument when it is bad.
static void check_addr(lua_State *L, int idx, net_addr_t *a)
{
  char err[NET_ERR_MAX];
  if (net_addr_parse(a, luaL_checkstring(L, idx), err, sizeof err) != 0) {
    hilt_error_push(L, "invalid_argument", "%s", err);
    lua_error(L);
  }
}

// Raises for a stream that could not be made: a bad address is the
// caller's, anything else the network's.
static int raise_open(lua_State *L, int rc, const char *err)
{
  hilt_error_push(L, rc == UV_EINVAL ? "invalid_argument" : "unavailable",
                  "%s", err);
  return lua_error(L);
}

// --- connect -----------------------------------------------------------------------

// Resumes connect: returns the stream, or raises why it did not connect.
static int connect_k(lua_State *L, int status, lua_KContext ctx)
{
  lstream_t *ls = lua_touserdata(L, (int)ctx);
  hilt__task_resumed(L);
  if (ls->err != 0 || ls->closed) {
    hilt_error_push(L, "unavailable", "%s",
                    ls->closed ? "the stream was closed while connecting"
                               : ls->why);
    hilt__net_stream_close(ls);
    return lua_error(L);
  }
  lua_settop(L, (int)ctx);
  return 1;
}

static void connect_cancel(hilt_task_t *task, void *data)
{
  lstream_t *ls = data;
  ls->connecting = NULL;
  hilt__net_stream_close(ls);
}

// connect(addr) -> stream, once connected; raises unavailable naming the
// address and the reason.
static int l_connect(lua_State *L)
{
  net_addr_t a;
  net_stream_t *s;
  char err[NET_ERR_MAX], name[NET_ADDR_STRLEN];
  check_addr(L, 1, &a);
  lua_settop(L, 1);
  hilt_task_check_can_wait(L, "net.connect");
  lstream_t *ls =
      hilt__net_stream_new(L, net_addr_format(&a, name, sizeof name));
  int rc = net_connect(hilt_sched_loop(), &a, &hilt__net_stream_cb, ls, &s,
                       err, sizeof err);
  if (rc != 0) {
    return raise_open(L, rc, err);
  }
  hilt__net_stream_attach(ls, s);
  ls->connecting = hilt_task_current();
  hilt__net_stream_update_ref(ls);
  return hilt_task_waitk(L, "net.connect", connect_cancel, ls, lua_gettop(L),
                         connect_k);
}

// --- stdio ---------------------------------------------------------------------------

// stdio() -> stream: the process's stdin and stdout. The first call takes
// them (stray prints go to stderr from then on); later calls return the
// same stream.
static int l_stdio(lua_State *L)
{
  char err[NET_ERR_MAX];
  net_stream_t *s;
  if (lua_getfield(L, LUA_REGISTRYINDEX, "hilt.net.stdio") != LUA_TNIL) {
    return 1;
  }
  lstream_t *ls = hilt__net_stream_new(L, "stdio");
  int rc = net_stream_stdio(hilt_sched_loop(), NULL, NULL, &s, err,
                            sizeof err);
  if (rc != 0) {
    return raise_open(L, rc == UV_EINVAL ? UV_EIO : rc, err);
  }
  hilt__net_stream_attach(ls, s);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, "hilt.net.stdio");
  return 1;
}

// --- listeners ---------------------------------------------------------------------

// The name of an accepted stream: its peer's address over TCP, the
// listener's over a unix socket (where peers have none).
static const char *peer_name(net_stream_t *s, const listener_t *l,
                             char *out, size_t n)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  net_addr_t a;
  int fd;
  memset(&a, 0, sizeof a);
  a.kind = NET_ADDR_TCP;
  if (l->kind != NET_ADDR_TCP || net_stream_fileno(s, &fd) != 0 ||
      getpeername(fd, (struct sockaddr *)&ss, &len) != 0 ||
      uv_ip_name((struct sockaddr *)&ss, a.host, sizeof a.host) != 0) {
    snprintf(out, n, "%s", l->addr);
    return out;
  }
  a.port = ss.ss_family == AF_INET6
               ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
               : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return net_addr_format(&a, out, n);
}

static void on_accept(net_listener_t *nl, net_stream_t *s, int status,
                      void *data)
{
  listener_t *l = data;
  lua_State *L = l->L;
  char name[NET_NAME_MAX];
  if (status != 0) {
    HILT_WARN("net", "accepting on %s: %s", l->addr, uv_strerror(status));
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, l->self_ref);
  lua_getiuservalue(L, -1, LISTENER_UV_ON_ACCEPT);
  lstream_t *ls = hilt__net_stream_new(L, peer_name(s, l, name, sizeof name));
  hilt__net_stream_attach(ls, s);
  hilt_task_spawn_at(L, 1, "net on_accept");  // on_accept(stream)
  lua_pop(L, 2);
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

// listen(addr, on_accept) -> listener; on_accept(stream) runs in a new
// task for each connection.
static int l_listen(lua_State *L)
{
  net_addr_t a, bound;
  char err[NET_ERR_MAX];
  check_addr(L, 1, &a);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  listener_t *l = lua_newuserdatauv(L, sizeof *l, 1);
  memset(l, 0, sizeof *l);
  l->L = hilt_sched_state();  // not L: a task's thread is reused
  l->self_ref = LUA_NOREF;
  l->kind = a.kind;
  luaL_setmetatable(L, LISTENER_MT);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, LISTENER_UV_ON_ACCEPT);
  int rc = net_listen(hilt_sched_loop(), &a, on_accept, l, &l->l, err,
                      sizeof err);
  if (rc != 0) {
    return raise_open(L, rc, err);
  }
  if (net_listener_addr(l->l, &bound) == 0) {
    net_addr_format(&bound, l->addr, sizeof l->addr);
  }
  lua_pushvalue(L, -1);
  l->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

// listener:close(): stops accepting; streams already accepted go on.
static int l_listener_close(lua_State *L)
{
  listener_stop(check_listener(L, 1));
  return 0;
}

// listener:address() -> the bound address, with the port chosen for 0.
static int l_listener_address(lua_State *L)
{
  lua_pushstring(L, check_listener(L, 1)->addr);
  return 1;
}

static int l_listener_tostring(lua_State *L)
{
  listener_t *l = check_listener(L, 1);
  lua_pushfstring(L, "net listener %s%s", l->addr,
                  l->l == NULL ? " (closed)" : "");
  return 1;
}

static void listener_open(lua_State *L)
{
  static const luaL_Reg methods[] = {{"close", l_listener_close},
                                     {"address", l_listener_address},
                                     {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", l_listener_close},
                                  {"__close", l_listener_close},
                                  {"__tostring", l_listener_tostring},
                                  {NULL, NULL}};
  if (luaL_newmetatable(L, LISTENER_MT)) {
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}

int luaopen_hilt_net_core(lua_State *L)
{
  static const luaL_Reg funcs[] = {{"connect", l_connect},
                                   {"listen", l_listen},
                                   {"stdio", l_stdio},
                                   {NULL, NULL}};
  hilt__net_stream_open(L);
  listener_open(L);
  luaL_newlib(L, funcs);
  return 1;
}
