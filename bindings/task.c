// The task scheduler (see task.h). This file holds the only lua_resume.
//
// Task life:
//
//   spawn -> READY -> RUNNING -+-> DONE | FAILED | CANCELLED
//              ^               |
//              |  wake         v  hilt_task_wait / yield
//              +---------- WAITING (or READY again after a plain yield)
//
// Ready tasks run in the loop's idle and check phases. A pass runs at most
// PASS_LIMIT resumptions so a task that yields in a loop cannot starve I/O.
#include "task.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"

#define PASS_LIMIT 1024
// Threads kept for reuse. A handler task per incoming call would otherwise
// allocate a thread and grow its stack every time.
#define POOL_MAX 256


static struct {
  lua_State *L;
  uv_loop_t *loop;
  uv_idle_t idle;
  uv_check_t check;
  hilt_task_t *ready_head, *ready_tail;
  hilt_task_t *live;
  hilt_task_t *current;
  hilt_task_t *main;
  int running;
  int live_count;
  int live_peak;
  uint64_t spawned;
  int live_ref;   // registry: the table anchoring live tasks (live_slot)
  int pool_ref;   // registry: threads of finished tasks, for reuse
  int pool_n;
  struct deferred { void (*fn)(void *); void *data; } *deferred;
  int deferred_n, deferred_cap;
  int exiting;
  int exit_code;
} sched;

static void run_pass(void);
static void run_deferred(void);

static void idle_cb(uv_idle_t *handle)
{
  run_pass();
}

static void check_cb(uv_check_t *handle)
{
  run_pass();
}

lua_State *hilt_sched_state(void)
{
  return sched.L;
}

void hilt_sched_init(lua_State *L, uv_loop_t *loop)
{
  sched.L = L;
  sched.loop = loop;
  uv_idle_init(loop, &sched.idle);
  uv_check_init(loop, &sched.check);
  lua_newtable(L);
  sched.live_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_newtable(L);
  sched.pool_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  sched.pool_n = 0;
  // The check handle only shortens the way from an I/O callback to the task
  // it woke; it must not keep the loop alive on its own.
  uv_check_start(&sched.check, check_cb);
  uv_unref((uv_handle_t *)&sched.check);
  hilt__error_open(L);
  hilt__task_open(L);
}

void hilt_sched_close(void)
{
  run_deferred();
  free(sched.deferred);
  sched.deferred = NULL;
  sched.deferred_cap = 0;
  uv_close((uv_handle_t *)&sched.idle, NULL);
  uv_close((uv_handle_t *)&sched.check, NULL);
}

uv_loop_t *hilt_sched_loop(void)
{
  return sched.loop;
}

hilt_task_t *hilt_task_current(void)
{
  return sched.current;
}

void hilt_sched_set_main(hilt_task_t *task)
{
  sched.main = task;
}

hilt_task_t *hilt_sched_main(void)
{
  return sched.main;
}

void hilt_sched_exit(int code)
{
  sched.exiting = 1;
  sched.exit_code = code;
  uv_stop(sched.loop);
}

int hilt_sched_exiting(int *code)
{
  if (sched.exiting && code != NULL) {
    *code = sched.exit_code;
  }
  return sched.exiting;
}

static int is_finished(const hilt_task_t *t)
{
  return t->status >= HILT_TASK_DONE;
}

// --- the ready queue --------------------------------------------------------

static void enqueue(hilt_task_t *t)
{
  t->status = HILT_TASK_READY;
  t->next_ready = NULL;
  if (sched.ready_tail != NULL) {
    sched.ready_tail->next_ready = t;
  } else {
    sched.ready_head = t;
    uv_idle_start(&sched.idle, idle_cb);
  }
  sched.ready_tail = t;
}

static hilt_task_t *dequeue(void)
{
  hilt_task_t *t = sched.ready_head;
  if (t != NULL) {
    sched.ready_head = t->next_ready;
    if (sched.ready_head == NULL) {
      sched.ready_tail = NULL;
    }
  }
  return t;
}

// --- the live table ----------------------------------------------------------
//
// Live tasks are anchored in a registry table, each in its slot, so a task
// nobody holds still runs to its end. Lua tables never shrink when entries
// are removed, so after a burst of tasks the table is rebuilt at the size
// of what is left: spawning and joining 100k tasks gives the memory back.

static void push_live_table(lua_State *L)
{
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.live_ref);
}

