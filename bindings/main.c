// hilt's main(): sets up Lua and the loop, runs lua/hilt/cli/main.lua as
// the main task, and turns how that task ends into the exit status.
//
// Option handling (lua.c's -e -l -i -v -E -W and subcommands) lives in Lua;
// this file only owns the process: state, loop, signals, teardown.
#include <lauxlib.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bind.h"
#include "errors.h"
#include "log.h"
#include "task.h"

static uv_signal_t sigint_handle;
static uv_prepare_t log_flush_handle;

// Runs each time the loop is about to wait for I/O: the log lines batched
// during the pass go out now, in one write.
static void log_flush_cb(uv_prepare_t *handle)
{
  hilt_log_flush();
}
static int sigint_count;
static int sigint_owned;

void hilt_sigint_own(int owned)
{
  sigint_owned = owned;
}

static void sigint_cb(uv_signal_t *handle, int signum)
{
  lua_State *L = handle->loop->data;
  hilt_task_t *main_task = hilt_sched_main();
  if (sigint_owned) {
    return;  // a watcher of the script's handles it (the REPL)
  }
  sigint_count++;
  if (sigint_count == 1 && main_task != NULL &&
      main_task->status < HILT_TASK_DONE) {
    hilt_error_push(L, "cancelled", "interrupted");
    hilt_task_interrupt(L, main_task);
    return;
  }
  if (sigint_count == 1) {
    hilt_sched_exit(130);
    return;
  }
  fflush(stdout);
  fputs("hilt: interrupted\n", stderr);
  _exit(130);
}

// Runs in protected mode: opens libraries and spawns the main task.
static int pmain(lua_State *L)
{
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  luaL_openlibs(L);
  hilt_sched_init(L, uv_default_loop());
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_hilt_core);
  lua_setfield(L, -2, "hilt.core");
  lua_pushcfunction(L, luaopen_hilt_msgpack);
  lua_setfield(L, -2, "hilt.msgpack");
  lua_pushcfunction(L, luaopen_hilt_rpc_core);
  lua_setfield(L, -2, "hilt.rpc.core");
  lua_pushcfunction(L, luaopen_hilt_net_core);
  lua_setfield(L, -2, "hilt.net.core");
  lua_pushcfunction(L, luaopen_hilt_process_core);
  lua_setfield(L, -2, "hilt.process.core");
  lua_pushcfunction(L, luaopen_hilt_serial_core);
  lua_setfield(L, -2, "hilt.serial.core");
  lua_pushcfunction(L, luaopen_hilt_json);
  lua_setfield(L, -2, "hilt.json");
  lua_pushcfunction(L, luaopen_hilt_http);
  lua_setfield(L, -2, "hilt.http");
  lua_pushcfunction(L, luaopen_hilt_eshet_core);
  lua_setfield(L, -2, "hilt.eshet.core");
  lua_pop(L, 1);
  const char *tried = NULL;
  if (hilt__libpath_setup(L, &tried) == NULL) {
    return luaL_error(L, "cannot find hilt's Lua library (hilt/init.lua); "
                         "looked in:%s\nset HILT_LUA_DIR to its directory",
                      tried);
  }
  lua_getglobal(L, "require");
  lua_pushliteral(L, "hilt.cli.main");
  lua_call(L, 1, 1);
  lua_createtable(L, argc, 0);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  hilt_task_t *t = hilt_task_spawn(L, 1);
  hilt_sched_set_main(t);
  lua_setfield(L, LUA_REGISTRYINDEX, "hilt.main_task");
  return 0;
}

// Prints the main task's error the way lua.c does: message, traceback.
static void report_main_error(lua_State *L)
{
  lua_getfield(L, LUA_REGISTRYINDEX, "hilt.main_task");
  lua_getiuservalue(L, -1, HILT_TASK_UV_ERROR);
  luaL_tolstring(L, -1, NULL);
  lua_getfield(L, -2, "traceback");
  // An error from a peer carries the peer's traceback.
  int remote = lua_getfield(L, -3, "remote") == LUA_TSTRING;
  lua_pop(L, 1);
  fflush(stdout);
  fprintf(stderr, "hilt: %s\n%s%s%s", lua_tostring(L, -2),
          lua_isstring(L, -1) && remote ? "remote " : "",
          lua_isstring(L, -1) ? lua_tostring(L, -1) : "",
          lua_isstring(L, -1) ? "\n" : "");
  fflush(stderr);
  lua_pop(L, 4);
}

// Runs the loop until the main task ends, then until nothing is left that
// keeps it alive. Returns the exit status.
static int run(lua_State *L, uv_loop_t *loop)
{
  hilt_task_t *main_task = hilt_sched_main();
  int code = 0;
  uv_run(loop, UV_RUN_DEFAULT);
  if (hilt_sched_exiting(&code)) {
    return code;
  }
  switch (main_task->status) {
  case HILT_TASK_DONE:
    uv_run(loop, UV_RUN_DEFAULT);
    hilt_sched_exiting(&code);
    return code;
  case HILT_TASK_CANCELLED:
    if (sigint_count > 0) {
      return 130;
    }
    // fall through
  case HILT_TASK_FAILED:
    report_main_error(L);
    return 1;
  default:
    fprintf(stderr, "hilt: the main task waits on %s, but nothing is left "
                    "that could wake it (no timer, task or handle is "
                    "active)\n",
            main_task->wait_name ? main_task->wait_name : "nothing");
    return 1;
  }
}

static void close_walk_cb(uv_handle_t *handle, void *arg)
{
  if (!uv_is_closing(handle)) {
    uv_close(handle, NULL);
  }
}

static void teardown(lua_State *L, uv_loop_t *loop)
{
  fflush(stdout);
  hilt_log_batch(0);
  lua_close(L);
  uv_walk(loop, close_walk_cb, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
}

int main(int argc, char **argv)
{
  if (hilt_log_init() < 0) {
    fprintf(stderr, "hilt: HILT_LOG=%s is not a level (debug, info, warn, "
                    "error, off); using info\n", getenv("HILT_LOG"));
  }
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t *loop = uv_default_loop();
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fputs("hilt: cannot create the Lua state: out of memory\n", stderr);
    return 1;
  }
  loop->data = L;
  uv_signal_init(loop, &sigint_handle);
  uv_signal_start(&sigint_handle, sigint_cb, SIGINT);
  uv_unref((uv_handle_t *)&sigint_handle);
  uv_prepare_init(loop, &log_flush_handle);
  uv_prepare_start(&log_flush_handle, log_flush_cb);
  uv_unref((uv_handle_t *)&log_flush_handle);
  hilt_log_batch(1);

  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int code;
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    fprintf(stderr, "hilt: %s\n", lua_tostring(L, -1));
    code = 1;
  } else {
    code = run(L, loop);
  }
  teardown(L, loop);
  return code;
}
