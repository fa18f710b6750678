// Unit tests of runtime/net_addr.c: every address form, the messages for
// bad input, the canonical text, and which addresses count as local.
#include <string.h>

#include "check.h"
#include "net_addr.h"

static char err[600];

static int parse(net_addr_t *a, const char *s)
{
  err[0] = '\0';
  return net_addr_parse(a, s, err, sizeof err);
}

static int is_tcp(const char *s, const char *host, int port)
{
  net_addr_t a;
  return parse(&a, s) == 0 && a.kind == NET_ADDR_TCP &&
         strcmp(a.host, host) == 0 && a.port == port;
}

static int is_unix(const char *s, const char *path)
{
  net_addr_t a;
  return parse(&a, s) == 0 && a.kind == NET_ADDR_UNIX &&
         strcmp(a.path, path) == 0;
}

// Parsing fails with exactly `want` as the message.
static int fails_with(const char *s, const char *want)
{
  net_addr_t a;
  int rc = parse(&a, s);
  if (rc == 0 || strcmp(err, want) != 0) {
    fprintf(stderr, "  '%s' gave rc %d, message: %s\n", s, rc, err);
    return 0;
  }
  return a.kind == 0;
}

static void test_tcp_forms(void)
{
  CHECK(is_tcp("tcp://example.com:80", "example.com", 80));
  CHECK(is_tcp("tcp://127.0.0.1:65535", "127.0.0.1", 65535));
  CHECK(is_tcp("tcp://[::1]:7421", "::1", 7421));
  CHECK(is_tcp("tcp://[fe80::1%eth0]:9", "fe80::1%eth0", 9));
  CHECK(is_tcp("tcp://box", "box", NET_ADDR_DEFAULT_PORT));
  CHECK(is_tcp("tcp://[::1]", "::1", 7420));
  CHECK(is_tcp("tcp://:8080", "", 8080));
  CHECK(is_tcp("localhost:1", "localhost", 1));
  CHECK(is_tcp("10.0.0.2:7420", "10.0.0.2", 7420));
  CHECK(is_tcp("my_host-2.lab:22", "my_host-2.lab", 22));
  CHECK(is_tcp("[2001:db8::5]:443", "2001:db8::5", 443));
  CHECK(is_tcp(":7420", "", 7420));
  CHECK(is_tcp("tcp://x:007", "x", 7));
}

static void test_unix_and_stdio_forms(void)
{
  net_addr_t a;
  CHECK(is_unix("unix:///run/hilt.sock", "/run/hilt.sock"));
  CHECK(is_unix("unix:rel/hilt.sock", "rel/hilt.sock"));
  CHECK(is_unix("unix:/abs.sock", "/abs.sock"));
  CHECK(is_unix("/tmp/x.sock", "/tmp/x.sock"));
  CHECK(is_unix("./x.sock", "./x.sock"));
  CHECK(is_unix("../up/x.sock", "../up/x.sock"));
  CHECK(parse(&a, "stdio") == 0 && a.kind == NET_ADDR_STDIO);
  // The longest path that fits sun_path with its NUL.
  char path[NET_ADDR_PATH_MAX + 8];
  memset(path, 'p', sizeof path);
  path[0] = '/';
  path[NET_ADDR_PATH_MAX - 1] = '\0';
  CHECK(is_unix(path, path));
}

static void test_errors(void)
{
  CHECK(fails_with("", "bad address '': the address is empty"));
  CHECK(fails_with("tcp://x:99999",
                   "bad address 'tcp://x:99999': port must be 0..65535"));
  CHECK(is_tcp("127.0.0.1:0", "127.0.0.1", 0));
  CHECK(fails_with("x:123456789012345678901",
                   "bad address 'x:123456789012345678901': port must be "
                   "0..65535"));
  CHECK(fails_with("x:http", "bad address 'x:http': port 'http' is not a "
                             "number"));
  CHECK(fails_with("x:-1", "bad address 'x:-1': port '-1' is not a number"));
  CHECK(fails_with("x:", "bad address 'x:': the port is missing after ':'"));
  CHECK(fails_with("tcp://h:80/path",
                   "bad address 'tcp://h:80/path': port '80/path' is not a "
                   "number"));
  CHECK(fails_with("tcp://", "bad address 'tcp://': the host is missing"));
  CHECK(fails_with("[::1]", "bad address '[::1]': the port is missing "
                            "(host:port)"));
  CHECK(fails_with("localhost",
                   "bad address 'localhost': expected host:port, "
                   "tcp://host[:port], unix:path, /abs/path, ./rel/path or "
                   "stdio"));
  CHECK(fails_with("::1:7420", "bad address '::1:7420': an IPv6 address "
                               "needs brackets, as in [::1]:7420"));
  CHECK(fails_with("tcp://[::1:80",
                   "bad address 'tcp://[::1:80': missing ']' after the "
                   "IPv6 address"));
  CHECK(fails_with("[]:80", "bad address '[]:80': the IPv6 address in [] "
                            "is empty"));
  CHECK(fails_with("[zz]:80", "bad address '[zz]:80': 'zz' is not an IPv6 "
                              "address"));
  CHECK(fails_with("[::1]x", "bad address '[::1]x': unexpected 'x' after "
                             "']'"));
  CHECK(fails_with("[fe80::1%]:1", "bad address '[fe80::1%]:1': the IPv6 "
                                   "zone after '%' is empty"));
  CHECK(fails_with("ho st:80", "bad address 'ho st:80': bad character ' ' "
                               "in the host name"));
  CHECK(fails_with("999.1.1.1:80", "bad address '999.1.1.1:80': '999.1.1.1' "
                                   "is not an IPv4 address"));
  CHECK(fails_with("http://x:80", "bad address 'http://x:80': unknown "
                                  "scheme 'http' (use tcp:// or unix:)"));
  CHECK(fails_with("unix:", "bad address 'unix:': the unix socket path is "
                            "empty"));
  CHECK(fails_with("unix://", "bad address 'unix://': the unix socket path "
                              "is empty"));
  CHECK(fails_with("unix://x.sock",
                   "bad address 'unix://x.sock': unix:// takes an absolute "
                   "path (unix:///abs/path); write a relative one as "
                   "unix:rel/path"));
}

