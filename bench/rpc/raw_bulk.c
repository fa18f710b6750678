// Raw libuv bulk transfer: the ceiling for a byte stream between two
// processes on this machine, as it moves the bytes with no framing, copying
// or flow control beyond the socket's own.
//   raw_bulk server ADDR
//   raw_bulk client ADDR SECONDS     prints "bytes_per_sec N"
// ADDR is tcp:PORT (on 127.0.0.1) or unix:PATH.
//
// The client asks for CALL_MIB MiB with an 8-byte request; the server writes
// that many 1 MiB buffers, two in flight, and the client reads them into a
// 64 KiB buffer (the size hilt reads into), then asks again until SECONDS
// have passed. The requests mirror hilt_stream.lua's calls of the same size.
#define RAW_NAME "raw_bulk"
#include "raw_net.h"

#define CHUNK (1u << 20)
#define CALL_MIB 64
#define IN_FLIGHT 2

typedef struct {
  uint64_t want;     // the request being read, byte by byte
  size_t want_len;   // bytes of it read so far
  uint64_t to_write; // chunks of the current request not yet queued
} conn_t;

static char chunk[CHUNK];

static uint64_t received, total;

static void on_chunk_written(uv_write_t *req, int status);

// Queues the next chunk of the current request, if any is left. Every
// chunk is the same static buffer, which no one writes to.
static void write_chunk(uv_stream_t *stream)
{
  conn_t *c = stream->data;
  if (c->to_write == 0) {
    return;
  }
  c->to_write--;
  uv_write_t *req = malloc(sizeof *req);
  uv_buf_t buf = uv_buf_init(chunk, CHUNK);
  int err = uv_write(req, stream, &buf, 1, on_chunk_written);
  if (err < 0) {
    die("write", err);
  }
}

static void on_chunk_written(uv_write_t *req, int status)
{
  uv_stream_t *stream = req->handle;
  free(req);
  if (status == UV_ECANCELED) {
    return;
  }
  if (status < 0) {
    die("write", status);
  }
  write_chunk(stream);
}

static void on_server_read(uv_stream_t *stream, ssize_t nread,
                           const uv_buf_t *buf)
{
  conn_t *c = stream->data;
  if (nread < 0) {
    uv_close((uv_handle_t *)stream, free_handle);
    return;
  }
  for (ssize_t i = 0; i < nread; i++) {
    c->want |= (uint64_t)(unsigned char)buf->base[i] << (8 * c->want_len);
    if (++c->want_len < 8) {
      continue;
    }
    c->to_write += c->want;
    c->want = 0;
    c->want_len = 0;
    for (int k = 0; k < IN_FLIGHT; k++) {
      write_chunk(stream);
    }
  }
}

static void on_connection(uv_stream_t *server, int status)
{
  uv_stream_t *client = raw_accept(server, status, sizeof(conn_t));
  if (client == NULL) {
    return;
  }
  uv_read_start(client, on_alloc, on_server_read);
}

static void on_request_written(uv_write_t *req, int status)
{
  if (status < 0 && status != UV_ECANCELED) {
    die("write", status);
  }
  free(req);
}

// Asks for CALL_MIB MiB, little-endian as the server reads it.
static void request(uv_stream_t *stream)
{
  static char msg[8];
  uint64_t n = CALL_MIB;
  for (int i = 0; i < 8; i++) {
    msg[i] = (char)(n >> (8 * i));
  }
  uv_write_t *req = malloc(sizeof *req);
  uv_buf_t buf = uv_buf_init(msg, sizeof msg);
  int err = uv_write(req, stream, &buf, 1, on_request_written);
  if (err < 0) {
    die("write", err);
  }
}

static void on_client_read(uv_stream_t *stream, ssize_t nread,
                           const uv_buf_t *buf)
{
  (void)buf;
  if (nread < 0) {
    die("read", (int)nread);
  }
  received += (uint64_t)nread;
  total += (uint64_t)nread;
  if (received < (uint64_t)CALL_MIB * CHUNK) {
    return;
  }
  received = 0;
  uint64_t now = uv_hrtime();
  if (now >= deadline_ns) {
    printf("bytes_per_sec %.0f\n", total / ((now - start_ns) / 1e9));
    uv_close((uv_handle_t *)stream, free_handle);
    return;
  }
  request(stream);
}

static void on_connect(uv_connect_t *req, int status)
{
  if (status < 0) {
    die("connect", status);
  }
  uv_stream_t *stream = req->handle;
  uv_read_start(stream, on_alloc, on_client_read);
  start_clock();
  request(stream);
}

int main(int argc, char **argv)
{
  return raw_main(argc, argv, on_connection, on_connect, NULL);
}
