// The harness of the byte-stream tests (test_net_stream.c, test_net_flow.c):
// a loop whose every wait has a deadline, data with a checksum, a peer that
// records what one end of a stream sees, and an echo server.
#ifndef HILT_NET_HARNESS_H
#define HILT_NET_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"
#include "net_stream.h"

#define DEADLINE_MS 5000
#define CHUNK (64 * 1024)
#define HIGH_WATER (1024 * 1024)
#define BIG (10 * 1024 * 1024)

static uv_loop_t loop;
static uv_timer_t deadline;
static int timed_out;
static char tmpdir[64];

/* ---- Loop with a deadline ---------------------------------------------- */

static inline void deadline_cb(uv_timer_t *t)
{
  timed_out = 1;
  uv_stop(t->loop);
}

static inline void loop_open(void)
{
  uv_loop_init(&loop);
  uv_timer_init(&loop, &deadline);
  // The deadline does not keep the loop alive, so a run ends as soon as
  // the streams are done, and it still fires while they are not.
  uv_unref((uv_handle_t *)&deadline);
  timed_out = 0;
}

// Runs the loop until *done is set; false on the deadline or when nothing
// is left that could set it.
static inline int run_until(const int *done)
{
  uv_timer_start(&deadline, deadline_cb, DEADLINE_MS, 0);
  while (!*done && !timed_out && uv_loop_alive(&loop)) {
    uv_run(&loop, UV_RUN_ONCE);
  }
  uv_timer_stop(&deadline);
  if (!*done) {
    fprintf(stderr, "  %s waiting\n", timed_out ? "timed out" : "stuck");
  }
  return *done;
}

// Lets every close complete, then checks that nothing is left open.
static inline void loop_finish(void)
{
  uv_timer_start(&deadline, deadline_cb, DEADLINE_MS, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(!timed_out);
  uv_close((uv_handle_t *)&deadline, NULL);
  for (int i = 0; i < 10; i++) {
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  CHECK(uv_loop_close(&loop) == 0);
}

/* ---- Data with a checksum ---------------------------------------------- */

static inline uint64_t fnv(uint64_t h, const char *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
  }
  return h;
}

#define FNV_START 0xcbf29ce484222325ULL

// Byte `off` of a stream in which misplaced or repeated chunks show.
static inline void gen(uint64_t off, char *buf, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    uint64_t x = off + i;
    buf[i] = (char)((x * 2654435761u) >> 13 ^ (x >> 16));
  }
}

/* ---- A peer: one end of a stream under test ---------------------------- */

typedef struct {
  net_stream_t *s;
  int connects, status;
  char err[NET_ERR_MAX];
  char got[256];          // the first bytes received, as a string
  size_t total;           // bytes received
  uint64_t hash;
  int ends, end_status;
  size_t total_at_end;
  int closes;
  int echo;               // write back what arrives, then shut down on EOF
  size_t to_send, sent;   // a source: gen() bytes, paced by on_drain
  size_t max_queued;
  int drains, stops;
  int write_errors;
  size_t want;            // set `enough` once this many bytes arrived
  int enough;
} peer_t;

static inline void pump(peer_t *e)
{
  static char chunk[CHUNK];
  while (e->sent < e->to_send &&
         net_stream_write_queued(e->s) < HIGH_WATER) {
    size_t n = e->to_send - e->sent < CHUNK ? e->to_send - e->sent : CHUNK;
    gen(e->sent, chunk, n);
    e->write_errors += net_stream_write(e->s, chunk, n) != 0;
    e->sent += n;
    if (e->sent == e->to_send) {
      net_stream_shutdown(e->s);
    }
  }
}

static inline void peer_connect(net_stream_t *s, int status, const char *err,
                         void *data)
{
  peer_t *e = data;
  e->connects++;
  e->status = status;
  snprintf(e->err, sizeof e->err, "%s", err != NULL ? err : "");
  if (status == 0 && e->to_send > 0) {
    pump(e);
  }
}

// Records bytes received.
static inline void peer_take(peer_t *e, const char *p, size_t n)
{
  size_t len = strlen(e->got), room = sizeof e->got - 1 - len;
  memcpy(e->got + len, p, n < room ? n : room);
  e->got[len + (n < room ? n : room)] = '\0';
  e->total += n;
  e->hash = fnv(e->hash, p, n);
  e->enough = e->want > 0 && e->total >= e->want;
}

