// hilt.Task objects and the task functions of hilt.core: spawn, current,
// yield, suspend/wake (for waits written in Lua), wait_first, interrupt.
#include <lauxlib.h>
#include <string.h>

#include "bind.h"
#include "errors.h"
#include "task.h"


static const char *const status_names[] = {"ready", "running", "waiting",
                                           "done", "failed", "cancelled"};

static int finished(const hilt_task_t *t)
{
  return t->status >= HILT_TASK_DONE;
}

// Pushes the task's results, or raises its error. The task is at index 1.
static int push_outcome(lua_State *L, hilt_task_t *t)
{
  if (t->status != HILT_TASK_DONE) {
    lua_getiuservalue(L, 1, HILT_TASK_UV_ERROR);
    return lua_error(L);
  }
  if (t->co == NULL) {
    return 0;  // it returned nothing, and its thread went back to the pool
  }
  int n = lua_gettop(t->co);
  luaL_checkstack(L, n, "too many results to join");
  lua_checkstack(t->co, 1);
  for (int i = 1; i <= n; i++) {
    lua_pushvalue(t->co, i);
    lua_xmove(t->co, L, 1);
  }
  return n;
}

static int join_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt_task_t *t = hilt_task_check(L, 1);
  hilt__task_resumed(L);
  lua_settop(L, 1);
  return push_outcome(L, t);
}

static int l_task_join(lua_State *L)
{
  hilt_task_t *t = hilt_task_check(L, 1);
  lua_settop(L, 1);
  if (finished(t)) {
    t->joined = 1;
    return push_outcome(L, t);
  }
  hilt_task_t *me = hilt_task_current();
  if (me == t) {
    return luaL_error(L, "task:join: a task cannot join itself");
  }
  hilt_task_check_can_wait(L, "task:join");
  hilt_task_add_joiner(L, 1);
  return hilt_task_waitk(L, "task:join", NULL, t, 0, join_k);
}

static int l_task_cancel(lua_State *L)
{
  hilt_task_t *t = hilt_task_check(L, 1);
  hilt_task_cancel(L, t);
  return 0;
}

static int l_task_status(lua_State *L)
{
  hilt_task_t *t = hilt_task_check(L, 1);
  lua_pushstring(L, status_names[t->status]);
  return 1;
}

static int l_task_done(lua_State *L)
{
  hilt_task_t *t = hilt_task_check(L, 1);
  lua_pushboolean(L, finished(t));
  return 1;
}

static int l_task_id(lua_State *L)
{
  hilt_task_t *t = hilt_task_check(L, 1);
  lua_pushinteger(L, (lua_Integer)t->id);
  return 1;
}

// task:error() -> the Error a failed or cancelled task ended with, or nil.
static int l_task_error(lua_State *L)
{
  hilt_task_t *t = hilt_task_check(L, 1);
  if (t->status < HILT_TASK_FAILED) {
    return 0;
  }
  t->joined = 1;
  lua_getiuservalue(L, 1, HILT_TASK_UV_ERROR);
  return 1;
}

static int l_task_tostring(lua_State *L)
{
  hilt_task_t *t = hilt_task_check(L, 1);
  if (t->status == HILT_TASK_WAITING && t->wait_name != NULL) {
    lua_pushfstring(L, "task %I (waiting on %s, spawned at %s)",
                    (lua_Integer)t->id, t->wait_name, t->where);
  } else {
    lua_pushfstring(L, "task %I (%s, spawned at %s)", (lua_Integer)t->id,
                    status_names[t->status], t->where);
  }
  return 1;
}

// Only reached for tasks still alive when the state closes at exit.
static int l_task_gc(lua_State *L)
{
  hilt_task_t *t = hilt_task_check(L, 1);
  hilt__task_release(t);
  return 0;
}

static const luaL_Reg task_methods[] = {
  {"join", l_task_join},     {"cancel", l_task_cancel},
  {"status", l_task_status}, {"done", l_task_done},
  {"id", l_task_id},         {"error", l_task_error},
  {NULL, NULL},
};

static const luaL_Reg task_metamethods[] = {
  {"__tostring", l_task_tostring},
  {"__gc", l_task_gc},
  // `local t <close> = hilt.spawn(...)` cancels t when the scope ends.
  {"__close", l_task_cancel},
  {NULL, NULL},
};

void hilt__task_open(lua_State *L)
{
  luaL_newmetatable(L, HILT_TASK_MT);
  luaL_setfuncs(L, task_metamethods, 0);
  luaL_newlib(L, task_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

// --- hilt.core functions ------------------------------------------------------

static int l_spawn(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TFUNCTION);
  hilt_task_spawn(L, lua_gettop(L) - 1);
  return 1;
}

static int l_current(lua_State *L)
{
  hilt_task_t *t = hilt_task_current();
  if (t == NULL || t->co != L) {
    return 0;
  }
  hilt_task_push(L, t);
  return 1;
}

// on_wait(fn): fn() runs once, outside any task, when the calling task
// next waits (not when it only yields).
static int l_on_wait(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TFUNCTION);
  hilt_task_t *t = hilt_task_current();
  if (t == NULL || t->co != L) {
    return luaL_error(L, "on_wait: not called from a task");
  }
  lua_settop(L, 1);
  hilt_task_on_wait(L);
  return 0;
}