static void test_long_inputs(void)
{
  char path[NET_ADDR_PATH_MAX + 8], want[600];
  memset(path, 'p', sizeof path);
  path[0] = '/';
  path[NET_ADDR_PATH_MAX] = '\0';
  snprintf(want, sizeof want,
           "bad address '%s': the unix socket path is %zu bytes, the limit "
           "is %zu",
           path, NET_ADDR_PATH_MAX, NET_ADDR_PATH_MAX - 1);
  CHECK(fails_with(path, want));

  char host[300];
  memset(host, 'h', sizeof host);
  memcpy(host + 254, ":1", 3);
  snprintf(want, sizeof want,
           "bad address '%s': the host name is longer than 253 bytes", host);
  CHECK(fails_with(host, want));
  memcpy(host + 253, ":1", 3);
  net_addr_t a;
  CHECK(parse(&a, host) == 0 && strlen(a.host) == 253 && a.port == 1);
  CHECK(fails_with("a\tb:1", "bad address 'a\tb:1': bad byte 0x09 in the "
                              "host name"));
}

// The message is cut to the caller's buffer, always terminated; a NULL
// buffer is fine.
static void test_error_buffer(void)
{
  net_addr_t a;
  char small[12];
  memset(small, 'z', sizeof small);
  CHECK(net_addr_parse(&a, "tcp://x:99999", small, sizeof small) < 0);
  CHECK(strcmp(small, "bad address") == 0);
  CHECK(net_addr_parse(&a, "tcp://x:99999", NULL, 0) < 0);
  CHECK(net_addr_parse(&a, NULL, small, sizeof small) < 0);
}

static int round_trips(const char *s, const char *canonical)
{
  net_addr_t a, b;
  char out[NET_ADDR_STRLEN];
  if (parse(&a, s) != 0) {
    return 0;
  }
  net_addr_format(&a, out, sizeof out);
  if (strcmp(out, canonical) != 0) {
    fprintf(stderr, "  '%s' formats as '%s'\n", s, out);
    return 0;
  }
  return parse(&b, out) == 0 && memcmp(&a, &b, sizeof a) == 0;
}

static void test_format(void)
{
  CHECK(round_trips("localhost:80", "tcp://localhost:80"));
  CHECK(round_trips("tcp://box", "tcp://box:7420"));
  CHECK(round_trips("[::1]:9", "tcp://[::1]:9"));
  CHECK(round_trips("tcp://[fe80::1%eth0]", "tcp://[fe80::1%eth0]:7420"));
  CHECK(round_trips(":7420", "tcp://:7420"));
  CHECK(round_trips("/run/h.sock", "unix:///run/h.sock"));
  CHECK(round_trips("unix:///run/h.sock", "unix:///run/h.sock"));
  CHECK(round_trips("./h.sock", "unix:./h.sock"));
  CHECK(round_trips("unix:h.sock", "unix:h.sock"));
  CHECK(round_trips("stdio", "stdio"));

  net_addr_t a;
  char out[8];
  parse(&a, "tcp://example.com:80");
  CHECK(strcmp(net_addr_format(&a, out, sizeof out), "tcp://e") == 0);
}

static int loopback(const char *s)
{
  net_addr_t a;
  return parse(&a, s) == 0 ? net_addr_is_loopback(&a) : -1;
}

static void test_loopback(void)
{
  CHECK(loopback("127.0.0.1:1") == 1);
  CHECK(loopback("127.255.3.4:1") == 1);
  CHECK(loopback("[::1]:1") == 1);
  CHECK(loopback("[::ffff:127.0.0.1]:1") == 1);
  CHECK(loopback("localhost:1") == 1);
  CHECK(loopback("tcp://LocalHost") == 1);
  CHECK(loopback("unix:h.sock") == 1);
  CHECK(loopback("/run/h.sock") == 1);
  CHECK(loopback("stdio") == 1);

  CHECK(loopback(":7420") == 0);
  CHECK(loopback("0.0.0.0:1") == 0);
  CHECK(loopback("[::]:1") == 0);
  CHECK(loopback("128.0.0.1:1") == 0);
  CHECK(loopback("10.1.2.3:1") == 0);
  CHECK(loopback("[::ffff:10.0.0.1]:1") == 0);
  CHECK(loopback("example.com:1") == 0);
  CHECK(loopback("localhost.example.com:1") == 0);
  CHECK(loopback("my-localhost:1") == 0);
}

int main(void)
{
  test_tcp_forms();
  test_unix_and_stdio_forms();
  test_errors();
  test_long_inputs();
  test_error_buffer();
  test_format();
  test_loopback();
  return check_summary();
}
