// The mosquitto side of bench/bus's memory measurement, as hilt_load.lua:
// CONNS libmosquitto clients, each publishing STATES retained messages
// (load/cC/sI, the payload "I") at QoS 1, so the broker holds CONNS *
// STATES retained topics.
//
//   mqtt_load PORT CONNS STATES
//
// Prints "loaded" and "load_seconds S" once every PUBACK is in, then
// holds the connections until killed.
#include <string.h>

#include "mqtt_common.h"

static long acked;

static void on_publish(struct mosquitto *m, void *data, int mid)
{
  (void)m, (void)data, (void)mid;
  acked++;
}

int main(int argc, char **argv)
{
  if (argc < 4) {
    fprintf(stderr, "usage: mqtt_load PORT CONNS STATES\n");
    return 2;
  }
  int port = atoi(argv[1]), conns = atoi(argv[2]), states = atoi(argv[3]);
  mosquitto_lib_init();
  struct mosquitto **ms = calloc((size_t)conns, sizeof *ms);
  struct pollfd *fds = calloc((size_t)conns, sizeof *fds);
  char id[64], topic[64], payload[16];
  double start = now_s();
  for (int c = 0; c < conns; c++) {
    snprintf(id, sizeof id, "load-%d", c);
    ms[c] = open_client(id, port, NULL);
    mosquitto_publish_callback_set(ms[c], on_publish);
    mosquitto_max_inflight_messages_set(ms[c], 0);
    for (int i = 1; i <= states; i++) {
      snprintf(topic, sizeof topic, "load/c%d/s%d", c + 1, i);
      int n = snprintf(payload, sizeof payload, "%d", i);
      int rc = mosquitto_publish(ms[c], NULL, topic, n, payload, 1, true);
      if (rc != MOSQ_ERR_SUCCESS) {
        die("publish", rc);
      }
    }
  }
  while (acked < (long)conns * states) {
    poll_clients(ms, fds, conns, 100);
  }
  printf("loaded\nload_seconds %.3f\n", now_s() - start);
  fflush(stdout);
  for (;;) {
    poll_clients(ms, fds, conns, 1000);
    misc_clients(ms, conns);
  }
}
