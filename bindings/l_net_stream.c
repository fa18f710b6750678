// hilt.net's Stream: raw bytes both ways over a net_stream_t (a TCP or
// unix connection, stdio, a child's pipe), for tasks.
//
// What arrives waits in `in` until a task reads it. Reading from the
// socket stops while more than READ_HIGH bytes wait there (or, while
// read_until waits, more than its limit), and starts again as tasks take
// them, so a slow reader holds back a fast peer. A writer's bytes go to
// the stream's queue in pieces; it waits while more than WRITE_HIGH bytes
// are queued, until the queue has drained. One task at a time may wait to
// read and one to write.
//
// A stream's handles keep the loop alive only while a task waits on it:
// a script that is done with a stream it did not close still ends. Closing
// never drops what was written: a closed stream lingers until its queue
// is sent (l_net_linger.c), unless it is a pty's master (no_linger).
//
// A serial port's stream (l_serial.c) is a device: a serial line has no
// EOF, so its end is an error, and its errors read "device gone (...)".
#define _GNU_SOURCE  // memmem
#include <lauxlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "l_net.h"

#define READ_HIGH (256u << 10)
#define WRITE_HIGH (1u << 20)
#define WRITE_PIECE (1u << 20)
#define READ_UNTIL_MAX (1u << 20)

/// What a waiting task resumes: each step reads its arguments from the
/// stack, so one continuation serves them all.
enum {
  STEP_READ,   // [stream, max]
  STEP_UNTIL,  // [stream, sep, max]
  STEP_WRITE,  // [stream, bytes, offset]
};

static lstream_t *check_stream(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, NET_STREAM_MT);
}

static size_t queued_in(const lstream_t *ls)
{
  return ls->in.len - ls->in_off;
}

int hilt__net_raise(lua_State *L, const char *code, const lstream_t *ls,
                    int status)
{
  if (ls->device && status != UV_ENOMEM) {
    hilt_error_push(L, code, "%s: device gone (%s)", ls->name,
                    status == UV_EOF ? "hung up" : uv_strerror(status));
  } else {
    hilt_error_push(L, code, "%s: %s", ls->name, uv_strerror(status));
  }
  return lua_error(L);
}

// --- the loop's side ------------------------------------------------------------

void hilt__net_stream_update_ref(lstream_t *ls)
{
  int keep = ls->reader != NULL || ls->writer != NULL ||
             ls->connecting != NULL;
  if (ls->s != NULL && keep != ls->kept) {
    net_stream_ref(ls->s, keep);
    ls->kept = keep;
  }
}

static void wake(lstream_t *ls, hilt_task_t **slot)
{
  hilt_task_t *t = *slot;
  if (t != NULL) {
    *slot = NULL;
    hilt_task_wake(t, 0);
    hilt__net_stream_update_ref(ls);
  }
}

// Stops reading while the buffer holds what a reader may want, and starts
// again once it holds less.
static void flow(lstream_t *ls)
{
  size_t high = ls->want > READ_HIGH ? ls->want : READ_HIGH;
  int full = queued_in(ls) >= high;
  if (ls->s == NULL || ls->err != 0 || full == ls->paused) {
    return;
  }
  ls->paused = full;
  if (full) {
    net_stream_read_stop(ls->s);
  } else {
    net_stream_read_start(ls->s);
  }
}

static void on_connect(net_stream_t *s, int status, const char *err,
                       void *data)
{
  lstream_t *ls = data;
  if (status != 0) {
    ls->err = status;
    snprintf(ls->why, sizeof ls->why, "%s", err);
  }
  wake(ls, &ls->connecting);
}

static void on_read(net_stream_t *s, const char *p, size_t n, void *data)
{
  lstream_t *ls = data;
  mpk_buf_write(&ls->in, p, n);
  if (ls->in.failed) {
    // Out of memory: what was buffered is garbage now.
    mpk_buf_reset(&ls->in);
    ls->in_off = 0;
    ls->err = UV_ENOMEM;
    net_stream_read_stop(s);
  }
  flow(ls);
  wake(ls, &ls->reader);
}

