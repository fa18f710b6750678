// hilt.process.core: child processes for scripts (docs/io.md), over
// runtime/proc.c. spawn checks its arguments, starts the child and gives
// its piped stdin, stdout and stderr as hilt.net streams; lua/hilt/
// process.lua builds run() on top.
#include <lauxlib.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind.h"
#include "errors.h"
#include "task.h"
#include "l_net.h"
#include "proc.h"

#define PROC_MT "hilt.process.Process"

extern char **environ;

typedef struct {
  proc_t *p;            // NULL once closed
  lua_State *L;
  int self_ref;         // anchors the userdata while the child runs
  int pid;
  int exited;
  int64_t code;         // the exit status, when sig is 0
  int sig;              // the signal that ended it, or 0
  hilt_task_t *waiter;  // the task waiting in wait()
} lproc_t;

// Uservalues: the stdin, stdout and stderr streams (nil unless piped).
enum { PROC_UV_STDIN = 1, PROC_UV_COUNT = 3 };

// What spawn's scratch table (at stack index SCRATCH) holds: the
// argument strings, then the environment changes, each anchored there.
enum { SCRATCH = 4 };

static const char *const io_names[] = {"stdin", "stdout", "stderr"};

// Raises "bad argument #arg to 'fname' (...)": fname is what the user
// called (spawn, or run through lua/hilt/process.lua).
static int arg_error(lua_State *L, int arg, const char *fmt, ...)
{
  const char *fname = luaL_optstring(L, 3, "spawn");
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, fname,
                    lua_tostring(L, -1));
}

// The string or number at the top of L as a string (a number converted
// in place), which no argument or variable can hold a NUL byte of.
static const char *plain_string(lua_State *L, int arg, const char *what)
{
  size_t n;
  int t = lua_type(L, -1);
  if (t != LUA_TSTRING && t != LUA_TNUMBER) {
    arg_error(L, arg, "%s must be a string, got %s", what,
              luaL_typename(L, -1));
  }
  const char *s = lua_tolstring(L, -1, &n);
  if (strlen(s) != n) {
    arg_error(L, arg, "%s must not hold a NUL byte", what);
  }
  return s;
}

// --- spawn's arguments ------------------------------------------------------------

// Anchors the strings of the list at 1 in SCRATCH[1..n]; returns n.
static size_t check_argv(lua_State *L)
{
  char what[32];
  if (!lua_istable(L, 1)) {
    arg_error(L, 1, "list of strings expected, got %s", luaL_typename(L, 1));
  }
  size_t n = (size_t)luaL_len(L, 1);
  if (n == 0) {
    arg_error(L, 1, "argv must name a program");
  }
  for (size_t i = 1; i <= n; i++) {
    lua_geti(L, 1, (lua_Integer)i);
    snprintf(what, sizeof what, "argv[%zu]", i);
    if (*plain_string(L, 1, what) == '\0' && i == 1) {
      arg_error(L, 1, "argv[1] must name a program, got \"\"");
    }
    lua_rawseti(L, SCRATCH, (lua_Integer)i);
  }
  return n;
}

// Anchors "NAME=value", or "NAME" to remove it, in SCRATCH after `first`
// for each entry of the env table at the top of L. Returns how many.
static size_t check_env(lua_State *L, size_t first)
{
  char what[64];
  size_t n = 0;
  int env = lua_gettop(L);
  if (lua_isnil(L, env)) {
    return 0;
  }
  if (!lua_istable(L, env)) {
    arg_error(L, 2, "env must be a table, got %s", luaL_typename(L, env));
  }
  for (lua_pushnil(L); lua_next(L, env) != 0; lua_pop(L, 1)) {
    const char *name = lua_type(L, -2) == LUA_TSTRING
                           ? lua_tostring(L, -2) : NULL;
    if (name == NULL || *name == '\0' || strchr(name, '=') != NULL ||
        strlen(name) != lua_rawlen(L, -2)) {
      arg_error(L, 2, "env names must be non-empty strings without '='");
    }
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
      lua_pushstring(L, name);
    } else {
      snprintf(what, sizeof what, "env.%s", name);
      lua_pushvalue(L, -1);
      lua_pushfstring(L, "%s=%s", name, plain_string(L, 2, what));
      lua_remove(L, -2);
    }
    lua_rawseti(L, SCRATCH, (lua_Integer)(first + ++n));
  }
  return n;
}

