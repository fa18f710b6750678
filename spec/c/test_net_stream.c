// Unit tests of runtime/net_stream.c on a real loop: echo over TCP (IPv4,
// IPv6, every interface), unix sockets, pairs and stdio; 10 MB with a
// checksum and backpressure; half-close; the errors a user sees; closing
// with writes queued. Every wait has a deadline, and every test ends with
// uv_loop_close succeeding, so a handle left open fails the test.
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

static void deadline_cb(uv_timer_t *t)
{
  timed_out = 1;
  uv_stop(t->loop);
}

static void loop_open(void)
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
static int run_until(const int *done)
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
static void loop_finish(void)
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

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
  }
  return h;
}

#define FNV_START 0xcbf29ce484222325ULL

// Byte `off` of a stream in which misplaced or repeated chunks show.
static void gen(uint64_t off, char *buf, size_t n)
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

static void pump(peer_t *e)
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

static void peer_connect(net_stream_t *s, int status, const char *err,
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
static void peer_take(peer_t *e, const char *p, size_t n)
{
  size_t len = strlen(e->got), room = sizeof e->got - 1 - len;
  memcpy(e->got + len, p, n < room ? n : room);
  e->got[len + (n < room ? n : room)] = '\0';
  e->total += n;
  e->hash = fnv(e->hash, p, n);
  e->enough = e->want > 0 && e->total >= e->want;
}

static void peer_read(net_stream_t *s, const char *p, size_t n, void *data)
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

static void peer_drain(net_stream_t *s, void *data)
{
  peer_t *e = data;
  e->drains++;
  if (e->echo && e->ends == 0) {
    net_stream_read_start(s);
  }
  pump(e);
}

static void peer_end(net_stream_t *s, int status, void *data)
{
  peer_t *e = data;
  e->ends++;
  e->end_status = status;
  e->total_at_end = e->total;
  if (e->echo && status == 0) {
    net_stream_shutdown(s);
  }
}

static void peer_close(net_stream_t *s, void *data)
{
  peer_t *e = data;
  e->closes++;
}

static const net_stream_cb_t peer_cb = {peer_connect, peer_read, peer_end,
                                        peer_drain, peer_close};

static void peer_init(peer_t *e)
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

static void server_accept(net_listener_t *l, net_stream_t *s, int status,
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
static int server_open(server_t *srv, const char *text, char *err,
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

static void server_close(server_t *srv)
{
  net_listener_close(srv->l);
  for (int i = 0; i < srv->n; i++) {
    net_stream_close(srv->conns[i].s);
  }
}

// The address to reach srv at: `host` (a TCP host) and its port, or its
// unix path.
static net_addr_t server_target(const server_t *srv, const char *host)
{
  net_addr_t a = srv->addr;
  if (a.kind == NET_ADDR_TCP) {
    snprintf(a.host, sizeof a.host, "%s", host);
  }
  return a;
}

static int nodelay(net_stream_t *s)
{
  int fd, on = 0;
  socklen_t len = sizeof on;
  if (net_stream_fileno(s, &fd) != 0 ||
      getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) != 0) {
    return -1;
  }
  return on;
}

/* ---- Tests ------------------------------------------------------------- */

// A client writes and shuts down before it is even connected; the echo
// server reads to EOF, echoes and shuts down; the client reads the echo
// and EOF. Returns 0, or -1 when `listen_at` cannot be listened on.
static int echo_over(const char *listen_at, const char *host)
{
  static const char msg[] = "hello, echo";
  server_t srv;
  peer_t c;
  char err[NET_ERR_MAX];
  loop_open();
  if (server_open(&srv, listen_at, err, sizeof err) != 0) {
    loop_finish();
    return -1;
  }
  peer_init(&c);
  net_addr_t to = server_target(&srv, host);
  CHECK(net_connect(&loop, &to, &peer_cb, &c, &c.s, err, sizeof err) == 0);
  CHECK(net_stream_write(c.s, msg, strlen(msg)) == 0);
  CHECK(net_stream_write_queued(c.s) == strlen(msg));
  CHECK(net_stream_shutdown(c.s) == 0);
  CHECK(net_stream_write(c.s, "x", 1) == UV_EPIPE);
  CHECK(net_stream_read_start(c.s) == 0);
  CHECK(run_until(&c.ends));
  CHECK(c.connects == 1 && c.status == 0 && c.err[0] == '\0');
  CHECK(strcmp(c.got, msg) == 0 && c.end_status == 0);
  CHECK(srv.n == 1 && srv.conns[0].ends == 1 &&
        srv.conns[0].end_status == 0 &&
        srv.conns[0].total_at_end == strlen(msg));
  if (to.kind == NET_ADDR_TCP) {
    CHECK(nodelay(c.s) == 1 && nodelay(srv.conns[0].s) == 1);
  }
  net_stream_close(c.s);
  CHECK(net_stream_write(c.s, "x", 1) == UV_EBADF);
  server_close(&srv);
  loop_finish();
  CHECK(c.closes == 1 && srv.conns[0].closes == 1);
  return 0;
}

static void test_tcp_ipv4(void)
{
  CHECK(echo_over("127.0.0.1:1", "127.0.0.1") == 0);
  CHECK(echo_over("localhost:1", "localhost") == 0);
}

static void test_tcp_ipv6(void)
{
  if (echo_over("[::1]:1", "::1") != 0) {
    printf("note: no IPv6 loopback here; skipping the ::1 tests\n");
    return;
  }
  // Every interface, dual stack: IPv4 reaches it too.
  CHECK(echo_over(":1", "::1") == 0);
}

static void test_tcp_every_interface(void)
{
  server_t srv;
  char err[NET_ERR_MAX];
  loop_open();
  CHECK(server_open(&srv, ":1", err, sizeof err) == 0);
  CHECK(strcmp(srv.addr.host, "::") == 0 ||
        strcmp(srv.addr.host, "0.0.0.0") == 0);
  CHECK(srv.addr.port > 0);
  server_close(&srv);
  loop_finish();
  CHECK(echo_over(":1", "127.0.0.1") == 0);
}

static void test_unix(void)
{
  char path[128], text[160];
  struct stat st;
  server_t srv;
  char err[NET_ERR_MAX];
  snprintf(path, sizeof path, "%s/echo.sock", tmpdir);
  snprintf(text, sizeof text, "unix://%s", path);
  CHECK(echo_over(text, NULL) == 0);
  CHECK(lstat(path, &st) != 0 && errno == ENOENT);

  // The file is private whatever the umask.
  mode_t old = umask(0);
  loop_open();
  CHECK(server_open(&srv, text, err, sizeof err) == 0);
  umask(old);
  CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
        (st.st_mode & 0777) == 0600);
  CHECK(srv.addr.kind == NET_ADDR_UNIX && strcmp(srv.addr.path, path) == 0);
  server_close(&srv);
  CHECK(lstat(path, &st) != 0 && errno == ENOENT);
  loop_finish();
}

static void test_unix_listen_errors(void)
{
  char path[96], text[160], want[400];
  server_t srv, other;
  struct stat st;
  char err[NET_ERR_MAX];
  snprintf(path, sizeof path, "%s/busy.sock", tmpdir);
  snprintf(text, sizeof text, "unix://%s", path);

  // A socket file whose listener is gone is replaced.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  close(fd);
  CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
  loop_open();
  CHECK(server_open(&srv, text, err, sizeof err) == 0);

  // One that answers is not.
  snprintf(want, sizeof want,
           "cannot listen on %s: another process is listening there", text);
  CHECK(server_open(&other, text, err, sizeof err) == UV_EADDRINUSE);
  CHECK(strcmp(err, want) == 0 && other.l == NULL);
  CHECK(lstat(path, &st) == 0);
  server_close(&srv);

  // Nor is a file that is not a socket.
  fd = open(path, O_CREAT | O_WRONLY, 0644);
  close(fd);
  snprintf(want, sizeof want,
           "cannot listen on %s: the path exists and is not a socket", text);
  CHECK(server_open(&other, text, err, sizeof err) == UV_EEXIST);
  CHECK(strcmp(err, want) == 0);
  CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
  unlink(path);
  loop_finish();
}

static void test_tcp_listen_errors(void)
{
  server_t srv, other;
  char err[NET_ERR_MAX], want[200], text[64];
  memset(&other, 0, sizeof other);
  loop_open();
  CHECK(server_open(&srv, "127.0.0.1:1", err, sizeof err) == 0);
  snprintf(text, sizeof text, "127.0.0.1:%d", srv.addr.port);
  net_addr_t a;
  net_addr_parse(&a, text, NULL, 0);
  CHECK(net_listen(&loop, &a, server_accept, &other, &other.l, err,
                   sizeof err) == UV_EADDRINUSE);
  snprintf(want, sizeof want,
           "cannot listen on tcp://%s: address already in use", text);
  CHECK(strcmp(err, want) == 0 && other.l == NULL);
  net_addr_parse(&a, "stdio", NULL, 0);
  CHECK(net_listen(&loop, &a, server_accept, &other, &other.l, err,
                   sizeof err) == UV_EINVAL);
  CHECK(strcmp(err, "cannot listen on stdio: only tcp and unix addresses "
                    "listen") == 0);
  server_close(&srv);
  loop_finish();
}

static void test_connect_refused(void)
{
  server_t srv;
  peer_t c;
  char err[NET_ERR_MAX], want[200];
  // A port that was free a moment ago: nobody listens on it now.
  loop_open();
  CHECK(server_open(&srv, "127.0.0.1:1", err, sizeof err) == 0);
  server_close(&srv);
  loop_finish();

  loop_open();
  peer_init(&c);
  net_addr_t to = server_target(&srv, "127.0.0.1");
  CHECK(net_connect(&loop, &to, &peer_cb, &c, &c.s, err, sizeof err) == 0);
  CHECK(net_stream_read_start(c.s) == 0);
  CHECK(run_until(&c.connects));
  snprintf(want, sizeof want,
           "cannot connect to tcp://127.0.0.1:%d: connection refused",
           to.port);
  CHECK(c.status == UV_ECONNREFUSED && strcmp(c.err, want) == 0);
  CHECK(net_stream_write(c.s, "x", 1) == UV_ECONNREFUSED);

  // A name says which addresses it stood for.
  peer_t d;
  peer_init(&d);
  to = server_target(&srv, "localhost");
  CHECK(net_connect(&loop, &to, &peer_cb, &d, &d.s, err, sizeof err) == 0);
  CHECK(run_until(&d.connects));
  snprintf(want, sizeof want,
           "cannot connect to tcp://localhost:%d: connection refused "
           "(tried ",
           to.port);
  CHECK(d.status == UV_ECONNREFUSED &&
        strncmp(d.err, want, strlen(want)) == 0);
  CHECK(strstr(d.err, "127.0.0.1") != NULL);
  net_stream_close(c.s);
  net_stream_close(d.s);
  loop_finish();
  CHECK(c.closes == 1 && c.ends == 0 && d.closes == 1);
}

static void test_connect_errors(void)
{
  peer_t c;
  net_addr_t to;
  net_stream_t *s = (net_stream_t *)&c; // not NULL, to see it cleared
  char err[NET_ERR_MAX], want[300];
  loop_open();
  peer_init(&c);
  snprintf(want, sizeof want, "%s/nobody.sock", tmpdir);
  net_addr_parse(&to, want, NULL, 0);
  CHECK(net_connect(&loop, &to, &peer_cb, &c, &c.s, err, sizeof err) == 0);
  CHECK(run_until(&c.connects));
  snprintf(want, sizeof want,
           "cannot connect to unix://%s/nobody.sock: no such file or "
           "directory",
           tmpdir);
  CHECK(c.status == UV_ENOENT && strcmp(c.err, want) == 0);
  net_stream_close(c.s);

  net_addr_parse(&to, ":7420", NULL, 0);
  CHECK(net_connect(&loop, &to, &peer_cb, &c, &s, err, sizeof err) ==
        UV_EINVAL);
  CHECK(s == NULL && strcmp(err, "cannot connect to tcp://:7420: no host "
                                 "(':port' is for listening)") == 0);
  net_addr_parse(&to, "stdio", NULL, 0);
  CHECK(net_connect(&loop, &to, &peer_cb, &c, &s, err, sizeof err) ==
        UV_EINVAL);
  CHECK(strcmp(err, "cannot connect to stdio: only tcp and unix addresses "
                    "connect") == 0);
  loop_finish();
  CHECK(c.closes == 1 && c.connects == 1);
}

// Closing while the name resolves, or while connecting: no on_connect,
// one on_close, nothing left open.
static void test_close_while_connecting(void)
{
  server_t srv;
  peer_t c, d;
  char err[NET_ERR_MAX];
  loop_open();
  CHECK(server_open(&srv, "127.0.0.1:1", err, sizeof err) == 0);
  peer_init(&c);
  peer_init(&d);
  net_addr_t to = server_target(&srv, "localhost");
  CHECK(net_connect(&loop, &to, &peer_cb, &c, &c.s, err, sizeof err) == 0);
  CHECK(net_stream_write(c.s, "queued", 6) == 0);
  net_stream_close(c.s);
  net_stream_close(c.s);
  to = server_target(&srv, "127.0.0.1");
  CHECK(net_connect(&loop, &to, &peer_cb, &d, &d.s, err, sizeof err) == 0);
  uv_run(&loop, UV_RUN_NOWAIT);
  net_stream_close(d.s);
  server_close(&srv);
  loop_finish();
  CHECK(c.connects == 0 && c.closes == 1);
  CHECK(d.connects == 0 && d.closes == 1);
}

// 10 MB each way through the echo server, paced on both sides.
static void test_ten_megabytes(void)
{
  static char buf[CHUNK];
  server_t srv;
  peer_t c;
  char err[NET_ERR_MAX];
  uint64_t want = FNV_START;
  for (size_t off = 0; off < BIG; off += CHUNK) {
    gen(off, buf, CHUNK);
    want = fnv(want, buf, CHUNK);
  }
  loop_open();
  CHECK(server_open(&srv, "127.0.0.1:1", err, sizeof err) == 0);
  peer_init(&c);
  c.to_send = BIG;
  net_addr_t to = server_target(&srv, "127.0.0.1");
  CHECK(net_connect(&loop, &to, &peer_cb, &c, &c.s, err, sizeof err) == 0);
  net_stream_read_start(c.s);
  CHECK(run_until(&c.ends));
  CHECK(c.sent == BIG && c.write_errors == 0);
  CHECK(c.end_status == 0 && c.total == BIG && c.hash == want);
  CHECK(srv.conns[0].total == BIG && srv.conns[0].hash == want);
  CHECK(srv.conns[0].write_errors == 0);
  // Backpressure held the echo's queue near the high-water mark.
  CHECK(srv.conns[0].max_queued <= HIGH_WATER + NET_STREAM_READ_SIZE);
  CHECK(net_stream_write_queued(c.s) == 0);
  net_stream_close(c.s);
  server_close(&srv);
  loop_finish();
  CHECK(c.closes == 1);
}

// A writer that watches the queue stops at the high-water mark while its
// peer does not read, and goes on from on_drain once it does.
static void test_pair_backpressure(void)
{
  peer_t a, b;
  uint64_t want = FNV_START;
  static char buf[CHUNK];
  for (size_t off = 0; off < 4 * HIGH_WATER; off += CHUNK) {
    gen(off, buf, CHUNK);
    want = fnv(want, buf, CHUNK);
  }
  loop_open();
  peer_init(&a);
  peer_init(&b);
  a.to_send = 4 * HIGH_WATER;
  CHECK(net_stream_pair(&loop, &peer_cb, &a, &peer_cb, &b, &a.s, &b.s) == 0);
  pump(&a);
  for (int i = 0; i < 5; i++) {
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  CHECK(a.sent < a.to_send && a.drains == 0);
  CHECK(net_stream_write_queued(a.s) >= HIGH_WATER &&
        net_stream_write_queued(a.s) < HIGH_WATER + CHUNK);
  net_stream_read_start(b.s);
  CHECK(run_until(&b.ends));
  CHECK(a.sent == a.to_send && a.drains > 0 && a.write_errors == 0);
  CHECK(b.total == a.to_send && b.hash == want && b.end_status == 0);
  net_stream_close(a.s);
  net_stream_close(b.s);
  loop_finish();
}

// Half-close on a pair: a says "ping" and shuts down; b reads it and EOF,
// then answers after the EOF; a still reads the answer.
static void test_pair_half_close(void)
{
  peer_t a, b;
  loop_open();
  peer_init(&a);
  peer_init(&b);
  CHECK(net_stream_pair(&loop, &peer_cb, &a, &peer_cb, &b, &a.s, &b.s) == 0);
  net_stream_read_start(a.s);
  net_stream_read_start(b.s);
  CHECK(net_stream_write(a.s, "ping", 4) == 0);
  CHECK(net_stream_shutdown(a.s) == 0);
  CHECK(net_stream_shutdown(a.s) == 0);
  CHECK(run_until(&b.ends));
  CHECK(strcmp(b.got, "ping") == 0 && b.end_status == 0);
  CHECK(a.ends == 0);
  CHECK(net_stream_write(b.s, "pong", 4) == 0);
  CHECK(net_stream_shutdown(b.s) == 0);
  CHECK(run_until(&a.ends));
  CHECK(strcmp(a.got, "pong") == 0 && a.end_status == 0);
  net_stream_close(a.s);
  net_stream_close(b.s);
  loop_finish();
  CHECK(a.closes == 1 && b.closes == 1);
}

// Reading stops and starts on request, and a closed peer is an EOF.
static void test_pair_read_stop(void)
{
  peer_t a, b;
  loop_open();
  peer_init(&a);
  peer_init(&b);
  CHECK(net_stream_pair(&loop, &peer_cb, &a, &peer_cb, &b, &a.s, &b.s) == 0);
  CHECK(net_stream_write(a.s, "one", 3) == 0);
  for (int i = 0; i < 5; i++) {
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  CHECK(b.total == 0);
  net_stream_read_start(b.s);
  net_stream_close(a.s);
  CHECK(run_until(&b.ends));
  CHECK(strcmp(b.got, "one") == 0 && b.end_status == 0);
  net_stream_close(b.s);
  loop_finish();
}

// Closing with megabytes queued drops them and frees everything (the
// ASan build checks the "frees").
static void test_close_with_queued_writes(void)
{
  peer_t a, b;
  char *big = malloc(4 * 1024 * 1024);
  loop_open();
  peer_init(&a);
  peer_init(&b);
  CHECK(net_stream_pair(&loop, &peer_cb, &a, &peer_cb, &b, &a.s, &b.s) == 0);
  memset(big, 'q', 4 * 1024 * 1024);
  CHECK(net_stream_write(a.s, big, 4 * 1024 * 1024) == 0);
  CHECK(net_stream_write(a.s, big, 1024) == 0);
  CHECK(net_stream_write_queued(a.s) > 1024 * 1024);
  uv_run(&loop, UV_RUN_NOWAIT);
  net_stream_close(a.s);
  net_stream_close(b.s);
  loop_finish();
  CHECK(a.closes == 1 && b.closes == 1 && a.ends == 0 && b.ends == 0);
  free(big);
}

typedef struct {
  int saved0, saved1;
} stdio_saved_t;

static stdio_saved_t stdio_replace(int in, int out)
{
  stdio_saved_t saved = {dup(0), dup(1)};
  fflush(stdout);
  dup2(in, 0);
  dup2(out, 1);
  return saved;
}

static void stdio_restore(stdio_saved_t saved)
{
  dup2(saved.saved0, 0);
  dup2(saved.saved1, 1);
  close(saved.saved0);
  close(saved.saved1);
}

static int same_file(int a, int b)
{
  struct stat sa, sb;
  return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void reader_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  static char space[4096];
  *buf = uv_buf_init(space, sizeof space);
}

static void reader_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf)
{
  peer_t *e = h->data;
  if (n > 0) {
    peer_take(e, buf->base, (size_t)n);
  } else if (n < 0) {
    e->ends++;
    e->end_status = n == UV_EOF ? 0 : (int)n;
    uv_read_stop(h);
  }
}

// The parent's view: it writes our stdin, reads our stdout.
static void test_stdio_pipes(void)
{
  int to_child[2], from_child[2];
  peer_t c, parent;
  uv_pipe_t reader;
  char err[NET_ERR_MAX];
  CHECK(pipe2(to_child, O_CLOEXEC) == 0 && pipe2(from_child, O_CLOEXEC) == 0);
  stdio_saved_t saved = stdio_replace(to_child[0], from_child[1]);
  close(to_child[0]);
  close(from_child[1]);
  loop_open();
  peer_init(&c);
  c.echo = 1;
  CHECK(net_stream_stdio(&loop, &peer_cb, &c, &c.s, err, sizeof err) == 0);
  // Stray prints now go to stderr, and stdin reads nothing.
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK(same_file(1, 2) && same_file(0, null));
  close(null);
  net_stream_read_start(c.s);
  CHECK(write(to_child[1], "over stdio", 10) == 10);
  close(to_child[1]);

  // EOF on our stdin makes the echo shut down: the parent sees EOF while
  // the stream is still open.
  peer_init(&parent);
  uv_pipe_init(&loop, &reader, 0);
  uv_pipe_open(&reader, from_child[0]);
  reader.data = &parent;
  uv_read_start((uv_stream_t *)&reader, reader_alloc, reader_read);
  CHECK(run_until(&parent.ends));
  CHECK(strcmp(parent.got, "over stdio") == 0 && parent.end_status == 0);
  CHECK(c.ends == 1 && c.end_status == 0);
  CHECK(net_stream_write(c.s, "late", 4) == UV_EPIPE);
  net_stream_close(c.s);
  uv_close((uv_handle_t *)&reader, NULL);
  loop_finish();
  CHECK(c.closes == 1);
  stdio_restore(saved);
}

static void test_stdio_tty(void)
{
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
    printf("note: no pseudo-terminals here; skipping the tty test\n");
    return;
  }
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  struct termios t;
  tcgetattr(slave, &t);
  cfmakeraw(&t);
  tcsetattr(slave, TCSANOW, &t);
  stdio_saved_t saved = stdio_replace(slave, slave);
  close(slave);
  peer_t c;
  char err[NET_ERR_MAX], got[16] = {0};
  loop_open();
  peer_init(&c);
  CHECK(net_stream_stdio(&loop, &peer_cb, &c, &c.s, err, sizeof err) == 0);
  net_stream_read_start(c.s);
  CHECK(net_stream_write(c.s, "to tty", 6) == 0);
  CHECK(write(master, "from tty", 8) == 8);
  c.want = 8;
  CHECK(run_until(&c.enough));
  CHECK(strcmp(c.got, "from tty") == 0);
  fcntl(master, F_SETFL, O_NONBLOCK);
  CHECK(read(master, got, sizeof got - 1) == 6 && strcmp(got, "to tty") == 0);
  net_stream_close(c.s);
  loop_finish();
  stdio_restore(saved);
  close(master);
}

// A regular file cannot be watched for reading: a clear error, and fds 0
// and 1 as they were.
static void test_stdio_file(void)
{
  char path[128], err[NET_ERR_MAX];
  net_stream_t *s = NULL;
  snprintf(path, sizeof path, "%s/stdin.txt", tmpdir);
  int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  stdio_saved_t saved = stdio_replace(fd, 1);
  loop_open();
  CHECK(net_stream_stdio(&loop, &peer_cb, NULL, &s, err, sizeof err) ==
        UV_EINVAL);
  CHECK(s == NULL && strcmp(err, "cannot use stdio: stdin is a file or "
                                 "device, not a pipe, socket or terminal") ==
                         0);
  CHECK(same_file(0, fd) && same_file(1, saved.saved1));
  loop_finish();
  stdio_restore(saved);
  close(fd);
  unlink(path);
}

int main(void)
{
  // The stdio tests swap fds 0 and 1; were one closed, the loop's own
  // descriptors could take its number.
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) < 0) {
      open("/dev/null", O_RDWR);
    }
  }
  signal(SIGPIPE, SIG_IGN);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hilt-net-XXXXXX");
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  test_tcp_ipv4();
  test_tcp_ipv6();
  test_tcp_every_interface();
  test_unix();
  test_unix_listen_errors();
  test_tcp_listen_errors();
  test_connect_refused();
  test_connect_errors();
  test_close_while_connecting();
  test_ten_megabytes();
  test_pair_backpressure();
  test_pair_half_close();
  test_pair_read_stop();
  test_close_with_queued_writes();
  test_stdio_pipes();
  test_stdio_tty();
  test_stdio_file();
  rmdir(tmpdir);
  return check_summary();
}
