// The baseline of bench/serial: bytes through a pseudo-terminal pair by a
// plain C loop, single-threaded as hilt is: both ends non-blocking, poll()
// for the writer's room and the reader's data, then each end read or
// written until it would block, 64 KiB at a time.
// The slave is in raw mode, as serial.open sets it.
//   raw_pty MIB down|up     prints "mb_per_sec N"
// down: written into the master (the device), read from the slave (the
// port); up: the other way.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static void die(const char *what)
{
  perror(what);
  exit(1);
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Opens a pty pair, the slave raw, both ends non-blocking.
static void pty_pair(int *master, int *slave)
{
  struct termios t;
  *master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (*master < 0 || grantpt(*master) != 0 || unlockpt(*master) != 0) {
    die("posix_openpt");
  }
  *slave = open(ptsname(*master), O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (*slave < 0 || tcgetattr(*slave, &t) != 0) {
    die("open slave");
  }
  cfmakeraw(&t);
  if (tcsetattr(*slave, TCSANOW, &t) != 0) {
    die("tcsetattr");
  }
}

int main(int argc, char **argv)
{
  if (argc != 3) {
    fprintf(stderr, "usage: raw_pty MIB down|up\n");
    return 2;
  }
  size_t total = (size_t)atof(argv[1]) * 1024 * 1024, sent = 0, got = 0;
  int master, slave;
  static char out[CHUNK], in[CHUNK];
  for (size_t i = 0; i < CHUNK; i++) {
    out[i] = (char)(i * 31);
  }
  pty_pair(&master, &slave);
  int down = strcmp(argv[2], "down") == 0;
  struct pollfd fds[2] = {{down ? master : slave, POLLOUT, 0},
                          {down ? slave : master, POLLIN, 0}};
  double t0 = now();
  while (got < total) {
    fds[0].events = sent < total ? POLLOUT : 0;
    if (poll(fds, 2, -1) < 0) {
      die("poll");
    }
    // Each end as far as it goes before it would block.
    while ((fds[0].revents & POLLOUT) && sent < total) {
      size_t n = total - sent < CHUNK ? total - sent : CHUNK;
      ssize_t k = write(fds[0].fd, out, n);
      if (k < 0 && errno != EAGAIN) {
        die("write");
      }
      if (k <= 0) {
        break;
      }
      sent += (size_t)k;
    }
    while (fds[1].revents & POLLIN) {
      ssize_t k = read(fds[1].fd, in, CHUNK);
      if (k < 0 && errno != EAGAIN) {
        die("read");
      }
      if (k <= 0) {
        break;
      }
      got += (size_t)k;
    }
  }
  printf("mb_per_sec %.1f\n", total / (now() - t0) / 1e6);
  return 0;
}