static void on_end(net_stream_t *s, int status, void *data)
{
  lstream_t *ls = data;
  if (status == 0 && !ls->device) {
    ls->eof = 1;
  } else if (ls->err == 0) {
    ls->err = status == 0 ? UV_EOF : status;  // a device hung up
  }
  wake(ls, &ls->reader);
  wake(ls, &ls->writer);
}

static void on_drain(net_stream_t *s, void *data)
{
  lstream_t *ls = data;
  wake(ls, &ls->writer);
}

const net_stream_cb_t hilt__net_stream_cb = {on_connect, on_read, on_end,
                                             on_drain, NULL};

// --- making and closing -----------------------------------------------------------

lstream_t *hilt__net_stream_new(lua_State *L, const char *name)
{
  lstream_t *ls = lua_newuserdatauv(L, sizeof *ls, 0);
  memset(ls, 0, sizeof *ls);
  ls->hold_fd = -1;
  mpk_buf_init(&ls->in);
  snprintf(ls->name, sizeof ls->name, "%s", name);
  luaL_setmetatable(L, NET_STREAM_MT);
  return ls;
}

void hilt__net_stream_attach(lstream_t *ls, net_stream_t *s)
{
  ls->s = s;
  ls->kept = 1;  // as libuv handles start
  net_stream_set_cb(s, &hilt__net_stream_cb, ls);
  net_stream_read_start(s);
  hilt__net_stream_update_ref(ls);
}

// Lets go of the net_stream_t, which calls back into ls no more (ls may
// be about to be freed): it closes now, or once its queue is sent.
static void release(lstream_t *ls)
{
  net_stream_t *s = ls->s;
  ls->s = NULL;
  if (s != NULL && ls->err == 0 && !ls->no_linger &&
      net_stream_write_queued(s) > 0) {
    hilt__net_linger(s);
  } else if (s != NULL) {
    net_stream_set_cb(s, NULL, NULL);
    net_stream_close(s);
  }
  mpk_buf_free(&ls->in);
  ls->in_off = 0;
  if (ls->hold_fd >= 0) {
    close(ls->hold_fd);
    ls->hold_fd = -1;
  }
}

void hilt__net_stream_close(lstream_t *ls)
{
  if (ls->closed) {
    return;
  }
  ls->closed = 1;
  release(ls);
  wake(ls, &ls->reader);
  wake(ls, &ls->writer);
  wake(ls, &ls->connecting);
}

void hilt__net_stream_discard(lstream_t *ls)
{
  mpk_buf_reset(&ls->in);
  ls->in_off = 0;
  flow(ls);
}

// --- waiting ------------------------------------------------------------------------

static int read_step(lua_State *L, lstream_t *ls);
static int until_step(lua_State *L, lstream_t *ls);
static int write_step(lua_State *L, lstream_t *ls);

static const struct {
  int (*fn)(lua_State *L, lstream_t *ls);
  int top;
} steps[] = {
    [STEP_READ] = {read_step, 2},
    [STEP_UNTIL] = {until_step, 3},
    [STEP_WRITE] = {write_step, 3},
};

static int resume_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  lua_settop(L, steps[ctx].top);
  return steps[ctx].fn(L, check_stream(L, 1));
}

static void reader_cancel(hilt_task_t *task, void *data)
{
  lstream_t *ls = data;
  ls->reader = NULL;
  ls->want = 0;
  flow(ls);
  hilt__net_stream_update_ref(ls);
}

static void writer_cancel(hilt_task_t *task, void *data)
{
  lstream_t *ls = data;
  ls->writer = NULL;
  hilt__net_stream_update_ref(ls);
}