// Rebuilds the table with the tasks still live, in fresh slots.
static void shrink_live_table(lua_State *L)
{
  lua_createtable(L, sched.live_count, 0);
  for (hilt_task_t *t = sched.live; t != NULL; t = t->next_live) {
    lua_rawgeti(L, -2, t->live_slot);
    t->live_slot = luaL_ref(L, -2);
  }
  lua_rawseti(L, LUA_REGISTRYINDEX, sched.live_ref);
  sched.live_peak = sched.live_count;
}

// Anchors the userdata at `idx` as task t (idx != 0), or drops t (idx 0,
// once t is off the live list). Slots are luaL_ref's, reused through its
// free list, so the churn of short tasks never rehashes the table.
static void set_live(lua_State *L, hilt_task_t *t, int idx)
{
  idx = idx != 0 ? lua_absindex(L, idx) : 0;
  push_live_table(L);
  if (idx != 0) {
    lua_pushvalue(L, idx);
    t->live_slot = luaL_ref(L, -2);
    if (sched.live_count + 1 > sched.live_peak) {
      sched.live_peak = sched.live_count + 1;
    }
  } else {
    luaL_unref(L, -1, t->live_slot);
    t->live_slot = LUA_NOREF;
    if (sched.live_peak > 1024 && sched.live_count < sched.live_peak / 8) {
      shrink_live_table(L);
    }
  }
  lua_pop(L, 1);
}

// --- finishing ----------------------------------------------------------------

static void timer_close_cb(uv_handle_t *handle)
{
  free(handle);
}

void hilt__task_release(hilt_task_t *t)
{
  if (t->timer != NULL) {
    uv_close((uv_handle_t *)t->timer, timer_close_cb);
    t->timer = NULL;
  }
}

static void unlink_live(hilt_task_t *t)
{
  if (t->prev_live != NULL) {
    t->prev_live->next_live = t->next_live;
  } else {
    sched.live = t->next_live;
  }
  if (t->next_live != NULL) {
    t->next_live->prev_live = t->prev_live;
  }
  t->prev_live = t->next_live = NULL;
  sched.live_count--;
}

