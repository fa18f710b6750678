// Raw libuv request/response ping-pong: the ceiling any RPC layer built on
// libuv can reach for sequential calls, as it does no encoding, dispatch or
// allocation beyond one write request per message.
//   raw_pingpong server ADDR
//   raw_pingpong client ADDR SECONDS     prints "calls_per_sec N"
// ADDR is tcp:PORT (on 127.0.0.1) or unix:PATH.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MSG_LEN 32

// Messages are fixed-size, so each side only counts bytes: a read may end
// anywhere inside a message, and a message is complete once MSG_LEN bytes
// have arrived since the previous one.
typedef struct {
  size_t pending;
} conn_t;

typedef struct {
  uv_write_t req;
  char data[MSG_LEN];
} write_t;

static uv_loop_t *loop;
static int is_tcp;
static const char *addr_arg; // port or path, without the scheme

static uint64_t calls, start_ns, deadline_ns;
static double run_seconds;

static void die(const char *what, int err)
{
  fprintf(stderr, "raw_pingpong: %s: %s\n", what, uv_strerror(err));
  exit(1);
}

static void parse_addr(const char *addr)
{
  if (strncmp(addr, "tcp:", 4) == 0) {
    is_tcp = 1;
    addr_arg = addr + 4;
  } else if (strncmp(addr, "unix:", 5) == 0) {
    is_tcp = 0;
    addr_arg = addr + 5;
  } else {
    fprintf(stderr, "raw_pingpong: ADDR must be tcp:PORT or unix:PATH\n");
    exit(2);
  }
}

static uv_stream_t *new_stream(void)
{
  if (is_tcp) {
    uv_tcp_t *tcp = malloc(sizeof *tcp);
    uv_tcp_init(loop, tcp);
    return (uv_stream_t *)tcp;
  }
  uv_pipe_t *pipe = malloc(sizeof *pipe);
  uv_pipe_init(loop, pipe, 0);
  return (uv_stream_t *)pipe;
}

static void free_handle(uv_handle_t *handle)
{
  free(handle->data);
  free(handle);
}

static void on_alloc(uv_handle_t *handle, size_t size, uv_buf_t *buf)
{
  // One caller at a time reads, and the bytes are only counted, so a single
  // static buffer serves every connection.
  static char slab[65536];
  (void)handle;
  (void)size;
  *buf = uv_buf_init(slab, sizeof slab);
}

static void on_written(uv_write_t *req, int status)
{
  if (status < 0 && status != UV_ECANCELED) {
    die("write", status);
  }
  free(req);
}

// A fresh request per message keeps this correct even if the peer's reply
// is read before this write's callback has run.
static void send_msg(uv_stream_t *stream)
{
  write_t *w = malloc(sizeof *w);
  memset(w->data, 'x', MSG_LEN);
  uv_buf_t buf = uv_buf_init(w->data, MSG_LEN);
  int err = uv_write(&w->req, stream, &buf, 1, on_written);
  if (err < 0) {
    die("write", err);
  }
}

static void on_server_read(uv_stream_t *stream, ssize_t nread,
                           const uv_buf_t *buf)
{
  conn_t *c = stream->data;
  (void)buf;
  if (nread < 0) {
    uv_close((uv_handle_t *)stream, free_handle);
    return;
  }
  for (c->pending += (size_t)nread; c->pending >= MSG_LEN;
       c->pending -= MSG_LEN) {
    send_msg(stream);
  }
}

static void on_connection(uv_stream_t *server, int status)
{
  if (status < 0) {
    die("accept", status);
  }
  uv_stream_t *client = new_stream();
  client->data = calloc(1, sizeof(conn_t));
  if (uv_accept(server, client) < 0) {
    uv_close((uv_handle_t *)client, free_handle);
    return;
  }
  if (is_tcp) {
    uv_tcp_nodelay((uv_tcp_t *)client, 1);
  }
  uv_read_start(client, on_alloc, on_server_read);
}

static void run_server(void)
{
  uv_stream_t *server = new_stream();
  server->data = NULL;
  int err;
  if (is_tcp) {
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", atoi(addr_arg), &sa);
    err = uv_tcp_bind((uv_tcp_t *)server, (const struct sockaddr *)&sa, 0);
  } else {
    uv_fs_t req;
    uv_fs_unlink(loop, &req, addr_arg, NULL); // a stale socket blocks bind
    uv_fs_req_cleanup(&req);
    err = uv_pipe_bind((uv_pipe_t *)server, addr_arg);
  }
  if (err < 0) {
    die("bind", err);
  }
  if ((err = uv_listen(server, 128, on_connection)) < 0) {
    die("listen", err);
  }
  uv_run(loop, UV_RUN_DEFAULT);
}

static void on_client_read(uv_stream_t *stream, ssize_t nread,
                           const uv_buf_t *buf)
{
  conn_t *c = stream->data;
  (void)buf;
  if (nread < 0) {
    die("read", (int)nread);
  }
  c->pending += (size_t)nread;
  if (c->pending < MSG_LEN) {
    return;
  }
  c->pending -= MSG_LEN;
  calls++;
  uint64_t now = uv_hrtime();
  if (now >= deadline_ns) {
    printf("calls_per_sec %.0f\n", calls / ((now - start_ns) / 1e9));
    uv_close((uv_handle_t *)stream, free_handle);
    return;
  }
  send_msg(stream);
}

static void on_connect(uv_connect_t *req, int status)
{
  if (status < 0) {
    die("connect", status);
  }
  uv_stream_t *stream = req->handle;
  if (is_tcp) {
    uv_tcp_nodelay((uv_tcp_t *)stream, 1);
  }
  uv_read_start(stream, on_alloc, on_client_read);
  // Timed from an established connection, as every client here is, so
  // connection set-up costs are not counted as call time.
  start_ns = uv_hrtime();
  deadline_ns = start_ns + (uint64_t)(run_seconds * 1e9);
  send_msg(stream);
}

static void run_client(double seconds)
{
  static uv_connect_t req;
  uv_stream_t *stream = new_stream();
  stream->data = calloc(1, sizeof(conn_t));
  if (is_tcp) {
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", atoi(addr_arg), &sa);
    int err = uv_tcp_connect(&req, (uv_tcp_t *)stream,
                             (const struct sockaddr *)&sa, on_connect);
    if (err < 0) {
      die("connect", err);
    }
  } else {
    uv_pipe_connect(&req, (uv_pipe_t *)stream, addr_arg, on_connect);
  }
  run_seconds = seconds;
  uv_run(loop, UV_RUN_DEFAULT);
}

int main(int argc, char **argv)
{
  loop = uv_default_loop();
  if (argc == 3 && strcmp(argv[1], "server") == 0) {
    parse_addr(argv[2]);
    run_server();
  } else if (argc == 4 && strcmp(argv[1], "client") == 0) {
    parse_addr(argv[2]);
    run_client(atof(argv[3]));
  } else {
    fprintf(stderr, "usage: raw_pingpong server ADDR\n"
                    "       raw_pingpong client ADDR SECONDS\n"
                    "ADDR: tcp:PORT or unix:PATH\n");
    return 2;
  }
  return 0;
}
