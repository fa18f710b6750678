// Time in hilt.core: now, sleep, timers that run a function as a task
// (hilt.after, hilt.every) and deadlines that interrupt a task
// (hilt.timeout).
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>

#include "bind.h"
#include "errors.h"
#include "task.h"

#define TIMER_MT "hilt.Timer"

// A timer either spawns `fn` as a task on each expiry, or interrupts
// `task` with `err` once (a deadline).
typedef struct timer_s {
  uv_timer_t *handle;   // freed in its close callback
  int self_ref;         // anchors the userdata while started
  int fn_ref;
  int task_ref;
  int err_ref;
  int repeating;
  struct timer_s *prev, *next;  // the list of started timers
} timer_t_;

static timer_t_ *started;

static int active_timers;

int hilt__timer_active_count(void)
{
  return active_timers;
}

// Seconds from Lua to libuv's milliseconds, rounding up so a sleep never
// ends early. Raises on negative or NaN; returns -1 for infinity.
static int64_t check_seconds(lua_State *L, int idx)
{
  lua_Number s = luaL_checknumber(L, idx);
  luaL_argcheck(L, s >= 0, idx, "seconds must be a number >= 0");
  if (isinf(s)) {
    return -1;
  }
  lua_Number ms = ceil(s * 1000.0);
  luaL_argcheck(L, ms < 9.0e15, idx, "seconds out of range");
  return (int64_t)ms;
}

static int l_now(lua_State *L)
{
  lua_pushnumber(L, (lua_Number)uv_hrtime() / 1e9);
  return 1;
}

static int l_time(lua_State *L)
{
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  lua_pushnumber(L, (lua_Number)tv.tv_sec + (lua_Number)tv.tv_usec / 1e6);
  return 1;
}

// --- sleep --------------------------------------------------------------------

// libuv's clock counts whole milliseconds, so a timer may fire up to 1 ms
// before the precise deadline; sleep promises at least the time asked.
static void sleep_cb(uv_timer_t *handle)
{
  hilt_task_t *t = handle->data;
  if (uv_hrtime() < t->wake_at) {
    uv_timer_start(handle, sleep_cb, 1, 0);
    return;
  }
  hilt_task_wake(t, 0);
}

static void sleep_cancel(hilt_task_t *t, void *data)
{
  uv_timer_stop(t->timer);
}

static int l_sleep(lua_State *L)
{
  int64_t ms = check_seconds(L, 1);
  lua_settop(L, 1);
  if (ms == 0) {
    return hilt_task_yield(L);
  }
  hilt_task_check_can_wait(L, "hilt.sleep");
  hilt_task_t *t = hilt_task_current();
  if (ms > 0) {
    t->wake_at = uv_hrtime() + (uint64_t)(luaL_checknumber(L, 1) * 1e9);
    if (t->timer == NULL) {
      t->timer = malloc(sizeof *t->timer);
      if (t->timer == NULL) {
        return luaL_error(L, "hilt.sleep: out of memory");
      }
      uv_timer_init(hilt_sched_loop(), t->timer);
      t->timer->data = t;
    }
    uv_update_time(hilt_sched_loop());
    uv_timer_start(t->timer, sleep_cb, (uint64_t)ms, 0);
  }
  lua_settop(L, 0);
  return hilt_task_wait(L, "hilt.sleep", ms > 0 ? sleep_cancel : NULL, NULL);
}

// --- timers and deadlines -----------------------------------------------------

static timer_t_ *check_timer(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, TIMER_MT);
}

static void handle_close_cb(uv_handle_t *handle)
{
  free(handle);
}

static void timer_unref_all(lua_State *L, timer_t_ *tm)
{
  luaL_unref(L, LUA_REGISTRYINDEX, tm->fn_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, tm->task_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, tm->err_ref);
  tm->fn_ref = tm->task_ref = tm->err_ref = LUA_NOREF;
}

// Stops for good: closes the handle and drops every reference.
static void timer_stop(lua_State *L, timer_t_ *tm)
{
  if (tm->handle == NULL) {
    return;
  }
  uv_close((uv_handle_t *)tm->handle, handle_close_cb);
  tm->handle = NULL;
  active_timers--;
  if (tm->prev != NULL) {
    tm->prev->next = tm->next;
  } else {
    started = tm->next;
  }
  if (tm->next != NULL) {
    tm->next->prev = tm->prev;
  }
  if (tm->task_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, tm->task_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, tm->err_ref);
    hilt_task_clear_interrupt(L, lua_touserdata(L, -2), -1);
    lua_pop(L, 2);
  }
  timer_unref_all(L, tm);
  luaL_unref(L, LUA_REGISTRYINDEX, tm->self_ref);
  tm->self_ref = LUA_NOREF;
}

