// What bench/bus's two MQTT programs share: the clock (CLOCK_MONOTONIC,
// which is also the clock of hilt.now(), so values from either side
// compare), topic names, and a poll loop over libmosquitto clients that
// have no threads of their own.
#ifndef BENCH_BUS_MQTT_COMMON_H
#define BENCH_BUS_MQTT_COMMON_H

#include <mosquitto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
  fprintf(stderr, "%s: %s\n", what, mosquitto_strerror(rc));
  exit(1);
}

// A client connected to 127.0.0.1:port with a clean session, its
// callbacks getting `data`; with TCP_NODELAY if $BUS_MQTT_NODELAY is 1
// (run.sh sets it with the broker's set_tcp_nodelay).
static struct mosquitto *open_client(const char *id, int port, void *data)
{
  struct mosquitto *m = mosquitto_new(id, true, data);
  if (m == NULL) {
    fprintf(stderr, "mosquitto_new failed\n");
    exit(1);
  }
  const char *nodelay = getenv("BUS_MQTT_NODELAY");
  if (nodelay != NULL && nodelay[0] == '1') {
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
  }
  int rc = mosquitto_connect(m, "127.0.0.1", port, 60);
  if (rc != MOSQ_ERR_SUCCESS) {
    die("connect", rc);
  }
  return m;
}

// Waits up to timeout_ms for any of the n clients' sockets, then reads and
// writes what each can. A client that fails ends the program: a broker
// that drops a client mid-run is a failed measurement.
static void poll_clients(struct mosquitto **ms, struct pollfd *fds, int n,
                         int timeout_ms)
{
  for (int i = 0; i < n; i++) {
    fds[i].fd = mosquitto_socket(ms[i]);
    fds[i].events = POLLIN | (mosquitto_want_write(ms[i]) ? POLLOUT : 0);
    fds[i].revents = 0;
  }
  if (poll(fds, (nfds_t)n, timeout_ms) < 0) {
    perror("poll");
    exit(1);
  }
  for (int i = 0; i < n; i++) {
    int rc = MOSQ_ERR_SUCCESS;
    if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
      rc = mosquitto_loop_read(ms[i], 1);
    }
    if (rc == MOSQ_ERR_SUCCESS && (fds[i].revents & POLLOUT)) {
      rc = mosquitto_loop_write(ms[i], 1);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
      die("client", rc);
    }
  }
}

static void misc_clients(struct mosquitto **ms, int n)
{
  for (int i = 0; i < n; i++) {
    mosquitto_loop_misc(ms[i]);
  }
}

#endif
