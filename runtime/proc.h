// Child processes over libuv's uv_spawn.
//
// Each child leads a new session and process group (setsid, libuv's
// UV_PROCESS_DETACHED), so proc_kill reaches everything it started (the
// `sleep` under `sh -c "sleep 30"`) and a Ctrl-C meant for hilt does not
// reach it. Its stdin, stdout and stderr are each a byte stream of this
// process (net_stream.h: one end of a socketpair, as libuv's own pipes
// are), /dev/null, or this process's own descriptor.
//
// A child's life, as its owner sees it:
//
//   proc_spawn -> running -> on_exit (once) -> proc_close
//                    \______ proc_close (SIGKILL) ______/
//
// The libuv handle closes right after the child has been reaped, so an
// exited child holds nothing of the loop's; proc_close frees the rest.
// A running child keeps the loop alive, as libuv handles do.
#ifndef HILT_PROC_H
#define HILT_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net_stream.h"

typedef enum {
  PROC_IO_PIPE = 0,   // a stream of this process (the default)
  PROC_IO_NULL,       // /dev/null
  PROC_IO_INHERIT,    // this process's own descriptor of the same number
} proc_io_t;

typedef struct {
  // The program and its arguments, NULL-terminated; argv[0] is searched
  // in PATH unless it contains a '/'. Must not be empty.
  const char *const *argv;
  // The whole environment as "NAME=value" strings, NULL-terminated, or
  // NULL for this process's (see proc_env_merge).
  const char *const *env;
  const char *cwd;         // NULL: this process's working directory
  proc_io_t io[3];         // stdin, stdout, stderr
} proc_opts_t;

typedef struct proc proc_t;

/// The child has exited and been reaped: `status` is its exit status when
/// `term_signal` is 0, otherwise the signal that ended it. Called at most
/// once, from the loop, never after proc_close. The callee may call
/// proc_close.
typedef void (*proc_exit_cb)(proc_t *p, int64_t status, int term_signal,
                             void *data);

/// Starts a child as `o` says and sets *out. For each PROC_IO_PIPE in
/// o->io, io[i] receives a stream that the caller owns: it has no
/// callbacks and does not read until the caller sets them
/// (net_stream_set_cb, net_stream_read_start), and the caller closes it.
/// The other io[i] are NULL. Returns 0, or a negative libuv code with a
/// message in err[0..errlen) (err may be NULL) that names the program
/// ("cannot run 'nosuch': no such file or directory") or the directory
/// ("cannot run 'ls' in '/nope': no such file or directory"), *out and
/// every io[i] NULL and no callback to come. UV_ENOENT means the program
/// or the directory does not exist.
int proc_spawn(uv_loop_t *loop, const proc_opts_t *o, proc_exit_cb on_exit,
               void *data, proc_t **out, net_stream_t *io[3], char *err,
               size_t errlen);

/// The child's process id, which is also its process group's id.
int proc_pid(const proc_t *p);

/// Sends `sig` to the child's process group: the child and whatever it
/// started that is still in the group, including what outlived the
/// child. Returns 0, or a negative libuv code: UV_ESRCH when nothing of
/// the group is left, UV_EINVAL for a bad signal number. Once the child
/// and all of its group are gone, the kernel may give the group's id to
/// an unrelated group, so a caller should not signal long after that.
int proc_kill(proc_t *p, int sig);

/// Lets go of the child: one still running is killed (SIGKILL to its
/// group) and reaped when it dies, without calling back and without
/// keeping the loop alive meanwhile. No callback follows. Idempotent
/// until it frees; p may be NULL.
void proc_close(proc_t *p);

/// A new environment: `base` (NULL-terminated "NAME=value" strings, such
/// as environ) with `changes` applied in order: "NAME=value" sets NAME,
/// replacing any earlier value; "NAME" (no '=') removes it. Returns a
/// NULL-terminated array to be freed with free(); its strings are those of
/// `base` and `changes`, not copies, so they must outlive it. NULL when
/// out of memory.
char **proc_env_merge(char *const *base, const char *const *changes,
                      size_t n);

/// The name of signal `sig` ("SIGTERM"), or "SIG<n>" for one without a
/// name here, written into buf[0..n) and returned.
const char *proc_signal_name(int sig, char *buf, size_t n);

/// The number of the signal named `name`: "term", "TERM" and "SIGTERM"
/// are all SIGTERM. Returns 0 for a name it does not know.
int proc_signal_parse(const char *name);

#endif
