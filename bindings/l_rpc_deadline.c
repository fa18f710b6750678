// The callee's own clock for a call's timeout (docs/protocol.md, section
// 3): measured from receipt, moved by DEADLINE, and bounding even calls
// nothing answers. When it fires the handler is interrupted `expired`,
// as when the caller's EXPIRE arrives.
#include <lauxlib.h>
#include <stdlib.h>

#include "errors.h"
#include "l_rpc.h"

typedef struct {
  uv_timer_t t;
  conn_t *c;
  rpc_op_t *op;      // NULL for a call nothing answers (sub none)
  int task_ref;      // sub none: the handler task
  uint64_t start;    // the loop's time at receipt, in ms
} deadline_t;

static void close_cb(uv_handle_t *h)
{
  free(h->data);
}

static void dispose(deadline_t *d)
{
  uv_close((uv_handle_t *)&d->t, close_cb);
}

static void fire_cb(uv_timer_t *t)
{
  deadline_t *d = t->data;
  if (d->op != NULL) {
    rpc_op_t *op = d->op;
    op->timer = NULL;
    dispose(d);
    hilt__conn_interrupt(d->c, op, "expired", "the call's deadline passed");
    return;
  }
  lua_State *L = d->c->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, d->task_ref);
  hilt_task_t *task = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (task != NULL && task->status < HILT_TASK_DONE) {
    hilt_error_push(L, "expired", "the call's deadline passed");
    hilt_task_interrupt(L, task);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, d->task_ref);
  dispose(d);
}

// Arms d to fire `seconds` after its start.
static void arm(deadline_t *d, double seconds)
{
  uint64_t due = d->start + (uint64_t)(seconds * 1000 + 0.5);
  uint64_t now = uv_now(d->t.loop);
  uv_timer_start(&d->t, fire_cb, due > now ? due - now : 0, 0);
}

static deadline_t *deadline_new(conn_t *c)
{
  deadline_t *d = calloc(1, sizeof *d);
  uv_timer_init(hilt_sched_loop(), &d->t);
  uv_unref((uv_handle_t *)&d->t);  // the handler, not its clock, keeps us up
  d->t.data = d;
  d->c = c;
  d->task_ref = LUA_NOREF;
  d->start = uv_now(d->t.loop);
  return d;
}

void hilt__deadline_start(conn_t *c, rpc_op_t *op, double seconds)
{
  deadline_t *d = deadline_new(c);
  d->op = op;
  op->timer = d;
  arm(d, seconds);
}

void hilt__deadline_start_task(conn_t *c, double seconds)
{
  deadline_t *d = deadline_new(c);
  d->task_ref = luaL_ref(c->L, LUA_REGISTRYINDEX);
  arm(d, seconds);
}

void hilt__deadline_move(conn_t *c, rpc_op_t *op, double seconds)
{
  if (op->timer == NULL) {
    hilt__deadline_start(c, op, seconds);  // measured from now: no start
    return;
  }
  arm(op->timer, seconds);
}

void hilt__deadline_stop(rpc_op_t *op)
{
  if (op->timer != NULL) {
    dispose(op->timer);
    op->timer = NULL;
  }
}
