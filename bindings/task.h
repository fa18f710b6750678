// The task scheduler: the one place that calls lua_resume.
//
// A task is a Lua coroutine owned by the scheduler. Blocking-looking calls
// (sleep, join, queue:get, later socket reads) follow the cosocket pattern:
// record what to undo on cancellation, mark the task waiting and yield; a
// libuv callback later pushes the results onto the task's thread and calls
// hilt_task_wake(). Woken tasks run from the ready queue in the loop's idle
// and check phases, never nested inside another task or callback.
#ifndef HILT_TASK_H
#define HILT_TASK_H

#include <lua.h>
#include <stdint.h>
#include <uv.h>

typedef enum {
  HILT_TASK_READY,      // queued to run
  HILT_TASK_RUNNING,    // the current task
  HILT_TASK_WAITING,    // suspended in a blocking call
  HILT_TASK_DONE,       // returned; results are kept on its thread
  HILT_TASK_FAILED,     // raised; the error object is kept on its thread
  HILT_TASK_CANCELLED,  // ended by a cancellation it did not catch
} hilt_task_status_t;

typedef struct hilt_task hilt_task_t;

/// The task userdata's metatable name, and its user value slots: the
/// coroutine, the joiner list, the error a failed task ended with.
#define HILT_TASK_MT "hilt.Task"
enum { HILT_TASK_UV_THREAD = 1, HILT_TASK_UV_JOINERS = 2, HILT_TASK_UV_ERROR = 3 };

/// Undoes a pending wait (stops its timer, leaves a waiter list). Called
/// when the task is cancelled or times out; must not wake the task.
typedef void (*hilt_wait_cancel_cb)(hilt_task_t *task, void *data);


struct hilt_task {
  lua_State *co;              // the coroutine, anchored by the userdata;
                              // NULL once it returned nothing (pooled)
  hilt_task_status_t status;
  int nargs;                  // values on co's stack for the next resume
  int interrupt_ref;          // error to raise at the next wait, or NOREF
  int on_wait_ref;            // runs once when it next waits, or NOREF
  int interrupted;            // this resume delivers interrupt_ref now
  int joined;                 // someone waits on or read the outcome
  int started;                // has been resumed at least once
  const char *wait_name;      // what it waits on, for messages
  hilt_wait_cancel_cb wait_cancel;
  void *wait_data;
  uv_timer_t *timer;          // for sleep; created on first use
  uint64_t wake_at;           // uv_hrtime() a sleep may end at
  uint32_t wait_seq;          // counts waits; tells stale wakers apart
  uint64_t id;
  int live_slot;              // its anchor in the scheduler's live table
  char where[48];             // "file.lua:12" of the spawn, for messages
  hilt_task_t *next_ready;
  hilt_task_t *prev_live, *next_live;
};

/// Sets up the scheduler on `loop` for the main state `L`. Call once.
void hilt_sched_init(lua_State *L, uv_loop_t *loop);

/// The main thread's state: where I/O callbacks run Lua. A handle that
/// keeps a lua_State for its callbacks must keep this one, never the
/// thread of the task that made it: a task's thread is reused by later
/// tasks once it ends.
lua_State *hilt_sched_state(void);

/// Closes the scheduler's own handles; run the loop afterwards so their
/// close callbacks complete.
void hilt_sched_close(void);

uv_loop_t *hilt_sched_loop(void);

/// Calls fn(data) once the tasks of the current pass have run, before the
/// loop polls again: for work that tasks batch, such as their writes.
void hilt_sched_defer(void (*fn)(void *), void *data);

/// Creates a task that will run the function at the top of L's stack with
/// the `nargs` values above it (all popped), queues it and pushes its
/// userdata. Never runs it before the caller yields or returns.
hilt_task_t *hilt_task_spawn(lua_State *L, int nargs);