static proc_io_t check_io(lua_State *L, int i)
{
  static const char *const names[] = {"pipe", "null", "inherit", NULL};
  if (lua_isnil(L, -1)) {
    return PROC_IO_PIPE;
  }
  const char *s = lua_tostring(L, -1);
  for (int k = 0; s != NULL && names[k] != NULL; k++) {
    if (strcmp(s, names[k]) == 0) {
      return (proc_io_t)k;
    }
  }
  return arg_error(L, 2, "%s must be \"pipe\", \"null\" or \"inherit\"",
                   io_names[i]);
}

// Reads the options at 2 into o (cwd, io) and SCRATCH (env); returns the
// number of env changes.
static size_t check_opts(lua_State *L, proc_opts_t *o, size_t nargs)
{
  static const char *const known[] = {"cwd", "env", "stdin", "stdout",
                                      "stderr", NULL};
  if (lua_isnoneornil(L, 2)) {
    return 0;
  }
  if (!lua_istable(L, 2)) {
    arg_error(L, 2, "table expected, got %s", luaL_typename(L, 2));
  }
  for (lua_pushnil(L); lua_next(L, 2) != 0; lua_pop(L, 1)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    int i = 0;
    while (known[i] != NULL && strcmp(known[i], k) != 0) {
      i++;
    }
    if (known[i] == NULL) {
      lua_pushvalue(L, -2);
      arg_error(L, 2, "unknown option '%s'", luaL_tolstring(L, -1, NULL));
    }
  }
  if (lua_getfield(L, 2, "cwd") != LUA_TNIL) {
    o->cwd = plain_string(L, 2, "cwd");
    lua_setfield(L, SCRATCH, "cwd");  // anchored: a number became a string
  } else {
    lua_pop(L, 1);
  }
  for (int i = 0; i < 3; i++) {
    lua_getfield(L, 2, io_names[i]);
    o->io[i] = check_io(L, i);
    lua_pop(L, 1);
  }
  lua_getfield(L, 2, "env");
  size_t n = check_env(L, nargs);
  lua_pop(L, 1);
  return n;
}

// --- the child's end --------------------------------------------------------------------

static void on_exit_cb(proc_t *p, int64_t status, int term_signal,
                       void *data)
{
  lproc_t *lp = data;
  lp->exited = 1;
  lp->code = status;
  lp->sig = term_signal;
  if (lp->waiter != NULL) {
    hilt_task_t *t = lp->waiter;
    lp->waiter = NULL;
    hilt_task_wake(t, 0);
  }
  luaL_unref(lp->L, LUA_REGISTRYINDEX, lp->self_ref);
  lp->self_ref = LUA_NOREF;
}

// Pushes code, nil for an exit, or nil, "SIGNAME" for a death by signal.
static int push_result(lua_State *L, const lproc_t *lp)
{
  char name[16];
  if (lp->sig != 0) {
    lua_pushnil(L);
    lua_pushstring(L, proc_signal_name(lp->sig, name, sizeof name));
  } else {
    lua_pushinteger(L, (lua_Integer)lp->code);
    lua_pushnil(L);
  }
  return 2;
}

// --- spawn ----------------------------------------------------------------------------

// Raises the failure of proc_spawn: a missing program or directory is
// not_found.
static int raise_spawn(lua_State *L, int rc, const char *err)
{
  hilt_error_push(L, rc == UV_ENOENT   ? "not_found"
                     : rc == UV_EINVAL ? "invalid_argument"
                                       : "failed",
                  "%s", err);
  return lua_error(L);
}

