// Unit tests of runtime/proc.c, proc_env.c and proc_signal.c: the
// environment a child gets, signal names, and real children on a real
// loop: their piped stdio, exit status, the messages of a failed spawn,
// signals reaching the whole group, and closing a running child. Every
// test ends with uv_loop_close succeeding, so a handle left open fails it.
#include <stdio.h>

#include "net_harness.h"
#include "proc.h"

/* ---- Helpers ----------------------------------------------------------- */

typedef struct {
  int exits;
  int64_t status;
  int term_signal;
} exit_t;

static void on_exit_cb(proc_t *p, int64_t status, int term_signal,
                       void *data)
{
  exit_t *e = data;
  e->exits++;
  e->status = status;
  e->term_signal = term_signal;
}

// Whether pid is gone, or a zombie that nobody here will reap (a
// grandchild whose parent died is adopted by init).
static int dead(int pid)
{
  char path[64], stat[256];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    return 1;
  }
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = '\0';
  const char *paren = strrchr(stat, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] == 'Z';
}

static void tick_cb(uv_timer_t *t)
{
}

// Runs the loop until pid is gone (not even a zombie). libuv reaps only
// while its loop runs, which a closed child does not keep it doing, so a
// ticking timer does. False after DEADLINE_MS.
static int run_until_reaped(int pid)
{
  uv_timer_t tick;
  int gone = 0;
  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, tick_cb, 1, 1);
  for (int ms = 0; ms < DEADLINE_MS && !gone; ms++) {
    uv_run(&loop, UV_RUN_ONCE);
    gone = kill(pid, 0) != 0 && errno == ESRCH;
  }
  uv_close((uv_handle_t *)&tick, NULL);
  return gone;
}

static const proc_io_t PIPES[3] = {PROC_IO_PIPE, PROC_IO_PIPE, PROC_IO_PIPE};
static const proc_io_t NULLS[3] = {PROC_IO_NULL, PROC_IO_NULL, PROC_IO_NULL};
static const proc_io_t OUT_ONLY[3] = {PROC_IO_NULL, PROC_IO_PIPE,
                                      PROC_IO_NULL};

// Starts argv with stdio as `modes` say, checking that it started and
// that exactly the piped descriptors have streams.
static proc_t *start(const char *const *argv, const proc_io_t modes[3],
                     const proc_opts_t *more, exit_t *e, net_stream_t *io[3])
{
  proc_opts_t o;
  proc_t *p = NULL;
  char msg[NET_ERR_MAX] = "";
  memset(&o, 0, sizeof o);
  if (more != NULL) {
    o = *more;
  }
  o.argv = argv;
  memcpy(o.io, modes, sizeof o.io);
  CHECK(proc_spawn(&loop, &o, on_exit_cb, e, &p, io, msg, sizeof msg) == 0);
  CHECK(p != NULL && proc_pid(p) > 0 && msg[0] == '\0');
  for (int i = 0; i < 3; i++) {
    CHECK((io[i] != NULL) == (modes[i] == PROC_IO_PIPE));
  }
  return p;
}

// Records what arrives on s in pe.
static void watch(peer_t *pe, net_stream_t *s)
{
  peer_init(pe);
  net_stream_set_cb(s, &peer_cb, pe);
  net_stream_read_start(s);
}

/* ---- Environment and signal names -------------------------------------- */

static int env_is(char **env, const char *const *want)
{
  size_t i = 0;
  for (; want[i] != NULL; i++) {
    if (env[i] == NULL || strcmp(env[i], want[i]) != 0) {
      return 0;
    }
  }
  return env[i] == NULL;
}

