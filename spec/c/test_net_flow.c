// Unit tests of runtime/net_stream.c and net_stdio.c on a real loop: 10 MB
// with a checksum and backpressure, half-close, read_stop, closing with
// writes queued, and stdio over pipes, a terminal and a file. Every wait
// has a deadline, and every test ends with uv_loop_close succeeding.
#include "net_harness.h"

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
  if (harness_start() != 0) {
    return 1;
  }
  test_ten_megabytes();
  test_pair_backpressure();
  test_pair_half_close();
  test_pair_read_stop();
  test_close_with_queued_writes();
  test_stdio_pipes();
  test_stdio_tty();
  test_stdio_file();
  return harness_end();
}