// Wakes every task waiting to join t. The joiner list holds pairs (task,
// wait_seq): an entry is stale once its task has moved on to another wait,
// so a cancelled join needs no cleanup.
static void wake_joiners(lua_State *L, hilt_task_t *t, int ud)
{
  if (lua_getiuservalue(L, ud, HILT_TASK_UV_JOINERS) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  lua_Integer n = luaL_len(L, -1);
  for (lua_Integer i = 1; i < n; i += 2) {
    lua_rawgeti(L, -1, i);
    hilt_task_t *j = luaL_testudata(L, -1, HILT_TASK_MT);
    lua_rawgeti(L, -2, i + 1);
    uint32_t seq = (uint32_t)lua_tointeger(L, -1);
    lua_pop(L, 2);
    if (j != NULL && j->status == HILT_TASK_WAITING && j->wait_seq == seq) {
      hilt_task_push(j->co, t);
      hilt_task_wake(j, 1);
    }
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_setiuservalue(L, ud, HILT_TASK_UV_JOINERS);
}

void hilt_task_add_joiner(lua_State *L, int task_idx)
{
  hilt_task_t *t = hilt_task_check(L, task_idx);
  hilt_task_t *me = sched.current;
  task_idx = lua_absindex(L, task_idx);
  t->joined = 1;
  if (lua_getiuservalue(L, task_idx, HILT_TASK_UV_JOINERS) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, task_idx, HILT_TASK_UV_JOINERS);
  }
  lua_Integer n = luaL_len(L, -1);
  hilt_task_push(L, me);
  lua_rawseti(L, -2, n + 1);
  lua_pushinteger(L, (lua_Integer)(me->wait_seq + 1));
  lua_rawseti(L, -2, n + 2);
  lua_pop(L, 1);
}

static void log_unjoined_failure(lua_State *L, hilt_task_t *t, int err)
{
  lua_getfield(L, err, "message");
  lua_getfield(L, err, "traceback");
  hilt_log(HILT_LOG_ERROR, "task", "task %llu (spawned at %s) failed: %s\n%s",
           (unsigned long long)t->id, t->where, lua_tostring(L, -2),
           lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
  lua_pop(L, 2);
}

// Records the outcome of a task whose coroutine returned (status LUA_OK)
// or raised (anything else; the error value is on top of t->co).
// Keeps the thread of a task that returned nothing for a later task: a
// thread that returned is resumable again with a new function, and its
// stack has already grown. A task with results keeps its thread, which
// holds them for join.
static void recycle_thread(lua_State *L, hilt_task_t *t, int ud)
{
  if (sched.pool_n >= POOL_MAX || t == sched.main ||
      lua_gettop(t->co) != 0) {
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.pool_ref);
  lua_getiuservalue(L, ud, HILT_TASK_UV_THREAD);
  lua_rawseti(L, -2, ++sched.pool_n);
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_setiuservalue(L, ud, HILT_TASK_UV_THREAD);
  t->co = NULL;
}

// A thread for a new task, pushed onto L.
static lua_State *take_thread(lua_State *L)
{
  if (sched.pool_n == 0) {
    return lua_newthread(L);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.pool_ref);
  lua_rawgeti(L, -1, sched.pool_n);
  lua_pushnil(L);
  lua_rawseti(L, -3, sched.pool_n--);
  lua_remove(L, -2);
  return lua_tothread(L, -1);
}

static void finish(hilt_task_t *t, int status)
{
  lua_State *L = sched.L;
  hilt_task_push(L, t);
  int ud = lua_gettop(L);
  if (status == LUA_OK) {
    t->status = HILT_TASK_DONE;
    recycle_thread(L, t, ud);
  } else {
    luaL_traceback(L, t->co, NULL, 0);
    const char *tb = lua_tostring(L, -1);
    lua_xmove(t->co, L, 1);
    hilt_error_wrap(L, tb);
    t->status = hilt_error_is(L, -1, "cancelled") ? HILT_TASK_CANCELLED
                                                   : HILT_TASK_FAILED;
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, ud, HILT_TASK_UV_ERROR);
    // Close the task's pending to-be-closed variables now, not at exit.
    lua_resetthread(t->co);
    if (!t->joined && t->status == HILT_TASK_FAILED &&
        t != sched.main) {
      log_unjoined_failure(L, t, lua_gettop(L));
    }
    lua_pop(L, 2);
  }
  hilt__task_release(t);
  luaL_unref(L, LUA_REGISTRYINDEX, t->interrupt_ref);
  t->interrupt_ref = LUA_NOREF;
  luaL_unref(L, LUA_REGISTRYINDEX, t->on_wait_ref);
  t->on_wait_ref = LUA_NOREF;
  unlink_live(t);
  wake_joiners(L, t, ud);
  if (t == sched.main) {
    uv_stop(sched.loop);
  }
  set_live(L, t, 0);
  lua_pop(L, 1);
}

// --- running ------------------------------------------------------------------

static void run_on_wait(hilt_task_t *t)
{
  lua_State *L = sched.L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->on_wait_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, t->on_wait_ref);
  t->on_wait_ref = LUA_NOREF;
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    HILT_ERROR("task", "a task's on-wait function failed: %s",
               luaL_tolstring(L, -1, NULL));
    lua_pop(L, 2);
  }
}

