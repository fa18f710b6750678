// The line editor (runtime/edit.h) in hilt.core, for `hilt repl`:
//
//   local ed = core.editor({ history = path, complete = fn })
//   ed:prompt("> ")
//   local kind, text = ed:wait()   -- "line", "eof", "tab", "interrupt"
//   ed:resume()                    -- after "tab": complete, read on
//   ed:write(s)                    -- output above the line being typed
//   ed:redraw()                    -- after SIGCONT
//   ed:close()
//
// complete(before, width) -> insert, listing runs inside ed:resume() and
// must not wait. While an editor is open, hilt's log lines go through it.
#include <lauxlib.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bind.h"
#include "edit.h"
#include "errors.h"
#include "log.h"
#include "task.h"

#define EDITOR_MT "hilt.Editor"

typedef struct {
  edit_t *ed;            // NULL once closed
  hilt_task_t *waiter;   // the task in ed:wait(), if any
  int complete_ref;
  lua_State *L;          // the task calling ed:resume(), for complete
} editor_t;

static const char *const EVENT_NAMES[] = {"none", "line", "eof", "tab",
                                          "interrupt"};

static editor_t *check_open(lua_State *L)
{
  editor_t *e = luaL_checkudata(L, 1, EDITOR_MT);
  if (e->ed == NULL) {
    luaL_error(L, "hilt.editor: the editor is closed");
  }
  return e;
}

// Pushes the pending event (kind and text) onto L; 0 when there is none.
static int push_event(lua_State *L, editor_t *e)
{
  const char *text = NULL;
  edit_event_t ev = edit_event(e->ed, &text);
  if (ev == EDIT_NONE) {
    return 0;
  }
  lua_pushstring(L, EVENT_NAMES[ev]);
  if (text != NULL) {
    lua_pushstring(L, text);
  } else {
    lua_pushnil(L);
  }
  return 2;
}

static void on_notify(void *data)
{
  editor_t *e = data;
  hilt_task_t *t = e->waiter;
  if (t == NULL) {
    return;  // kept for the next ed:wait()
  }
  e->waiter = NULL;
  hilt_task_wake(t, push_event(t->co, e));
}

static void wait_cancel(hilt_task_t *task, void *data)
{
  editor_t *e = data;
  if (e->waiter == task) {
    e->waiter = NULL;
  }
}

static char *dup_string(lua_State *L, int idx)
{
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  return s != NULL ? strndup(s, n) : NULL;
}

static void on_complete(void *data, const char *before, int width,
                        char **insert, char **listing)
{
  editor_t *e = data;
  lua_State *L = e->L != NULL ? e->L : hilt_sched_state();
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->complete_ref);
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  lua_pushstring(L, before);
  lua_pushinteger(L, width);
  if (lua_pcall(L, 2, 2, 0) != LUA_OK) {
    hilt_log(HILT_LOG_WARN, "repl", "completion failed: %s",
             lua_tostring(L, -1));
    lua_pop(L, 1);
    return;
  }
  *insert = dup_string(L, -2);
  *listing = dup_string(L, -1);
  lua_pop(L, 2);
}

static void log_writer(void *data, const char *s, size_t n)
{
  edit_write(data, s, n);
}

static void editor_close(lua_State *L, editor_t *e)
{
  if (e->ed == NULL) {
    return;
  }
  hilt_log_set_writer(NULL, NULL);
  edit_close(e->ed);
  e->ed = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, e->complete_ref);
  e->complete_ref = LUA_NOREF;
  if (e->waiter != NULL) {
    hilt_task_t *t = e->waiter;
    e->waiter = NULL;
    lua_pushstring(t->co, "eof");
    hilt_task_wake(t, 1);
  }
}

// editor({history = path, history_size = n, complete = fn}) -> editor, or
// nil and why when stdin or stdout is not a terminal.
static int l_editor(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "history");
  const char *history = luaL_optstring(L, -1, NULL);
  lua_getfield(L, 1, "history_size");
  int size = (int)luaL_optinteger(L, -1, 1000);
  editor_t *e = lua_newuserdatauv(L, sizeof *e, 0);
  memset(e, 0, sizeof *e);
  e->complete_ref = LUA_NOREF;
  luaL_setmetatable(L, EDITOR_MT);
  edit_opts_t opts = {
    .in_fd = STDIN_FILENO, .out_fd = STDOUT_FILENO,
    .history_file = history, .history_size = size,
    .complete = on_complete, .notify = on_notify, .data = e,
  };
  int rc = edit_open(&e->ed, hilt_sched_loop(), &opts);
  if (rc < 0) {
    lua_pushnil(L);
    lua_pushstring(L, rc == -ENOTTY ? "not a terminal" : strerror(-rc));
    return 2;
  }
  lua_getfield(L, 1, "complete");
  e->complete_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  hilt_log_set_writer(log_writer, e->ed);
  return 1;  // the editor, now at the top

}

static int l_prompt(lua_State *L)
{
  editor_t *e = check_open(L);
  edit_prompt(e->ed, luaL_checkstring(L, 2));
  return 0;
}

// ed:wait() -> kind, text: waits for the next event.
static int l_wait(lua_State *L)
{
  editor_t *e = check_open(L);
  int n = push_event(L, e);
  if (n > 0) {
    return n;
  }
  if (e->waiter != NULL) {
    return luaL_error(L, "hilt.editor: another task waits on it");
  }
  hilt_task_check_can_wait(L, "editor:wait");
  e->waiter = hilt_task_current();
  return hilt_task_wait(L, "editor:wait", wait_cancel, e);
}

static int l_resume(lua_State *L)
{
  editor_t *e = check_open(L);
  e->L = L;
  edit_resume(e->ed);
  e->L = NULL;
  return 0;
}

static int l_interrupt(lua_State *L)
{
  edit_interrupt(check_open(L)->ed);
  return 0;
}

static int l_redraw(lua_State *L)
{
  edit_redraw(check_open(L)->ed);
  return 0;
}

static int l_reading(lua_State *L)
{
  editor_t *e = luaL_checkudata(L, 1, EDITOR_MT);
  lua_pushboolean(L, e->ed != NULL && edit_reading(e->ed));
  return 1;
}

static int l_write(lua_State *L)
{
  editor_t *e = check_open(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  edit_write(e->ed, s, n);
  return 0;
}

// ed:history_add(line) -> true, or nil and why the file was not saved.
static int l_history_add(lua_State *L)
{
  editor_t *e = check_open(L);
  int rc = edit_history_add(e->ed, luaL_checkstring(L, 2));
  if (rc < 0) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(-rc));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_close(lua_State *L)
{
  editor_close(L, luaL_checkudata(L, 1, EDITOR_MT));
  return 0;
}

static const luaL_Reg methods[] = {
  {"prompt", l_prompt},
  {"wait", l_wait},
  {"resume", l_resume},
  {"interrupt", l_interrupt},
  {"redraw", l_redraw},
  {"reading", l_reading},
  {"write", l_write},
  {"history_add", l_history_add},
  {"close", l_close},
  {NULL, NULL},
};

static const luaL_Reg meta[] = {
  {"__gc", l_close},
  {"__close", l_close},
  {NULL, NULL},
};

void hilt__edit_lib(lua_State *L)
{
  luaL_newmetatable(L, EDITOR_MT);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_editor);
  lua_setfield(L, -2, "editor");
}