static inline void peer_read(net_stream_t *s, const char *p, size_t n, void *data)
{
  peer_t *e = data;
  peer_take(e, p, n);
  if (e->echo) {
    e->write_errors += net_stream_write(s, p, n) != 0;
    size_t q = net_stream_write_queued(s);
    e->max_queued = q > e->max_queued ? q : e->max_queued;
    if (q > HIGH_WATER) {
      e->stops++;
      net_stream_read_stop(s);
    }
  }
}

static inline void peer_drain(net_stream_t *s, void *data)
{
  peer_t *e = data;
  e->drains++;
  if (e->echo && e->ends == 0) {
    net_stream_read_start(s);
  }
  pump(e);
}

static inline void peer_end(net_stream_t *s, int status, void *data)
{
  peer_t *e = data;
  e->ends++;
  e->end_status = status;
  e->total_at_end = e->total;
  if (e->echo && status == 0) {
    net_stream_shutdown(s);
  }
}

static inline void peer_close(net_stream_t *s, void *data)
{
  peer_t *e = data;
  e->closes++;
}

static const net_stream_cb_t peer_cb __attribute__((unused)) = {peer_connect, peer_read, peer_end,
                                        peer_drain, peer_close};

static inline void peer_init(peer_t *e)
{
  memset(e, 0, sizeof *e);
  e->hash = FNV_START;
}

/* ---- A server: a listener and the streams it accepted ------------------ */

typedef struct {
  net_listener_t *l;
  net_addr_t addr;        // where it listens, with the chosen port
  peer_t conns[4];
  int n;
  int echo;
} server_t;

static inline void server_accept(net_listener_t *l, net_stream_t *s, int status,
                          void *data)
{
  server_t *srv = data;
  if (status != 0 || srv->n == 4) {
    net_stream_close(s);
    return;
  }
  peer_t *e = &srv->conns[srv->n++];
  peer_init(e);
  e->s = s;
  e->echo = srv->echo;
  net_stream_set_cb(s, &peer_cb, e);
  net_stream_read_start(s);
}

// Listens on `text` with port 0 (any free port) for TCP.
static inline int server_open(server_t *srv, const char *text, char *err,
                       size_t errlen)
{
  net_addr_t a;
  memset(srv, 0, sizeof *srv);
  srv->echo = 1;
  if (net_addr_parse(&a, text, err, errlen) != 0) {
    return -1;
  }
  if (a.kind == NET_ADDR_TCP) {
    a.port = 0;
  }
  int rc = net_listen(&loop, &a, server_accept, srv, &srv->l, err, errlen);
  if (rc == 0) {
    net_listener_addr(srv->l, &srv->addr);
  }
  return rc;
}

static inline void server_close(server_t *srv)
{
  net_listener_close(srv->l);
  for (int i = 0; i < srv->n; i++) {
    net_stream_close(srv->conns[i].s);
  }
}

// The address to reach srv at: `host` (a TCP host) and its port, or its
// unix path.
static inline net_addr_t server_target(const server_t *srv, const char *host)
{
  net_addr_t a = srv->addr;
  if (a.kind == NET_ADDR_TCP) {
    snprintf(a.host, sizeof a.host, "%s", host);
  }
  return a;
}

static inline int nodelay(net_stream_t *s)
{
  int fd, on = 0;
  socklen_t len = sizeof on;
  if (net_stream_fileno(s, &fd) != 0 ||
      getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) != 0) {
    return -1;
  }
  return on;
}

/* ---- Start and end of a test program ----------------------------------- */

// Makes sure fds 0..2 are open (the stdio tests swap fds 0 and 1; were one
// closed, the loop's own descriptors could take its number), ignores
// SIGPIPE and makes the directory for unix sockets.
static inline int harness_start(void)
{
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) < 0) {
      open("/dev/null", O_RDWR);
    }
  }
  signal(SIGPIPE, SIG_IGN);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hilt-net-XXXXXX");
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return -1;
  }
  return 0;
}

static inline int harness_end(void)
{
  rmdir(tmpdir);
  return check_summary();
}

#endif