static void test_env_merge(void)
{
  char *base[] = {"A=1", "B=2", "C=3", "B=dup", NULL};
  const char *changes[] = {"B=20", "A", "D=4", "B=22", "NOPE"};
  const char *want[] = {"C=3", "D=4", "B=22", NULL};
  char **env = proc_env_merge(base, changes, 5);
  CHECK(env != NULL && env_is(env, want));
  free(env);
  const char *none[] = {"A=1", "B=2", "C=3", "B=dup", NULL};
  env = proc_env_merge(base, NULL, 0);
  CHECK(env != NULL && env_is(env, none));
  free(env);
  // A prefix of a name is another name.
  char *ab[] = {"AB=1", NULL};
  const char *drop_a[] = {"A"};
  const char *keep[] = {"AB=1", NULL};
  env = proc_env_merge(ab, drop_a, 1);
  CHECK(env != NULL && env_is(env, keep));
  free(env);
  const char *set[] = {"X=", NULL};
  env = proc_env_merge(NULL, set, 1);
  CHECK(env != NULL && env_is(env, set));
  free(env);
}

static void test_signal_names(void)
{
  char buf[16];
  CHECK(strcmp(proc_signal_name(SIGTERM, buf, sizeof buf), "SIGTERM") == 0);
  CHECK(strcmp(proc_signal_name(SIGKILL, buf, sizeof buf), "SIGKILL") == 0);
  CHECK(strcmp(proc_signal_name(200, buf, sizeof buf), "SIG200") == 0);
  CHECK(proc_signal_parse("term") == SIGTERM);
  CHECK(proc_signal_parse("KILL") == SIGKILL);
  CHECK(proc_signal_parse("SIGINT") == SIGINT);
  CHECK(proc_signal_parse("sigHup") == SIGHUP);
  CHECK(proc_signal_parse("usr1") == SIGUSR1);
  CHECK(proc_signal_parse("bogus") == 0);
  CHECK(proc_signal_parse("") == 0);
  CHECK(proc_signal_parse("SIG") == 0);
}

/* ---- Children ---------------------------------------------------------- */

// stdin, stdout and stderr all piped: the child reads a line, answers on
// both, sees EOF when we shut down, and its status comes back.
static void test_spawn_pipes(void)
{
  static const char *const argv[] = {
      "sh", "-c",
      "read x; echo \"got $x\"; echo err >&2; cat >/dev/null; exit 3", NULL};
  net_stream_t *io[3];
  peer_t out, err;
  exit_t e = {0};
  loop_open();
  proc_t *p = start(argv, PIPES, NULL, &e, io);
  watch(&out, io[1]);
  watch(&err, io[2]);
  CHECK(net_stream_write(io[0], "hello\n", 6) == 0);
  CHECK(net_stream_shutdown(io[0]) == 0);
  CHECK(run_until(&e.exits) && run_until(&out.ends) && run_until(&err.ends));
  CHECK(e.exits == 1 && e.status == 3 && e.term_signal == 0);
  CHECK(strcmp(out.got, "got hello\n") == 0 && out.end_status == 0);
  CHECK(strcmp(err.got, "err\n") == 0);
  for (int i = 0; i < 3; i++) {
    net_stream_close(io[i]);
  }
  proc_close(p);
  loop_finish();
}

// /dev/null and no streams: output disappears, input is empty.
static void test_spawn_null(void)
{
  static const char *const argv[] = {"sh", "-c", "test -z \"$(cat)\"", NULL};
  net_stream_t *io[3];
  exit_t e = {0};
  loop_open();
  proc_t *p = start(argv, NULLS, NULL, &e, io);
  CHECK(run_until(&e.exits) && e.status == 0);
  CHECK(proc_kill(p, SIGTERM) == UV_ESRCH);  // nothing of the group is left
  proc_close(p);
  loop_finish();
}

