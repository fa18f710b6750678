// What the raw libuv baselines (raw_pingpong.c, raw_bulk.c) share: ADDR,
// handles, the read buffer, the listener, the connection, the clock and the
// command line. Each program defines RAW_NAME before including this, and
// its main is `return raw_main(argc, argv, on_connection, on_connect,
// client_data);`.
#ifndef RAW_NET_H
#define RAW_NET_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t *loop;
static int is_tcp;
static const char *addr_arg; // port or path, without the scheme
static uint64_t start_ns, deadline_ns;
static double run_seconds;

static void die(const char *what, int err)
{
  fprintf(stderr, RAW_NAME ": %s: %s\n", what, uv_strerror(err));
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
    fprintf(stderr, RAW_NAME ": ADDR must be tcp:PORT or unix:PATH\n");
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

// Accepts a connection with a zeroed conn_size-byte state in its data;
// NULL when the accept failed (the handle is already on its way out).
static uv_stream_t *raw_accept(uv_stream_t *server, int status,
                               size_t conn_size)
{
  if (status < 0) {
    die("accept", status);
  }
  uv_stream_t *client = new_stream();
  client->data = calloc(1, conn_size);
  if (uv_accept(server, client) < 0) {
    uv_close((uv_handle_t *)client, free_handle);
    return NULL;
  }
  return client;
}

static void on_alloc(uv_handle_t *handle, size_t size, uv_buf_t *buf)
{
  // The bytes are only counted, so one buffer serves every read; 64 KiB,
  // the size hilt reads into.
  static char slab[64 * 1024];
  (void)handle;
  (void)size;
  *buf = uv_buf_init(slab, sizeof slab);
}

// Timed from an established connection, as every client here is, so
// connection set-up is not counted.
static void start_clock(void)
{
  start_ns = uv_hrtime();
  deadline_ns = start_ns + (uint64_t)(run_seconds * 1e9);
}

static void run_server(uv_connection_cb on_connection)
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

static void run_client(uv_connect_cb on_connect, void *data)
{
  static uv_connect_t req;
  uv_stream_t *stream = new_stream();
  stream->data = data;
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
  uv_run(loop, UV_RUN_DEFAULT);
}

static int raw_main(int argc, char **argv, uv_connection_cb on_connection,
                    uv_connect_cb on_connect, void *client_data)
{
  loop = uv_default_loop();
  if (argc == 3 && strcmp(argv[1], "server") == 0) {
    parse_addr(argv[2]);
    run_server(on_connection);
  } else if (argc == 4 && strcmp(argv[1], "client") == 0) {
    parse_addr(argv[2]);
    run_seconds = atof(argv[3]);
    run_client(on_connect, client_data);
  } else {
    fprintf(stderr, "usage: " RAW_NAME " server ADDR\n"
                    "       " RAW_NAME " client ADDR SECONDS\n"
                    "ADDR: tcp:PORT or unix:PATH\n");
    return 2;
  }
  return 0;
}

#endif
