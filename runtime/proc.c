// Child processes (see proc.h): spawning with each piped stdio descriptor
// on a socketpair, signalling the child's group, and the life of the
// libuv handle.
//
// Socketpairs rather than pipes, as libuv's own UV_CREATE_PIPE does: one
// socket carries both ways, and shutting down the parent's end is how a
// child reading its stdin sees EOF while the parent still reads.
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct proc {
  uv_process_t h;
  proc_exit_cb on_exit;
  void *data;
  int pid;
  unsigned exited : 1;         // reaped; the handle is closing or closed
  unsigned handle_closed : 1;  // the handle's close callback has run
  unsigned closing : 1;        // proc_close was called
};

static void close_cb(uv_handle_t *h)
{
  proc_t *p = h->data;
  p->handle_closed = 1;
  if (p->closing) {
    free(p);
  }
}

static void exit_cb(uv_process_t *h, int64_t status, int term_signal)
{
  proc_t *p = h->data;
  p->exited = 1;
  uv_close((uv_handle_t *)h, close_cb);
  if (!p->closing && p->on_exit != NULL) {
    p->on_exit(p, status, term_signal, p->data);
  }
}

static void close_fds(int fds[3])
{
  for (int i = 0; i < 3; i++) {
    if (fds[i] >= 0) {
      close(fds[i]);
      fds[i] = -1;
    }
  }
}

// A socketpair for each piped descriptor: parent[i] stays here, child[i]
// goes to the child. Both are close-on-exec, so no other child inherits
// them and holds a stream open.
static int make_pairs(const proc_opts_t *o, int parent[3], int child[3])
{
  for (int i = 0; i < 3; i++) {
    parent[i] = child[i] = -1;
  }
  for (int i = 0; i < 3; i++) {
    int sv[2];
    if (o->io[i] != PROC_IO_PIPE) {
      continue;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return uv_translate_sys_error(errno);
    }
    parent[i] = sv[0];
    child[i] = sv[1];
  }
  return 0;
}

// Makes streams of the parent's ends; each stream owns its descriptor.
static int open_streams(uv_loop_t *loop, int parent[3], net_stream_t *io[3])
{
  for (int i = 0; i < 3; i++) {
    if (parent[i] < 0) {
      continue;
    }
    int rc = net_stream_open_fd(loop, parent[i], NULL, NULL, &io[i], NULL, 0);
    if (rc != 0) {
      return rc;
    }
    parent[i] = -1;
  }
  return 0;
}

static void close_streams(net_stream_t *io[3])
{
  for (int i = 0; i < 3; i++) {
    net_stream_close(io[i]);
    io[i] = NULL;
  }
}

// Spawns the child itself. A failed uv_spawn still leaves a handle that
// must be closed; its close callback frees p.
static int start(uv_loop_t *loop, const proc_opts_t *o, const int child[3],
                 proc_t **out)
{
  uv_stdio_container_t st[3];
  uv_process_options_t po;
  proc_t *p = calloc(1, sizeof *p);
  if (p == NULL) {
    return UV_ENOMEM;
  }
  for (int i = 0; i < 3; i++) {
    st[i].flags = o->io[i] == PROC_IO_NULL ? UV_IGNORE : UV_INHERIT_FD;
    st[i].data.fd = o->io[i] == PROC_IO_PIPE ? child[i] : i;
  }
  memset(&po, 0, sizeof po);
  po.exit_cb = exit_cb;
  po.file = o->argv[0];
  po.args = (char **)o->argv;
  po.env = (char **)o->env;
  po.cwd = o->cwd;
  po.flags = UV_PROCESS_DETACHED;
  po.stdio_count = 3;
  po.stdio = st;
  int rc = uv_spawn(loop, &p->h, &po);
  p->h.data = p;
  if (rc != 0) {
    p->closing = 1;
    uv_close((uv_handle_t *)&p->h, close_cb);
    return rc;
  }
  p->pid = p->h.pid;
  *out = p;
  return 0;
}

// The message for a failed spawn: a missing program and a missing working
// directory both fail with ENOENT, so the directory is looked at.
static int spawn_fail(const proc_opts_t *o, int rc, char *err, size_t n)
{
  struct stat st;
  if (err == NULL || n == 0) {
    return rc;
  }
  if (o->cwd != NULL && (stat(o->cwd, &st) != 0 || !S_ISDIR(st.st_mode))) {
    snprintf(err, n, "cannot run '%s' in '%s': %s", o->argv[0], o->cwd,
             uv_strerror(rc));
  } else {
    snprintf(err, n, "cannot run '%s': %s", o->argv[0], uv_strerror(rc));
  }
  return rc;
}

int proc_spawn(uv_loop_t *loop, const proc_opts_t *o, proc_exit_cb on_exit,
               void *data, proc_t **out, net_stream_t *io[3], char *err,
               size_t errlen)
{
  int parent[3], child[3];
  *out = NULL;
  io[0] = io[1] = io[2] = NULL;
  if (o->argv == NULL || o->argv[0] == NULL || o->argv[0][0] == '\0') {
    if (err != NULL && errlen > 0) {
      snprintf(err, errlen, "cannot run a process: no program given");
    }
    return UV_EINVAL;
  }
  int rc = make_pairs(o, parent, child);
  if (rc == 0) {
    rc = open_streams(loop, parent, io);
  }
  if (rc == 0) {
    rc = start(loop, o, child, out);
  }
  close_fds(parent);
  close_fds(child);
  if (rc != 0) {
    close_streams(io);
    return spawn_fail(o, rc, err, errlen);
  }
  (*out)->on_exit = on_exit;
  (*out)->data = data;
  return 0;
}

int proc_pid(const proc_t *p)
{
  return p->pid;
}

int proc_kill(proc_t *p, int sig)
{
  return uv_kill(-p->pid, sig);
}

void proc_close(proc_t *p)
{
  if (p == NULL || p->closing) {
    return;
  }
  p->closing = 1;
  if (p->handle_closed) {
    free(p);
    return;
  }
  if (!p->exited) {
    // libuv reaps only children whose handle is open: the handle stays
    // until the child has died, but no longer holds the loop.
    uv_kill(-p->pid, SIGKILL);
    uv_unref((uv_handle_t *)&p->h);
  }
}