static int l_yield(lua_State *L)
{
  return hilt_task_yield(L);
}

// suspend(what) -> values given to wake. `what` stays on this call's stack
// while it waits, which keeps the name alive for messages.
static char suspend_marker;

static int l_suspend(lua_State *L)
{
  const char *what = luaL_checkstring(L, 1);
  return hilt_task_wait(L, what, NULL, &suspend_marker);
}

// wait_seq() -> the number that the current task's next wait will carry.
static int l_wait_seq(lua_State *L)
{
  hilt_task_t *t = hilt_task_current();
  if (t == NULL) {
    return luaL_error(L, "hilt.core.wait_seq: not inside a task");
  }
  lua_pushinteger(L, (lua_Integer)(uint32_t)(t->wait_seq + 1));
  return 1;
}

// wake(task, seq, ...) -> true, or false when the task no longer waits in
// the wait numbered seq (it was cancelled, timed out or already woken).
static int l_wake(lua_State *L)
{
  hilt_task_t *t = hilt_task_check(L, 1);
  lua_Integer seq = luaL_checkinteger(L, 2);
  if (t->status != HILT_TASK_WAITING || t->wait_data != &suspend_marker ||
      (lua_Integer)t->wait_seq != seq) {
    lua_pushboolean(L, 0);
    return 1;
  }
  int n = lua_gettop(L) - 2;
  luaL_checkstack(t->co, n, "too many values to wake with");
  lua_xmove(L, t->co, n);
  hilt_task_wake(t, n);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_interrupt(lua_State *L)
{
  hilt_task_t *t = hilt_task_check(L, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  lua_pushboolean(L, hilt_task_interrupt(L, t) == 0);
  return 1;
}

static int first_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  hilt_task_t *done = hilt_task_check(L, -1);
  lua_Integer n = luaL_len(L, 1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    if (lua_touserdata(L, -1) == done) {
      lua_pushinteger(L, i);
      return 2;
    }
    lua_pop(L, 1);
  }
  return luaL_error(L, "hilt.wait_first: woken by a task not in the list");
}

// wait_first(tasks) -> the first task of the list to end, and its index.
static int l_wait_first(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_Integer n = luaL_len(L, 1);
  luaL_argcheck(L, n > 0, 1, "empty list of tasks");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    hilt_task_t *t = luaL_testudata(L, -1, HILT_TASK_MT);
    if (t == NULL) {
      return luaL_error(L, "hilt.wait_first: item %I is a %s, not a task",
                        i, luaL_typename(L, -1));
    }
    if (finished(t)) {
      t->joined = 1;
      lua_pushinteger(L, i);
      return 2;
    }
    lua_pop(L, 1);
  }
  hilt_task_check_can_wait(L, "hilt.wait_first");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    hilt_task_add_joiner(L, -1);
    lua_pop(L, 1);
  }
  return hilt_task_waitk(L, "hilt.wait_first", NULL, NULL, 0, first_k);
}

static int l_live_tasks(lua_State *L)
{
  hilt_sched_push_live(L);
  return 1;
}

static int l_exit(lua_State *L)
{
  int code;
  if (lua_isboolean(L, 1)) {
    code = lua_toboolean(L, 1) ? 0 : 1;
  } else {
    code = (int)luaL_optinteger(L, 1, 0);
  }
  hilt_sched_exit(code);
  hilt_task_t *t = hilt_task_current();
  if (t != NULL && t->co == L && lua_isyieldable(L)) {
    // Never woken: the loop stops as soon as this task yields.
    return hilt_task_wait(L, "hilt.exit", NULL, NULL);
  }
  return 0;
}

static const luaL_Reg task_funcs[] = {
  {"spawn", l_spawn},
  {"current", l_current},
  {"on_wait", l_on_wait},
  {"yield", l_yield},
  {"suspend", l_suspend},
  {"wait_seq", l_wait_seq},
  {"wake", l_wake},
  {"interrupt", l_interrupt},
  {"wait_first", l_wait_first},
  {"live_tasks", l_live_tasks},
  {"exit", l_exit},
  {NULL, NULL},
};

void hilt__task_lib(lua_State *L)
{
  luaL_setfuncs(L, task_funcs, 0);
  luaL_getmetatable(L, HILT_TASK_MT);
  lua_getfield(L, -1, "__index");
  lua_setfield(L, -3, "Task");
  lua_pop(L, 1);
}