// Starts the child: every Lua allocation that could raise is made
// before, so nothing is held in C when an error is raised.
static int start(lua_State *L, lproc_t *lp, proc_opts_t *o, size_t nargs,
                 size_t nenv, lstream_t *io[3])
{
  char err[NET_ERR_MAX];
  net_stream_t *s[3];
  // argv, its NULL, then the env changes; the strings are anchored in
  // SCRATCH.
  const char **argv = lua_newuserdatauv(L, (nargs + nenv + 1) * sizeof *argv,
                                        0);
  for (size_t i = 0; i < nargs + nenv; i++) {
    lua_rawgeti(L, SCRATCH, (lua_Integer)i + 1);
    argv[i + (i >= nargs)] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  argv[nargs] = NULL;
  o->argv = argv;
  char **env =
      nenv > 0 ? proc_env_merge(environ, argv + nargs + 1, nenv) : NULL;
  if (nenv > 0 && env == NULL) {
    return luaL_error(L, "spawn: out of memory");
  }
  o->env = (const char *const *)env;
  int rc = proc_spawn(hilt_sched_loop(), o, on_exit_cb, lp, &lp->p, s, err,
                      sizeof err);
  free(env);
  if (rc != 0) {
    return raise_spawn(L, rc, err);
  }
  lp->pid = proc_pid(lp->p);
  for (int i = 0; i < 3; i++) {
    if (s[i] != NULL) {
      snprintf(io[i]->name, sizeof io[i]->name, "%s of process %d",
               io_names[i], lp->pid);
      hilt__net_stream_attach(io[i], s[i]);
    }
  }
  return 0;
}

// spawn(argv [, opts [, fname]]) -> process. fname names the caller in
// argument errors.
static int l_spawn(lua_State *L)
{
  proc_opts_t o;
  lstream_t *io[3];
  memset(&o, 0, sizeof o);
  lua_settop(L, 3);
  lua_newtable(L);  // SCRATCH
  size_t nargs = check_argv(L);
  size_t nenv = check_opts(L, &o, nargs);
  lproc_t *lp = lua_newuserdatauv(L, sizeof *lp, PROC_UV_COUNT);
  int ud = lua_gettop(L);
  memset(lp, 0, sizeof *lp);
  lp->L = hilt_sched_state();  // not L: a task's thread is reused
  lp->self_ref = LUA_NOREF;
  luaL_setmetatable(L, PROC_MT);
  for (int i = 0; i < 3; i++) {
    io[i] = NULL;
    if (o.io[i] == PROC_IO_PIPE) {
      io[i] = hilt__net_stream_new(L, io_names[i]);
      lua_setiuservalue(L, ud, PROC_UV_STDIN + i);
    }
  }
  start(L, lp, &o, nargs, nenv, io);
  lua_settop(L, ud);
  lua_pushvalue(L, ud);
  lp->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

// --- the process object ------------------------------------------------------------

static lproc_t *check_proc(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, PROC_MT);
}

static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
  hilt__task_resumed(L);
  return push_result(L, check_proc(L, 1));
}

static void wait_cancel(hilt_task_t *task, void *data)
{
  ((lproc_t *)data)->waiter = NULL;
}

// proc:wait() -> code, nil | nil, signal name: waits for the child to end.
static int l_wait(lua_State *L)
{
  lproc_t *lp = check_proc(L, 1);
  lua_settop(L, 1);
  if (lp->exited) {
    return push_result(L, lp);
  }
  if (lp->waiter != NULL) {
    return luaL_error(L, "another task is already waiting for process %d",
                      lp->pid);
  }
  hilt_task_check_can_wait(L, "process:wait");
  lp->waiter = hilt_task_current();
  return hilt_task_waitk(L, "process:wait", wait_cancel, lp, 0, wait_k);
}