// Waits in the reader's or the writer's slot, then goes on with `step`.
static int wait_in(lua_State *L, lstream_t *ls, hilt_task_t **slot, int step)
{
  int reading = slot == &ls->reader;
  if (*slot != NULL) {
    return luaL_error(L, "another task is already %s %s",
                      reading ? "reading from" : "writing to", ls->name);
  }
  const char *what = reading ? "net stream read" : "net stream write";
  hilt_task_check_can_wait(L, what);
  *slot = hilt_task_current();
  hilt__net_stream_update_ref(ls);
  flow(ls);
  return hilt_task_waitk(L, what, reading ? reader_cancel : writer_cancel, ls,
                         step, resume_k);
}

// --- reading ------------------------------------------------------------------------

// Pushes and consumes n buffered bytes.
static void take(lua_State *L, lstream_t *ls, size_t n)
{
  lua_pushlstring(L, ls->in.data + ls->in_off, n);
  ls->in_off += n;
  if (ls->in_off == ls->in.len) {
    mpk_buf_reset(&ls->in);
    mpk_buf_trim(&ls->in, 2 * READ_HIGH);
    ls->in_off = 0;
  } else if (ls->in_off > ls->in.len / 2) {
    memmove(ls->in.data, ls->in.data + ls->in_off, queued_in(ls));
    ls->in.len -= ls->in_off;
    ls->in_off = 0;
  }
  flow(ls);
}

// With nothing buffered: pushes nil and returns 1 at the end (EOF, or
// closed here), raises the error that ended the stream, or returns 0
// when more may come.
static int at_end(lua_State *L, lstream_t *ls)
{
  if (ls->closed || ls->eof) {
    lua_pushnil(L);
    return 1;
  }
  if (ls->err != 0) {
    return hilt__net_raise(L, "unavailable", ls, ls->err);
  }
  return 0;
}

static int read_step(lua_State *L, lstream_t *ls)
{
  size_t max = (size_t)lua_tointeger(L, 2);
  size_t n = queued_in(ls);
  ls->want = 0;
  if (n > 0) {
    take(L, ls, n < max ? n : max);
    return 1;
  }
  if (at_end(L, ls)) {
    return 1;
  }
  return wait_in(L, ls, &ls->reader, STEP_READ);
}

// stream:read([max]) -> the bytes that arrived (at most max), waiting for
// some; nil at the end.
static int l_read(lua_State *L)
{
  lstream_t *ls = check_stream(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, max >= 0, 2, "max must be >= 0");
  lua_settop(L, 1);
  lua_pushinteger(L, max == 0 ? LUA_MAXINTEGER : max);
  return read_step(L, ls);
}

static int until_step(lua_State *L, lstream_t *ls)
{
  size_t seplen;
  const char *sep = lua_tolstring(L, 2, &seplen);
  size_t max = (size_t)lua_tointeger(L, 3);
  size_t n = queued_in(ls);
  const char *p = ls->in.data + ls->in_off;
  const char *at = n > 0 ? memmem(p, n, sep, seplen) : NULL;
  ls->want = 0;
  if (at != NULL) {
    take(L, ls, (size_t)(at - p) + seplen);
    return 1;
  }
  if (n >= max) {
    hilt_error_push(L, "failed", "read_until: no separator within %I bytes",
                    (lua_Integer)max);
    return lua_error(L);
  }
  if (n > 0 && (ls->closed || ls->eof || (ls->err != 0 && !ls->device))) {
    take(L, ls, n);  // the rest, without a separator
    return 1;
  }
  if (at_end(L, ls)) {
    return 1;
  }
  ls->want = max;
  return wait_in(L, ls, &ls->reader, STEP_UNTIL);
}

// stream:read_until(sep [, max]) -> the bytes up to and including sep; at
// the end, what is left without it, then nil. Raises `failed` when max
// bytes (default 1 MiB) come without sep.
static int l_read_until(lua_State *L)
{
  lstream_t *ls = check_stream(L, 1);
  size_t seplen;
  luaL_checklstring(L, 2, &seplen);
  luaL_argcheck(L, seplen > 0, 2, "separator must not be empty");
  lua_Integer max = luaL_optinteger(L, 3, READ_UNTIL_MAX);
  luaL_argcheck(L, max > 0, 3, "max must be > 0");
  lua_settop(L, 2);
  lua_pushinteger(L, max);
  return until_step(L, ls);
}