/// hilt_task_spawn for tasks started by C (a timer, an incoming call): the
/// Lua stack says nothing of why they exist, so `where` (at most 47 bytes,
/// e.g. "rpc handler") names them in messages instead, and spawning skips
/// the walk of the stack.
hilt_task_t *hilt_task_spawn_at(lua_State *L, int nargs, const char *where);

/// The running task, or NULL outside tasks (finalizers, startup).
hilt_task_t *hilt_task_current(void);

/// Returns the task userdata at index `idx`, raising if it is not one.
hilt_task_t *hilt_task_check(lua_State *L, int idx);

/// Pushes the task's userdata onto L.
void hilt_task_push(lua_State *L, hilt_task_t *task);

/// Suspends the calling task. Must be a tail call of a lua_CFunction:
/// `return hilt_task_wait(L, "sleep", cancel_cb, data);`. Raises a clear
/// error naming `what` when called outside a task or from a context that
/// cannot yield, or at once when an interruption is pending. The call
/// returns the values later pushed by the waker.
int hilt_task_wait(lua_State *L, const char *what, hilt_wait_cancel_cb cb,
                   void *data);

/// As hilt_task_wait, resuming in the continuation `k` (which must call
/// hilt__task_resumed first) with `ctx`.
int hilt_task_waitk(lua_State *L, const char *what, hilt_wait_cancel_cb cb,
                    void *data, lua_KContext ctx, lua_KFunction k);

/// Raises the interruption a continuation was resumed with, if any.
void hilt__task_resumed(lua_State *L);

/// Frees what a task holds outside Lua (its sleep timer); for __gc.
void hilt__task_release(hilt_task_t *task);

/// Raises unless L is a task's thread that may yield; `what` names the call.
void hilt_task_check_can_wait(lua_State *L, const char *what);

/// Sets the function at the top of L's stack (popped) to run once, on the
/// main state, when the current task next waits: for work queued in one
/// task that must not sit behind one item's wait (it hands the rest to a
/// new task). Replaces one set before; dropped if the task ends first.
void hilt_task_on_wait(lua_State *L);

/// Adds the current task as a joiner of `task`, for its next wait.
void hilt_task_add_joiner(lua_State *L, int task_idx);

/// Wakes a waiting task with the `nargs` values its waker pushed onto
/// task->co. Safe from any libuv callback.
void hilt_task_wake(hilt_task_t *task, int nargs);

/// Interrupts a task with the error value at the top of L (popped): a
/// waiting task has its wait cancelled and the error raised from the wait;
/// a ready or running one gets it at its next wait. Returns 0, or -1 when
/// the task has already ended.
int hilt_task_interrupt(lua_State *L, hilt_task_t *task);

/// Drops the task's pending interruption if it is the value at `idx` (a
/// deadline stopped after it fired but before the task waited again).
void hilt_task_clear_interrupt(lua_State *L, hilt_task_t *task, int idx);

/// Cancels a task that has not started, or interrupts it with `cancelled`.
void hilt_task_cancel(lua_State *L, hilt_task_t *task);

/// Puts the running task at the back of the ready queue and yields.
int hilt_task_yield(lua_State *L);

/// Counters for leak checks.
typedef struct {
  int live_tasks;        // neither done nor failed nor cancelled
  int waiting_tasks;
  uint64_t spawned;
} hilt_sched_stats_t;
void hilt_sched_stats(hilt_sched_stats_t *out);

/// Pushes a list of the live tasks.
void hilt_sched_push_live(lua_State *L);

/// Asks the loop to stop with `code` (hilt.exit). The process exits once
/// the current task yields.
void hilt_sched_exit(int code);

/// True once hilt_sched_exit was called; *code receives the exit code.
int hilt_sched_exiting(int *code);

/// The main task: its end (and how) decides the exit code.
void hilt_sched_set_main(hilt_task_t *task);
hilt_task_t *hilt_sched_main(void);

/// Registers the task metatable and methods in L (used by l_task.c).
void hilt__task_open(lua_State *L);

#endif
