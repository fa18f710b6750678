// Unit tests of runtime/net_stream.c, net_connect.c and net_listen.c on a
// real loop: echo over TCP (IPv4, IPv6, every interface) and unix sockets,
// the errors a user sees when listening or connecting fails, and closing
// while connecting. Every wait has a deadline, and every test ends with
// uv_loop_close succeeding, so a handle left open fails the test.
#include "net_harness.h"

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

int main(void)
{
  if (harness_start() != 0) {
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
  return harness_end();
}