static void timer_fire_cb(uv_timer_t *handle)
{
  timer_t_ *tm = handle->data;
  lua_State *L = handle->loop->data;
  if (tm->task_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, tm->task_ref);
    hilt_task_t *t = lua_touserdata(L, -1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, tm->err_ref);
    hilt_task_interrupt(L, t);
    lua_pop(L, 1);
    // A deadline stays open until its owner stops it, which also drops the
    // interruption if the task has not reached a wait yet.
    return;
  } else {
    lua_rawgeti(L, LUA_REGISTRYINDEX, tm->fn_ref);
    hilt_task_spawn_at(L, 0, "timer callback");
    lua_pop(L, 1);
  }
  if (!tm->repeating) {
    timer_stop(L, tm);
  }
}

static timer_t_ *timer_new(lua_State *L, int64_t ms, int64_t repeat_ms)
{
  timer_t_ *tm = lua_newuserdatauv(L, sizeof *tm, 0);
  tm->handle = NULL;
  tm->self_ref = tm->fn_ref = tm->task_ref = tm->err_ref = LUA_NOREF;
  luaL_setmetatable(L, TIMER_MT);
  uv_timer_t *h = malloc(sizeof *h);
  if (h == NULL) {
    luaL_error(L, "hilt: out of memory for a timer");
  }
  uv_timer_init(hilt_sched_loop(), h);
  h->data = tm;
  tm->handle = h;
  tm->repeating = repeat_ms > 0;
  active_timers++;
  tm->prev = NULL;
  tm->next = started;
  if (started != NULL) {
    started->prev = tm;
  }
  started = tm;
  lua_pushvalue(L, -1);
  tm->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  uv_update_time(hilt_sched_loop());
  uv_timer_start(h, timer_fire_cb, (uint64_t)ms, (uint64_t)repeat_ms);
  return tm;
}

// timer(fn, seconds [, repeat_seconds]) -> Timer running fn as a task.
static int l_timer(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TFUNCTION);
  int64_t ms = check_seconds(L, 2);
  int64_t repeat = lua_isnoneornil(L, 3) ? 0 : check_seconds(L, 3);
  luaL_argcheck(L, ms >= 0, 2, "a timer needs a finite delay");
  luaL_argcheck(L, repeat >= 0, 3, "a timer needs a finite interval");
  luaL_argcheck(L, lua_isnoneornil(L, 3) || repeat > 0, 3,
                "interval must be > 0");
  timer_t_ *tm = timer_new(L, ms, repeat);
  lua_pushvalue(L, 1);
  tm->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

// deadline(task, seconds, err) -> Timer interrupting task with err.
static int l_deadline(lua_State *L)
{
  hilt_task_check(L, 1);
  int64_t ms = check_seconds(L, 2);
  luaL_checkany(L, 3);
  if (ms < 0) {
    lua_pushnil(L);
    return 1;
  }
  timer_t_ *tm = timer_new(L, ms, 0);
  lua_pushvalue(L, 1);
  tm->task_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, 3);
  tm->err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

// live_timers() -> list of the started timers, for leak checks.
static int l_live_timers(lua_State *L)
{
  lua_createtable(L, active_timers, 0);
  int i = 1;
  for (timer_t_ *tm = started; tm != NULL; tm = tm->next) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, tm->self_ref);
    lua_rawseti(L, -2, i++);
  }
  return 1;
}

static int l_timer_stop(lua_State *L)
{
  timer_stop(L, check_timer(L, 1));
  return 0;
}

static int l_timer_active(lua_State *L)
{
  lua_pushboolean(L, check_timer(L, 1)->handle != NULL);
  return 1;
}

static int l_timer_tostring(lua_State *L)
{
  timer_t_ *tm = check_timer(L, 1);
  lua_pushfstring(L, "timer (%s)", tm->handle ? "active" : "stopped");
  return 1;
}

static const luaL_Reg timer_methods[] = {
  {"stop", l_timer_stop},
  {"active", l_timer_active},
  {NULL, NULL},
};

static const luaL_Reg timer_metamethods[] = {
  {"__gc", l_timer_stop},
  {"__close", l_timer_stop},
  {"__tostring", l_timer_tostring},
  {NULL, NULL},
};

static const luaL_Reg timer_funcs[] = {
  {"now", l_now},         {"time", l_time},         {"sleep", l_sleep},
  {"timer", l_timer},     {"deadline", l_deadline}, {"live_timers", l_live_timers},
  {NULL, NULL},
};

void hilt__timer_lib(lua_State *L)
{
  luaL_newmetatable(L, TIMER_MT);
  luaL_setfuncs(L, timer_metamethods, 0);
  luaL_newlib(L, timer_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_setfuncs(L, timer_funcs, 0);
}