void hilt_task_on_wait(lua_State *L)
{
  hilt_task_t *t = sched.current;
  if (t == NULL) {
    lua_pop(L, 1);
    return;
  }
  luaL_unref(L, LUA_REGISTRYINDEX, t->on_wait_ref);
  t->on_wait_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

// The only lua_resume in hilt.
static void step(hilt_task_t *t)
{
  int nres = 0;
  if (!t->started && t->interrupted) {
    // Cancelled before it ever ran: end it without running its function.
    lua_settop(t->co, 0);
    lua_rawgeti(t->co, LUA_REGISTRYINDEX, t->interrupt_ref);
    finish(t, LUA_ERRRUN);
    return;
  }
  t->started = 1;
  int nargs = t->nargs;
  t->nargs = 0;
  t->status = HILT_TASK_RUNNING;
  sched.current = t;
  int rc = lua_resume(t->co, sched.L, nargs, &nres);
  sched.current = NULL;
  if (rc == LUA_YIELD) {
    lua_pop(t->co, nres);
    // A yield that did not go through hilt_task_wait (coroutine.yield in a
    // task body) just gives the other tasks a turn.
    if (t->status == HILT_TASK_RUNNING) {
      enqueue(t);
    } else if (t->on_wait_ref != LUA_NOREF) {
      run_on_wait(t);
    }
    return;
  }
  finish(t, rc);
}

void hilt_sched_defer(void (*fn)(void *), void *data)
{
  if (sched.deferred_n == sched.deferred_cap) {
    int cap = sched.deferred_cap == 0 ? 16 : sched.deferred_cap * 2;
    struct deferred *d = realloc(sched.deferred, (size_t)cap * sizeof *d);
    if (d == NULL) {
      fn(data);  // no room to wait: now, then
      return;
    }
    sched.deferred = d;
    sched.deferred_cap = cap;
  }
  sched.deferred[sched.deferred_n++] = (struct deferred){fn, data};
}

// Runs what tasks deferred to the end of the pass (a callback may defer
// more, which runs too).
static void run_deferred(void)
{
  for (int i = 0; i < sched.deferred_n; i++) {
    sched.deferred[i].fn(sched.deferred[i].data);
  }
  sched.deferred_n = 0;
}

static void run_pass(void)
{
  if (sched.running) {
    return;
  }
  sched.running = 1;
  for (int i = 0; i < PASS_LIMIT && !sched.exiting; i++) {
    hilt_task_t *t = dequeue();
    if (t == NULL) {
      break;
    }
    step(t);
  }
  run_deferred();
  if (sched.ready_head == NULL) {
    uv_idle_stop(&sched.idle);
  }
  sched.running = 0;
}

// --- spawning -----------------------------------------------------------------

static void link_live(hilt_task_t *t)
{
  t->next_live = sched.live;
  if (sched.live != NULL) {
    sched.live->prev_live = t;
  }
  sched.live = t;
  sched.live_count++;
}

static void record_spawn_site(lua_State *L, hilt_task_t *t)
{
  lua_Debug ar;
  // Level 1 is the spawn function itself when called from Lua; find the
  // first Lua frame above it.
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline > 0) {
      snprintf(t->where, sizeof t->where, "%.36s:%d", ar.short_src,
               ar.currentline);
      return;
    }
  }
  snprintf(t->where, sizeof t->where, "?");
}

static hilt_task_t *spawn(lua_State *L, int nargs, const char *where)
{
  luaL_checktype(L, -nargs - 1, LUA_TFUNCTION);
  hilt_task_t *t = lua_newuserdatauv(L, sizeof *t, 3);
  memset(t, 0, sizeof *t);
  luaL_setmetatable(L, HILT_TASK_MT);
  t->co = take_thread(L);
  lua_setiuservalue(L, -2, HILT_TASK_UV_THREAD);
  t->interrupt_ref = LUA_NOREF;
  t->on_wait_ref = LUA_NOREF;
  t->id = ++sched.spawned;
  if (where != NULL) {
    size_t n = strlen(where);
    n = n < sizeof t->where ? n : sizeof t->where - 1;
    memcpy(t->where, where, n);
    t->where[n] = '\0';
  } else {
    record_spawn_site(L, t);
  }
  // Move the function and its arguments onto the new thread, leaving the
  // userdata on L.
  lua_insert(L, -nargs - 2);
  lua_xmove(L, t->co, nargs + 1);
  set_live(L, t, -1);
  t->nargs = nargs;
  link_live(t);
  enqueue(t);
  return t;
}

hilt_task_t *hilt_task_spawn(lua_State *L, int nargs)
{
  return spawn(L, nargs, NULL);
}

hilt_task_t *hilt_task_spawn_at(lua_State *L, int nargs, const char *where)
{
  return spawn(L, nargs, where);
}

// --- waiting and waking -------------------------------------------------------

void hilt_task_check_can_wait(lua_State *L, const char *what)
{
  hilt_task_t *t = sched.current;
  if (t == NULL) {
    luaL_error(L, "%s: cannot block outside a task (in a finalizer or at "
                  "startup)", what);
  }
  if (t->co != L) {
    luaL_error(L, "%s: cannot block inside a plain coroutine; run it with "
                  "hilt.spawn instead of coroutine.create/wrap", what);
  }
  if (!lua_isyieldable(L)) {
    luaL_error(L, "%s: cannot block here: called through a C function that "
                  "cannot yield (a table.sort comparator, a string.gsub "
                  "callback, a __gc metamethod...)", what);
  }
}

// Raises the pending interruption of t, if any.
static void raise_pending(lua_State *L, hilt_task_t *t)
{
  if (t->interrupt_ref == LUA_NOREF) {
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->interrupt_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, t->interrupt_ref);
  t->interrupt_ref = LUA_NOREF;
  t->interrupted = 0;
  lua_error(L);
}

