// The publisher of bench/bus's mosquitto baseline, the counterpart of
// `hilt_bus.lua owner`: retained messages to bench/TAG/s1 .. sTOPICS in
// turn, each payload its CLOCK_MONOTONIC time in seconds ("%.9f").
//
//   mqtt_pub PORT TAG TOPICS QOS WINDOW SECONDS RATE LAG
//
// At most WINDOW messages are outstanding: for QoS 0 until libmosquitto
// has written them, for QoS 1 until the broker's PUBACK (as hilt's owner
// waits for the hub's answer). With LAG > 0 it also stays at most LAG
// messages ahead of the credit the subscribers publish on bench/TAG/ack
// (mqtt_sub.c). With RATE > 0 message k is due at start + k / RATE, as
// the hilt owner's schedule. After SECONDS, "-1" (retained, QoS 1) ends
// every topic. Prints "changes N", "owner_seconds S" and "cpu_s S".
#include <string.h>

#include "mqtt_common.h"

static long outstanding, acked;
static int acks_subscribed;

static void on_publish(struct mosquitto *m, void *data, int mid)
{
  (void)m, (void)data, (void)mid;
  outstanding--;
}

static void on_subscribe(struct mosquitto *m, void *data, int mid, int n,
                         const int *granted)
{
  (void)m, (void)data, (void)mid, (void)n, (void)granted;
  acks_subscribed = 1;
}

static void on_message(struct mosquitto *m, void *data,
                       const struct mosquitto_message *msg)
{
  (void)m, (void)data;
  char buf[32];
  size_t n = (size_t)msg->payloadlen < sizeof buf - 1 ? (size_t)msg->payloadlen
                                                      : sizeof buf - 1;
  memcpy(buf, msg->payload, n);
  buf[n] = '\0';
  acked = atol(buf);
}

static void publish(struct mosquitto *m, const char *topic, double v, int qos)
{
  char payload[32];
  int n = snprintf(payload, sizeof payload, "%.9f", v);
  int rc = mosquitto_publish(m, NULL, topic, n, payload, qos, true);
  if (rc != MOSQ_ERR_SUCCESS) {
    die("publish", rc);
  }
  outstanding++;
}

// What the owner does: its settings from the command line.
typedef struct {
  int port, topics, qos;
  const char *tag;
  long window, lag;
  double seconds, rate;
} pub_opts_t;

// Connects, and subscribes to the observers' credit when LAG bounds it.
static struct mosquitto *connect_owner(const pub_opts_t *o, struct pollfd *fd)
{
  char id[128], topic[128];
  snprintf(id, sizeof id, "pub-%s", o->tag);
  struct mosquitto *m = open_client(id, o->port, NULL);
  mosquitto_publish_callback_set(m, on_publish);
  mosquitto_subscribe_callback_set(m, on_subscribe);
  mosquitto_message_callback_set(m, on_message);
  // Unbounded in libmosquitto: WINDOW is the bound.
  mosquitto_max_inflight_messages_set(m, 0);
  if (o->lag > 0) {
    snprintf(topic, sizeof topic, "bench/%s/ack", o->tag);
    mosquitto_subscribe(m, NULL, topic, 0);
    while (!acks_subscribed) {
      poll_clients(&m, fd, 1, 100);
    }
  }
  return m;
}

// Publishes for SECONDS (as fast as WINDOW and LAG let it, or at RATE)
// and returns how many changes went out; *elapsed gets the time taken.
static long publish_for(struct mosquitto *m, struct pollfd *fd,
                        const pub_opts_t *o, char **names, double *elapsed)
{
  double start = now_s(), deadline = start + o->seconds, next_misc = start;
  long k = 0;
  for (;;) {
    double t = now_s();
    if (o->rate > 0 ? start + (double)k / o->rate >= deadline : t >= deadline) {
      break;
    }
    int can = outstanding < o->window && (o->lag <= 0 || k - acked < o->lag);
    int wait_ms = 1;
    if (can && o->rate > 0) {
      // Sleeps (in whole ms, as libuv's timers under hilt.sleep) rather
      // than spins until the next message is due.
      double due = start + (double)k / o->rate;
      can = t >= due;
      wait_ms = can ? 0 : (int)((due - t) * 1e3) + 1;
    }
    if (can) {
      publish(m, names[k % o->topics], t, o->qos);
      k++;
      // Polls, without waiting, once WINDOW is out (or, on a schedule,
      // after each message): PUBACKs, the credit and the rest of a write
      // the socket did not take come only through libmosquitto's loop.
      if (outstanding < o->window && o->rate <= 0) {
        continue;
      }
      wait_ms = 0;
    }
    poll_clients(&m, fd, 1, wait_ms);
    if (t >= next_misc) {
      next_misc = t + 0.1;
      misc_clients(&m, 1);
    }
  }
  *elapsed = now_s() - start;
  return k;
}

static void drain(struct mosquitto *m, struct pollfd *fd)
{
  while (outstanding > 0) {
    poll_clients(&m, fd, 1, 10);
  }
}

int main(int argc, char **argv)
{
  if (argc < 9) {
    fprintf(stderr, "usage: mqtt_pub PORT TAG TOPICS QOS WINDOW SECONDS RATE LAG\n");
    return 2;
  }
  pub_opts_t o = {
    .port = atoi(argv[1]), .tag = argv[2], .topics = atoi(argv[3]),
    .qos = atoi(argv[4]), .window = atol(argv[5]), .seconds = atof(argv[6]),
    .rate = atof(argv[7]), .lag = atol(argv[8]),
  };
  mosquitto_lib_init();
  struct pollfd fd;
  struct mosquitto *m = connect_owner(&o, &fd);
  char topic[128];
  char **names = calloc((size_t)o.topics, sizeof *names);
  for (int k = 0; k < o.topics; k++) {
    snprintf(topic, sizeof topic, "bench/%s/s%d", o.tag, k + 1);
    names[k] = strdup(topic);
  }
  double elapsed;
  long k = publish_for(m, &fd, &o, names, &elapsed);
  drain(m, &fd);
  // The ends go at QoS 1 whatever QOS is: their PUBACKs say the broker
  // has read everything before them. Closing before that could lose the
  // tail: a socket closed with unread data (the credit messages) resets
  // the connection, and the broker drops what it had not read yet.
  for (int i = 0; i < o.topics; i++) {
    publish(m, names[i], -1, 1);
  }
  drain(m, &fd);
  printf("changes %ld\n", k);
  printf("owner_seconds %.6f\n", elapsed);
  printf("cpu_s %.3f\n", (double)clock() / CLOCKS_PER_SEC);
  mosquitto_disconnect(m);
  mosquitto_loop_write(m, 1);
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  return 0;
}