// The signal at idx: a name ("term", "SIGKILL") or a number.
static int check_signal(lua_State *L, int idx)
{
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, idx);
    luaL_argcheck(L, n >= 0 && n < 65, idx, "signal number out of range");
    return (int)n;
  }
  const char *name = luaL_optstring(L, idx, "term");
  int sig = proc_signal_parse(name);
  if (sig == 0) {
    return luaL_argerror(L, idx,
                         lua_pushfstring(L, "unknown signal '%s'", name));
  }
  return sig;
}

// proc:kill([sig]) -> true, or false when nothing of its group is left.
static int l_kill(lua_State *L)
{
  lproc_t *lp = check_proc(L, 1);
  int sig = check_signal(L, 2);
  lua_pushboolean(L, lp->p != NULL && proc_kill(lp->p, sig) == 0);
  return 1;
}

// Closes the piped streams of the process at ud.
static void close_streams(lua_State *L, int ud)
{
  for (int i = 0; i < 3; i++) {
    lua_getiuservalue(L, ud, PROC_UV_STDIN + i);
    lstream_t *ls = luaL_testudata(L, -1, NET_STREAM_MT);
    if (ls != NULL) {
      hilt__net_stream_close(ls);
    }
    lua_pop(L, 1);
  }
}

// proc:close(): kills a child still running (SIGKILL to its group),
// closes its streams and lets go. A task waiting in wait() then gets
// nil, "SIGKILL".
static int l_close(lua_State *L)
{
  lproc_t *lp = check_proc(L, 1);
  if (lp->p != NULL && !lp->exited) {
    on_exit_cb(lp->p, 0, SIGKILL, lp);
  }
  proc_close(lp->p);
  lp->p = NULL;
  close_streams(L, 1);
  return 0;
}

static int l_gc(lua_State *L)
{
  lproc_t *lp = check_proc(L, 1);
  proc_close(lp->p);
  lp->p = NULL;
  return 0;
}

// proc:running() -> whether the child has not ended yet.
static int l_running(lua_State *L)
{
  lproc_t *lp = check_proc(L, 1);
  lua_pushboolean(L, lp->p != NULL && !lp->exited);
  return 1;
}

// proc.pid, proc.stdin, proc.stdout, proc.stderr, then the methods.
static int l_index(lua_State *L)
{
  lproc_t *lp = check_proc(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k != NULL && strcmp(k, "pid") == 0) {
    lua_pushinteger(L, lp->pid);
    return 1;
  }
  for (int i = 0; k != NULL && i < 3; i++) {
    if (strcmp(k, io_names[i]) == 0) {
      lua_getiuservalue(L, 1, PROC_UV_STDIN + i);
      return 1;
    }
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int l_tostring(lua_State *L)
{
  lproc_t *lp = check_proc(L, 1);
  char name[16];
  if (!lp->exited) {
    lua_pushfstring(L, "process %d (running)", lp->pid);
  } else if (lp->sig != 0) {
    lua_pushfstring(L, "process %d (killed by %s)", lp->pid,
                    proc_signal_name(lp->sig, name, sizeof name));
  } else {
    lua_pushfstring(L, "process %d (exited %d)", lp->pid, (int)lp->code);
  }
  return 1;
}

int luaopen_hilt_process_core(lua_State *L)
{
  static const luaL_Reg methods[] = {{"wait", l_wait},   {"kill", l_kill},
                                     {"close", l_close}, {"running", l_running},
                                     {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", l_gc},
                                  {"__close", l_close},
                                  {"__tostring", l_tostring},
                                  {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"spawn", l_spawn}, {NULL, NULL}};
  luaL_requiref(L, "hilt.net.core", luaopen_hilt_net_core, 0);
  lua_pop(L, 1);
  if (luaL_newmetatable(L, PROC_MT)) {
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_pushcclosure(L, l_index, 1);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
