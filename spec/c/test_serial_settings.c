// Unit tests of runtime/serial_settings.c, the termios mapping of
// serial_termios.c and the matching of serial_list.c: what needs no
// device.
#include <string.h>
#include <termios.h>

#include "check.h"
#include "serial_int.h"

static void test_names(void)
{
  serial_parity_t p = SERIAL_PARITY_NONE;
  serial_flow_t f = SERIAL_FLOW_NONE;
  serial_flush_t w = SERIAL_FLUSH_INPUT;
  CHECK(serial_parity_parse("even", &p) == 0 && p == SERIAL_PARITY_EVEN);
  CHECK(serial_parity_parse("space", &p) == 0 && p == SERIAL_PARITY_SPACE);
  CHECK(serial_parity_parse("EVEN", &p) == UV_EINVAL);
  CHECK(serial_parity_parse(NULL, &p) == UV_EINVAL && p == SERIAL_PARITY_SPACE);
  CHECK(strcmp(serial_parity_name(SERIAL_PARITY_MARK), "mark") == 0);
  CHECK(serial_flow_parse("rtscts", &f) == 0 && f == SERIAL_FLOW_RTSCTS);
  CHECK(serial_flow_parse("hardware", &f) == UV_EINVAL);
  CHECK(strcmp(serial_flow_name(SERIAL_FLOW_XONXOFF), "xonxoff") == 0);
  CHECK(serial_flush_parse("both", &w) == 0 && w == SERIAL_FLUSH_BOTH);
  CHECK(serial_flush_parse("output", &w) == 0 && w == SERIAL_FLUSH_OUTPUT);
  CHECK(serial_flush_parse("", &w) == UV_EINVAL);
}

static void test_check(void)
{
  char err[128];
  serial_settings_t s = serial_defaults;
  CHECK(serial_settings_check(&s, err, sizeof err) == 0);
  CHECK(s.baud == 115200 && s.bits == 8 && s.stop == 1);
  s.bits = 9;
  CHECK(serial_settings_check(&s, err, sizeof err) == UV_EINVAL);
  CHECK(strcmp(err, "bits must be 5, 6, 7 or 8, got 9") == 0);
  s = serial_defaults;
  s.stop = 3;
  CHECK(serial_settings_check(&s, err, sizeof err) == UV_EINVAL);
  CHECK(strcmp(err, "stop must be 1 or 2, got 3") == 0);
  s = serial_defaults;
  s.baud = 0;
  CHECK(serial_settings_check(&s, NULL, 0) == UV_EINVAL);
}

static void test_speeds(void)
{
  speed_t sp;
  CHECK(serial__termios_speed(115200, &sp) == 0 && sp == B115200);
  CHECK(serial__termios_speed(50, &sp) == 0 && sp == B50);
  CHECK(serial__termios_speed(4000000, &sp) == 0 && sp == B4000000);
  CHECK(serial__termios_speed(250000, &sp) == UV_EINVAL);
  // 9 is B1200's value as a constant, never a rate.
  CHECK(serial__termios_speed(9, &sp) == UV_EINVAL);
  CHECK(serial__termios_baud(B9600) == 9600);
  CHECK(serial__termios_baud((speed_t)0x7777) == -1);
}

// Every combination written into a termios reads back the same.
static void test_termios_round_trip(void)
{
  static const int bauds[] = {300, 9600, 115200, 921600};
  int bad = 0;
  for (int b = 0; b < 4; b++) {
    for (int bits = 5; bits <= 8; bits++) {
      for (int par = 0; par <= SERIAL_PARITY_SPACE; par++) {
        for (int stop = 1; stop <= 2; stop++) {
          for (int fl = 0; fl < SERIAL_FLOW_DTRDSR; fl++) {
            serial_settings_t s = {bauds[b], bits, par, stop, fl}, r;
            struct termios t;
            speed_t sp;
            memset(&t, 0xff, sizeof t);  // raw mode must clear the rest
            serial__termios_speed(s.baud, &sp);
            bad += serial__termios_from(&t, &s) != 0;
            cfsetospeed(&t, sp);
            serial__termios_to(&t, &r);
            bad += memcmp(&s, &r, sizeof s) != 0;
            bad += (t.c_lflag & (ECHO | ICANON | ISIG)) != 0;
            bad += (t.c_oflag & OPOST) != 0 || !(t.c_cflag & CREAD);
          }
        }
      }
    }
  }
  CHECK(bad == 0);
  serial_settings_t s = serial_defaults;
  struct termios t;
  s.flow = SERIAL_FLOW_DTRDSR;
  CHECK(serial__termios_from(&t, &s) == UV_ENOTSUP);
}

static serial_info_t port(char *path, char *desc, int vid, int pid,
                          char *serial)
{
  serial_info_t i = {path, desc, vid >= 0 ? SERIAL_TRANSPORT_USB
                                          : SERIAL_TRANSPORT_NATIVE,
                     vid, pid, serial, NULL, NULL};
  return i;
}

static void test_match(void)
{
  serial_info_t list[] = {
      port("/dev/ttyS0", "ttyS0", -1, -1, NULL),
      port("/dev/ttyUSB0", "FT232R USB UART", 0x0403, 0x6001, "A12"),
      port("/dev/ttyUSB1", "FT232R USB UART", 0x0403, 0x6001, "B34"),
  };
  char err[512];
  size_t at = 99;
  serial_match_t m = {0x0403, 0x6001, "B34", NULL};
  CHECK(serial_list_match(list, 3, &m, &at, err, sizeof err) == 0 && at == 2);
  m = (serial_match_t){-1, -1, NULL, "ttyS"};
  CHECK(serial_list_match(list, 3, &m, &at, err, sizeof err) == 0 && at == 0);
  m = (serial_match_t){0x0403, 0x6001, NULL, NULL};
  CHECK(serial_list_match(list, 3, &m, &at, err, sizeof err) == UV_EINVAL);
  CHECK(strcmp(err, "2 serial ports match vid=0x0403 pid=0x6001: "
               "/dev/ttyUSB0 (FT232R USB UART, usb 0403:6001, serial A12), "
               "/dev/ttyUSB1 (FT232R USB UART, usb 0403:6001, serial B34); "
               "add serial= or description= to choose one") == 0);
  m = (serial_match_t){0x1a86, 0x7523, NULL, NULL};
  CHECK(serial_list_match(list, 1, &m, &at, err, sizeof err) == UV_ENOENT);
  CHECK(strcmp(err, "no serial port matches vid=0x1a86 pid=0x7523; "
               "ports here: /dev/ttyS0 (ttyS0)") == 0);
  m = (serial_match_t){-1, -1, "X", "CH340"};
  CHECK(serial_list_match(list, 0, &m, &at, err, sizeof err) == UV_ENOENT);
  CHECK(strcmp(err, "no serial port matches serial=\"X\" "
               "description=\"CH340\"; there are no serial ports here") == 0);
  // A message longer than the buffer is cut, not overrun.
  char small[24];
  CHECK(serial_list_match(list, 3, &m, &at, small, sizeof small) ==
        UV_ENOENT);
  CHECK(strlen(small) == sizeof small - 1);
}

static void test_list(void)
{
  serial_info_t *list;
  size_t n;
  CHECK(serial_list(&list, &n) == 0);
  for (size_t i = 0; i < n; i++) {
    CHECK(list[i].path != NULL && strncmp(list[i].path, "/dev/", 5) == 0);
  }
  serial_list_free(list, n);
}

int main(void)
{
  test_names();
  test_check();
  test_speeds();
  test_termios_round_trip();
  test_match();
  test_list();
  return check_summary();
}