static int wait_k(lua_State *L, int status, lua_KContext base)
{
  hilt_task_t *t = sched.current;
  if (t->interrupted) {
    raise_pending(L, t);
  }
  return lua_gettop(L) - (int)base;
}

void hilt__task_resumed(lua_State *L)
{
  hilt_task_t *t = sched.current;
  if (t->interrupted) {
    raise_pending(L, t);
  }
}

int hilt_task_wait(lua_State *L, const char *what, hilt_wait_cancel_cb cb,
                   void *data)
{
  return hilt_task_waitk(L, what, cb, data, 0, NULL);
}

int hilt_task_waitk(lua_State *L, const char *what, hilt_wait_cancel_cb cb,
                    void *data, lua_KContext ctx, lua_KFunction k)
{
  hilt_task_check_can_wait(L, what);
  hilt_task_t *t = sched.current;
  // Counted before raising so a joiner entry made for this wait goes stale.
  t->wait_seq++;
  raise_pending(L, t);
  t->status = HILT_TASK_WAITING;
  t->wait_name = what;
  t->wait_cancel = cb;
  t->wait_data = data;
  if (k != NULL) {
    return lua_yieldk(L, 0, ctx, k);
  }
  return lua_yieldk(L, 0, lua_gettop(L), wait_k);
}

void hilt_task_wake(hilt_task_t *t, int nargs)
{
  if (t->status != HILT_TASK_WAITING) {
    lua_pop(t->co, nargs);
    return;
  }
  t->wait_cancel = NULL;
  t->wait_data = NULL;
  t->nargs = nargs;
  enqueue(t);
}

int hilt_task_yield(lua_State *L)
{
  hilt_task_check_can_wait(L, "hilt.yield");
  hilt_task_t *t = sched.current;
  t->wait_seq++;
  raise_pending(L, t);
  enqueue(t);
  return lua_yieldk(L, 0, lua_gettop(L), wait_k);
}

int hilt_task_interrupt(lua_State *L, hilt_task_t *t)
{
  if (is_finished(t)) {
    lua_pop(L, 1);
    return -1;
  }
  // A second interruption before the first is delivered replaces it.
  luaL_unref(L, LUA_REGISTRYINDEX, t->interrupt_ref);
  t->interrupt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (t->status == HILT_TASK_READY && !t->started) {
    t->interrupted = 1;
  } else if (t->status == HILT_TASK_WAITING) {
    hilt_wait_cancel_cb cb = t->wait_cancel;
    void *data = t->wait_data;
    t->wait_cancel = NULL;
    t->wait_data = NULL;
    if (cb != NULL) {
      cb(t, data);
    }
    t->interrupted = 1;
    t->nargs = 0;
    enqueue(t);
  }
  return 0;
}

void hilt_task_clear_interrupt(lua_State *L, hilt_task_t *t, int idx)
{
  if (t->interrupt_ref == LUA_NOREF || t->interrupted) {
    return;
  }
  idx = lua_absindex(L, idx);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->interrupt_ref);
  if (lua_rawequal(L, -1, idx)) {
    luaL_unref(L, LUA_REGISTRYINDEX, t->interrupt_ref);
    t->interrupt_ref = LUA_NOREF;
  }
  lua_pop(L, 1);
}

void hilt_task_cancel(lua_State *L, hilt_task_t *t)
{
  if (is_finished(t)) {
    return;
  }
  hilt_error_push(L, "cancelled", "task cancelled");
  hilt_task_interrupt(L, t);
}

// --- introspection ------------------------------------------------------------

void hilt_sched_stats(hilt_sched_stats_t *out)
{
  out->live_tasks = sched.live_count;
  out->waiting_tasks = 0;
  for (hilt_task_t *t = sched.live; t != NULL; t = t->next_live) {
    out->waiting_tasks += t->status == HILT_TASK_WAITING;
  }
  out->spawned = sched.spawned;
}

void hilt_sched_push_live(lua_State *L)
{
  lua_createtable(L, sched.live_count, 0);
  int i = 1;
  for (hilt_task_t *t = sched.live; t != NULL; t = t->next_live) {
    hilt_task_push(L, t);
    lua_rawseti(L, -2, i++);
  }
}

void hilt_task_push(lua_State *L, hilt_task_t *t)
{
  lua_rawgeti(L, LUA_REGISTRYINDEX, sched.live_ref);
  lua_rawgeti(L, -1, t->live_slot);
  lua_remove(L, -2);
}

hilt_task_t *hilt_task_check(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, HILT_TASK_MT);
}
