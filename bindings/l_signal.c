// Process signals in hilt.core: signal(name, fn) runs fn as a task each
// time the process receives the signal, so an exporter can end its calls
// and close its drivers on SIGTERM instead of dying mid-call. Watching a
// signal does not keep the process running.
#include <lauxlib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bind.h"
#include "proc.h"
#include "task.h"

#define SIGNAL_MT "hilt.Signal"

typedef struct {
  uv_signal_t *handle;  // freed in its close callback; NULL once stopped
  int fn_ref;
  int self_ref;         // anchors the userdata while watching
} watcher_t;

// Signal names are those of child processes (runtime/proc_signal.c):
// "term", "TERM" and "SIGTERM" all work.
static int check_signum(lua_State *L, int idx)
{
  const char *name = luaL_checkstring(L, idx);
  int signum = proc_signal_parse(name);
  if (signum == 0) {
    return luaL_argerror(L, idx, lua_pushfstring(L, "unknown signal '%s' "
                         "(term, int, hup, usr1, usr2, ...)", name));
  }
  return signum;
}

static void close_cb(uv_handle_t *handle)
{
  free(handle);
}

static void watcher_stop(lua_State *L, watcher_t *w)
{
  if (w->handle == NULL) {
    return;
  }
  uv_close((uv_handle_t *)w->handle, close_cb);
  w->handle = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, w->fn_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, w->self_ref);
  w->fn_ref = w->self_ref = LUA_NOREF;
}

static void signal_cb(uv_signal_t *handle, int signum)
{
  watcher_t *w = handle->data;
  lua_State *L = handle->loop->data;
  lua_rawgeti(L, LUA_REGISTRYINDEX, w->fn_ref);
  lua_pushstring(L, strsignal(signum));
  hilt_task_spawn_at(L, 1, "signal handler");
  lua_pop(L, 1);
}

// signal(name, fn) -> watcher: fn(description) runs as a new task on each
// delivery of the signal, until watcher:stop().
static int l_signal(lua_State *L)
{
  int signum = check_signum(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  watcher_t *w = lua_newuserdatauv(L, sizeof *w, 0);
  w->handle = NULL;
  w->fn_ref = w->self_ref = LUA_NOREF;
  luaL_setmetatable(L, SIGNAL_MT);
  uv_signal_t *h = malloc(sizeof *h);
  if (h == NULL) {
    return luaL_error(L, "hilt.signal: out of memory");
  }
  uv_signal_init(hilt_sched_loop(), h);
  int rc = uv_signal_start(h, signal_cb, signum);
  if (rc < 0) {
    uv_close((uv_handle_t *)h, close_cb);
    return luaL_error(L, "hilt.signal: cannot watch %s: %s",
                      lua_tostring(L, 1), uv_strerror(rc));
  }
  uv_unref((uv_handle_t *)h);
  h->data = w;
  w->handle = h;
  lua_pushvalue(L, 2);
  w->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  w->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

// own_sigint(bool): while true, SIGINT leaves the main task alone and only
// reaches the script's watchers.
static int l_own_sigint(lua_State *L)
{
  hilt_sigint_own(lua_toboolean(L, 1));
  return 0;
}

static int l_watcher_stop(lua_State *L)
{
  watcher_stop(L, luaL_checkudata(L, 1, SIGNAL_MT));
  return 0;
}

static int l_watcher_tostring(lua_State *L)
{
  watcher_t *w = luaL_checkudata(L, 1, SIGNAL_MT);
  lua_pushfstring(L, "hilt.Signal (%s)", w->handle ? "watching" : "stopped");
  return 1;
}

static const luaL_Reg watcher_methods[] = {
  {"stop", l_watcher_stop},
  {NULL, NULL},
};

static const luaL_Reg watcher_meta[] = {
  {"__gc", l_watcher_stop},
  {"__close", l_watcher_stop},
  {"__tostring", l_watcher_tostring},
  {NULL, NULL},
};

void hilt__signal_lib(lua_State *L)
{
  luaL_newmetatable(L, SIGNAL_MT);
  luaL_setfuncs(L, watcher_meta, 0);
  luaL_newlib(L, watcher_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_signal);
  lua_setfield(L, -2, "signal");
  lua_pushcfunction(L, l_own_sigint);
  lua_setfield(L, -2, "own_sigint");
}
