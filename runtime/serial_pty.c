// Pseudo-terminals standing in for serial devices (serial.h): the master
// end is the device's side, which a simulator reads and writes; the slave
// end, /dev/pts/N, is what serial_open opens as a port.
#define _GNU_SOURCE  // ptsname_r
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "serial_int.h"

// Opens the slave end of master in raw mode.
static int open_slave(int master, char *path, size_t n, int *slave)
{
  struct termios t;
  if (grantpt(master) != 0 || unlockpt(master) != 0 ||
      ptsname_r(master, path, n) != 0) {
    return serial__errno();
  }
  int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    return serial__errno();
  }
  if (tcgetattr(fd, &t) != 0) {
    int rc = serial__errno();
    close(fd);
    return rc;
  }
  cfmakeraw(&t);
  tcsetattr(fd, TCSANOW, &t);
  *slave = fd;
  return 0;
}

int serial_pty_open(int *master, int *slave, char *path, size_t n)
{
  *master = *slave = -1;
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) {
    return serial__errno();
  }
  int rc = open_slave(m, path, n, slave);
  if (rc != 0) {
    close(m);
    return rc;
  }
  *master = m;
  return 0;
}