static void test_spawn_env_cwd(void)
{
  static const char *const argv[] = {"sh", "-c", "echo \"$HILT_X $(pwd)\"",
                                     NULL};
  static const char *const env[] = {"HILT_X=42", "PATH=/usr/bin:/bin", NULL};
  proc_opts_t o = {.env = env, .cwd = "/"};
  net_stream_t *io[3];
  peer_t out;
  exit_t e = {0};
  loop_open();
  proc_t *p = start(argv, OUT_ONLY, &o, &e, io);
  watch(&out, io[1]);
  CHECK(run_until(&e.exits) && run_until(&out.ends));
  CHECK(strcmp(out.got, "42 /\n") == 0);
  net_stream_close(io[1]);
  proc_close(p);
  loop_finish();
}

static void test_spawn_fails(void)
{
  static const char *const missing[] = {"hilt-no-such-program", NULL};
  static const char *const ls[] = {"ls", NULL};
  static const char *const empty[] = {NULL};
  proc_opts_t o = {.argv = missing};
  proc_t *p = (proc_t *)1;
  net_stream_t *io[3] = {(net_stream_t *)1};
  char msg[NET_ERR_MAX];
  exit_t e = {0};
  loop_open();
  CHECK(proc_spawn(&loop, &o, on_exit_cb, &e, &p, io, msg, sizeof msg) ==
        UV_ENOENT);
  CHECK(p == NULL && io[0] == NULL && io[1] == NULL && io[2] == NULL);
  CHECK(strcmp(msg, "cannot run 'hilt-no-such-program': no such file or "
                    "directory") == 0);
  o.argv = ls;
  o.cwd = "/hilt-no-such-dir";
  CHECK(proc_spawn(&loop, &o, on_exit_cb, &e, &p, io, msg, sizeof msg) ==
        UV_ENOENT);
  CHECK(strcmp(msg, "cannot run 'ls' in '/hilt-no-such-dir': no such file "
                    "or directory") == 0);
  o.argv = empty;
  CHECK(proc_spawn(&loop, &o, on_exit_cb, &e, &p, io, msg, sizeof msg) ==
        UV_EINVAL);
  loop_finish();
  CHECK(e.exits == 0);
}

// SIGTERM to the group ends the shell and the sleep it started.
static void test_kill_group(void)
{
  static const char *const argv[] = {"sh", "-c", "sleep 30 & echo $!; wait",
                                     NULL};
  net_stream_t *io[3];
  peer_t out;
  exit_t e = {0};
  loop_open();
  proc_t *p = start(argv, OUT_ONLY, NULL, &e, io);
  watch(&out, io[1]);
  out.want = 2;
  CHECK(run_until(&out.enough));
  int sleeper = atoi(out.got);
  CHECK(sleeper > 0 && !dead(sleeper));
  CHECK(proc_kill(p, SIGTERM) == 0);
  CHECK(run_until(&e.exits) && e.term_signal == SIGTERM);
  CHECK(run_until(&out.ends));
  for (int i = 0; i < 1000 && sleeper > 0 && !dead(sleeper); i++) {
    usleep(1000);
  }
  CHECK(sleeper > 0 && dead(sleeper));
  net_stream_close(io[1]);
  proc_close(p);
  loop_finish();
}

// Closing a running child kills it; it is reaped without a callback, and
// it does not keep the loop alive meanwhile.
static void test_close_running(void)
{
  static const char *const argv[] = {"sleep", "30", NULL};
  net_stream_t *io[3];
  exit_t e = {0};
  loop_open();
  proc_t *p = start(argv, NULLS, NULL, &e, io);
  int pid = proc_pid(p);
  proc_close(p);
  proc_close(p);  // idempotent until it frees
  CHECK(!uv_loop_alive(&loop));
  CHECK(run_until_reaped(pid));
  CHECK(e.exits == 0);
  loop_finish();
}

int main(void)
{
  if (harness_start() != 0) {
    return 1;
  }
  test_env_merge();
  test_signal_names();
  test_spawn_pipes();
  test_spawn_null();
  test_spawn_env_cwd();
  test_spawn_fails();
  test_kill_group();
  test_close_running();
  return harness_end();
}