// --- writing ------------------------------------------------------------------------

// Raises unless the stream can take more bytes.
static void check_writable(lua_State *L, lstream_t *ls)
{
  if (ls->closed) {
    hilt_error_push(L, "unavailable", "%s: the stream is closed", ls->name);
    lua_error(L);
  }
  if (ls->err != 0) {
    hilt__net_raise(L, "unavailable", ls, ls->err);
  }
}

static int write_step(lua_State *L, lstream_t *ls)
{
  size_t n;
  const char *p = lua_tolstring(L, 2, &n);
  size_t off = (size_t)lua_tointeger(L, 3);
  for (;;) {
    check_writable(L, ls);
    if (net_stream_write_queued(ls->s) > WRITE_HIGH) {
      lua_pushinteger(L, (lua_Integer)off);
      lua_replace(L, 3);
      return wait_in(L, ls, &ls->writer, STEP_WRITE);
    }
    if (off == n) {
      return 0;
    }
    size_t k = n - off < WRITE_PIECE ? n - off : WRITE_PIECE;
    int rc = net_stream_write(ls->s, p + off, k);
    if (rc == UV_EPIPE && ls->shut) {
      return luaL_error(L, "%s: cannot write after shutdown", ls->name);
    }
    if (rc != 0) {
      return hilt__net_raise(L, "unavailable", ls, rc);
    }
    off += k;
  }
}

// stream:write(bytes): queues the bytes, waiting while more than 1 MiB is
// queued.
static int l_write(lua_State *L)
{
  lstream_t *ls = check_stream(L, 1);
  luaL_checkstring(L, 2);
  lua_settop(L, 2);
  lua_pushinteger(L, 0);  // how much has been queued
  return write_step(L, ls);
}

// stream:shutdown(): the peer sees EOF once the queue has drained; this
// end can still read. Does nothing on a stream that is closed or failed.
static int l_shutdown(lua_State *L)
{
  lstream_t *ls = check_stream(L, 1);
  if (ls->closed || ls->err != 0) {
    return 0;
  }
  ls->shut = 1;
  int rc = net_stream_shutdown(ls->s);
  if (rc != 0) {
    return hilt__net_raise(L, "unavailable", ls, rc);
  }
  return 0;
}

// --- the rest of the object -----------------------------------------------------

// stream:close(): reads no more; what is queued is still sent, then the
// connection closes. Idempotent.
static int l_close(lua_State *L)
{
  hilt__net_stream_close(check_stream(L, 1));
  return 0;
}

// stream:queued() -> bytes written and not yet sent, bytes arrived and
// not yet read.
static int l_queued(lua_State *L)
{
  lstream_t *ls = check_stream(L, 1);
  size_t out = ls->s != NULL ? net_stream_write_queued(ls->s) : 0;
  lua_pushinteger(L, (lua_Integer)out);
  lua_pushinteger(L, (lua_Integer)queued_in(ls));
  return 2;
}

static int l_gc(lua_State *L)
{
  release(check_stream(L, 1));
  return 0;
}

static int l_tostring(lua_State *L)
{
  lstream_t *ls = check_stream(L, 1);
  lua_pushfstring(L, "net stream %s%s", ls->name,
                  ls->closed ? " (closed)" : "");
  return 1;
}

void hilt__net_stream_open(lua_State *L)
{
  static const luaL_Reg methods[] = {
      {"read", l_read},         {"read_until", l_read_until},
      {"write", l_write},       {"shutdown", l_shutdown},
      {"close", l_close},       {"queued", l_queued},
      {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", l_gc},
                                  {"__close", l_close},
                                  {"__tostring", l_tostring},
                                  {NULL, NULL}};
  hilt__net_linger_open(L);
  if (luaL_newmetatable(L, NET_STREAM_MT)) {
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}
