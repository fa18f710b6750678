// The subscribers of bench/bus's mosquitto baseline, the counterpart of
// `hilt_bus.lua observers`: CONNS libmosquitto clients in one process and
// one thread (a poll loop), each subscribed at QoS 0 to every topic
// bench/TAG/s1 .. sTOPICS.
//
//   mqtt_sub PORT TAG TOPICS CONNS TIMEOUT STRIDE
//
// Prints "ready" once every subscription is acknowledged. Each message is
// one delivery; its payload is the publisher's CLOCK_MONOTONIC time in
// seconds, so each delivery has a latency and each topic's values rise
// on each connection; "-1" ends a topic. Every 2 ms the least number of
// messages any connection has taken goes to bench/TAG/ack (the credit
// that paces the publisher, mqtt_pub.c). Every STRIDE-th delivery's
// latency is kept. Once every connection has seen every topic end, or
// after TIMEOUT seconds, prints the same keys as hilt_bus.lua.
#include <string.h>

#include "mqtt_common.h"

typedef struct {
  struct mosquitto *m;
  long taken;        // messages, end markers aside
  int subscribed;
  double *prev;      // per topic, the last value
} sub_t;

static int topics, ended, subscribed, stride;
static long deliveries, disorder;
static double first, last;
static double *lat;
static size_t nlat, caplat;

static void on_subscribe(struct mosquitto *m, void *data, int mid, int n,
                         const int *granted)
{
  (void)m, (void)mid, (void)n, (void)granted;
  sub_t *s = data;
  s->subscribed++;
  if (s->subscribed == topics) {
    subscribed++;
  }
}

static void add_latency(double v)
{
  if (nlat == caplat) {
    caplat = caplat ? caplat * 2 : 1 << 16;
    lat = realloc(lat, caplat * sizeof *lat);
    if (lat == NULL) {
      fprintf(stderr, "out of memory\n");
      exit(1);
    }
  }
  lat[nlat++] = v;
}

static void on_message(struct mosquitto *m, void *data,
                       const struct mosquitto_message *msg)
{
  (void)m;
  double t = now_s();
  sub_t *s = data;
  const char *idx = strrchr(msg->topic, 's');
  int k = idx != NULL ? atoi(idx + 1) - 1 : -1;
  char buf[64];
  size_t n = (size_t)msg->payloadlen < sizeof buf - 1 ? (size_t)msg->payloadlen
                                                      : sizeof buf - 1;
  memcpy(buf, msg->payload, n);
  buf[n] = '\0';
  double v = strtod(buf, NULL);
  if (k < 0 || k >= topics) {
    return;
  }
  if (v < 0) {
    ended++;
    return;
  }
  s->taken++;
  deliveries++;
  if (first == 0) {
    first = t;
  }
  last = t;
  if (deliveries % stride == 0) {
    add_latency(t - v);
  }
  if (v <= s->prev[k]) {
    disorder++;
  }
  s->prev[k] = v;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double percentile(double p)
{
  if (nlat == 0) {
    return 0;
  }
  size_t i = (size_t)((double)nlat * p + 0.999999);
  return lat[(i < 1 ? 1 : i) - 1];
}

int main(int argc, char **argv)
{
  if (argc < 7) {
    fprintf(stderr, "usage: mqtt_sub PORT TAG TOPICS CONNS TIMEOUT STRIDE\n");
    return 2;
  }
  int port = atoi(argv[1]);
  const char *tag = argv[2];
  topics = atoi(argv[3]);
  int conns = atoi(argv[4]);
  double timeout = atof(argv[5]);
  stride = atoi(argv[6]) > 0 ? atoi(argv[6]) : 1;
  mosquitto_lib_init();
  sub_t *subs = calloc((size_t)conns, sizeof *subs);
  // The clients, and the connection the credit goes out on, last.
  struct mosquitto **ms = calloc((size_t)conns + 1, sizeof *ms);
  struct pollfd *fds = calloc((size_t)conns + 1, sizeof *fds);
  char id[128], topic[128];
  for (int c = 0; c < conns; c++) {
    subs[c].prev = calloc((size_t)topics, sizeof(double));
    snprintf(id, sizeof id, "sub-%s-%d", tag, c);
    ms[c] = subs[c].m = open_client(id, port, &subs[c]);
    mosquitto_subscribe_callback_set(ms[c], on_subscribe);
    mosquitto_message_callback_set(ms[c], on_message);
    for (int k = 1; k <= topics; k++) {
      snprintf(topic, sizeof topic, "bench/%s/s%d", tag, k);
      int rc = mosquitto_subscribe(ms[c], NULL, topic, 0);
      if (rc != MOSQ_ERR_SUCCESS) {
        die("subscribe", rc);
      }
    }
  }
  snprintf(id, sizeof id, "ack-%s", tag);
  ms[conns] = open_client(id, port, NULL);
  while (subscribed < conns) {
    poll_clients(ms, fds, conns + 1, 100);
  }
  puts("ready");
  fflush(stdout);

  char ack_topic[128], payload[32];
  snprintf(ack_topic, sizeof ack_topic, "bench/%s/ack", tag);
  double deadline = now_s() + timeout, next_ack = 0;
  long acked = -1;
  int want = conns * topics;
  while (ended < want && now_s() < deadline) {
    poll_clients(ms, fds, conns + 1, 2);
    double t = now_s();
    if (t >= next_ack) {
      next_ack = t + 0.002;
      misc_clients(ms, conns + 1);
      long least = subs[0].taken;
      for (int c = 1; c < conns; c++) {
        least = subs[c].taken < least ? subs[c].taken : least;
      }
      if (least != acked) {
        acked = least;
        int n = snprintf(payload, sizeof payload, "%ld", least);
        mosquitto_publish(ms[conns], NULL, ack_topic, n, payload, 0, false);
      }
    }
  }
  qsort(lat, nlat, sizeof *lat, cmp_double);
  printf("deliveries %ld\n", deliveries);
  printf("notifications %ld\n", deliveries);
  if (last > first) {
    printf("deliveries_per_sec %.0f\n", (double)deliveries / (last - first));
  }
  printf("lat_p50_us %.1f\n", percentile(0.50) * 1e6);
  printf("lat_p99_us %.1f\n", percentile(0.99) * 1e6);
  printf("disorder %ld\n", disorder);
  printf("complete %d\n", ended == want);
  printf("cpu_s %.3f\n", (double)clock() / CLOCKS_PER_SEC);
  for (int c = 0; c <= conns; c++) {
    mosquitto_disconnect(ms[c]);
    mosquitto_loop_write(ms[c], 1);
    mosquitto_destroy(ms[c]);
  }
  mosquitto_lib_cleanup();
  return 0;
}
