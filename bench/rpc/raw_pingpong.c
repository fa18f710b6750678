// Raw libuv request/response ping-pong: the ceiling any RPC layer built on
// libuv can reach for sequential calls, as it does no encoding, dispatch or
// allocation beyond one write request per message.
//   raw_pingpong server ADDR
//   raw_pingpong client ADDR SECONDS     prints "calls_per_sec N"
// ADDR is tcp:PORT (on 127.0.0.1) or unix:PATH.
#define RAW_NAME "raw_pingpong"
#include "raw_net.h"

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

static uint64_t calls;

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
  uv_stream_t *client = raw_accept(server, status, sizeof(conn_t));
  if (client == NULL) {
    return;
  }
  if (is_tcp) {
    uv_tcp_nodelay((uv_tcp_t *)client, 1);
  }
  uv_read_start(client, on_alloc, on_server_read);
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
  start_clock();
  send_msg(stream);
}

int main(int argc, char **argv)
{
  return raw_main(argc, argv, on_connection, on_connect, calloc(1, sizeof(conn_t)));
}
