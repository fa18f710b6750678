// hilt.core: the C half of the hilt module (tasks, time, logging, stats).
// lua/hilt/init.lua builds the public API on top of it.
#include <lauxlib.h>

#include "bind.h"
#include "errors.h"
#include "task.h"

static void count_handle_cb(uv_handle_t *handle, void *arg)
{
  if (uv_is_active(handle) && uv_has_ref(handle) &&
      handle->type != UV_IDLE) {
    (*(int *)arg)++;
  }
}

// stats() -> {tasks=, waiting=, spawned=, timers=, handles=}: what keeps
// the process alive, for leak checks after each spec.
static int l_stats(lua_State *L)
{
  hilt_sched_stats_t st;
  hilt_sched_stats(&st);
  int handles = 0;
  uv_walk(hilt_sched_loop(), count_handle_cb, &handles);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, st.live_tasks);
  lua_setfield(L, -2, "tasks");
  lua_pushinteger(L, st.waiting_tasks);
  lua_setfield(L, -2, "waiting");
  lua_pushinteger(L, (lua_Integer)st.spawned);
  lua_setfield(L, -2, "spawned");
  lua_pushinteger(L, hilt__timer_active_count());
  lua_setfield(L, -2, "timers");
  lua_pushinteger(L, handles);
  lua_setfield(L, -2, "handles");
  return 1;
}

// error(code, message) -> a new hilt.Error.
static int l_error(lua_State *L)
{
  const char *code = luaL_checkstring(L, 1);
  const char *msg = luaL_checkstring(L, 2);
  hilt_error_push(L, code, "%s", msg);
  return 1;
}

static int l_is_error(lua_State *L)
{
  lua_pushboolean(L, hilt_error_is(L, 1, luaL_optstring(L, 2, NULL)));
  return 1;
}

// isatty(fd) -> true when fd is a terminal.
static int l_isatty(lua_State *L)
{
  int fd = (int)luaL_checkinteger(L, 1);
  lua_pushboolean(L, uv_guess_handle(fd) == UV_TTY);
  return 1;
}

// exepath() -> the absolute path of the running hilt binary.
static int l_exepath(lua_State *L)
{
  char buf[4096];
  size_t size = sizeof buf;
  if (uv_exepath(buf, &size) != 0) {
    return 0;
  }
  lua_pushlstring(L, buf, size);
  return 1;
}

int luaopen_hilt_core(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"stats", l_stats},
    {"error", l_error},
    {"is_error", l_is_error},
    {"isatty", l_isatty},
    {"exepath", l_exepath},
    {NULL, NULL},
  };
  luaL_newlib(L, funcs);
  hilt__task_lib(L);
  hilt__timer_lib(L);
  hilt__log_lib(L);
  hilt__signal_lib(L);
  hilt__tty_lib(L);
  hilt__edit_lib(L);
  hilt_error_push_metatable(L);
  lua_setfield(L, -2, "Error");
  lua_pushstring(L, HILT_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
