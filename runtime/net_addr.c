// Parsing and printing hilt's addresses (see net_addr.h).
#include "net_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

// Longest host name in DNS (RFC 1035), without a trailing dot.
#define NAME_MAX_LEN 253

// Writes "bad address '<s>': <why>" and returns UV_EINVAL.
static int bad(char *err, size_t n, const char *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int bad(char *err, size_t n, const char *s, const char *fmt, ...)
{
  if (err != NULL && n > 0) {
    int k = snprintf(err, n, "bad address '%s': ", s);
    if (k >= 0 && (size_t)k < n) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(err + k, n - (size_t)k, fmt, ap);
      va_end(ap);
    }
  }
  return UV_EINVAL;
}

static int parse_unix(net_addr_t *a, const char *s, const char *path,
                      char *err, size_t n)
{
  size_t len = strlen(path);
  if (len == 0) {
    return bad(err, n, s, "the unix socket path is empty");
  }
  if (len >= NET_ADDR_PATH_MAX) {
    return bad(err, n, s,
               "the unix socket path is %zu bytes, the limit is %zu", len,
               NET_ADDR_PATH_MAX - 1);
  }
  a->kind = NET_ADDR_UNIX;
  memcpy(a->path, path, len + 1);
  return 0;
}

// "unix:" followed by a path; "unix://" must be followed by an absolute
// one, since "unix://name" reads like a host that unix sockets lack.
static int parse_unix_scheme(net_addr_t *a, const char *s, char *err,
                             size_t n)
{
  const char *path = s + strlen("unix:");
  if (strncmp(path, "//", 2) == 0) {
    path += 2;
    if (path[0] != '/' && path[0] != '\0') {
      return bad(err, n, s,
                 "unix:// takes an absolute path (unix:///abs/path); write "
                 "a relative one as unix:rel/path");
    }
  }
  return parse_unix(a, s, path, err, n);
}

// port = 1*5DIGIT, 0..65535 (0: a listener takes any free port; a
// connection to it fails when it is made, saying so)
static int parse_port(const char *p, const char *s, int *port, char *err,
                      size_t n)
{
  if (*p == '\0') {
    return bad(err, n, s, "the port is missing after ':'");
  }
  long v = 0;
  for (const char *q = p; *q != '\0'; q++) {
    if (!isdigit((unsigned char)*q)) {
      return bad(err, n, s, "port '%s' is not a number", p);
    }
    if (v <= 65535) {
      v = v * 10 + (*q - '0');
    }
  }
  if (v > 65535) {
    return bad(err, n, s, "port must be 0..65535");
  }
  *port = (int)v;
  return 0;
}

// ipv6 = an inet_pton literal, optionally followed by "%zone".
static int check_ipv6(const char *host, size_t len, const char *s,
                      char *err, size_t n)
{
  char lit[NET_ADDR_HOST_MAX];
  unsigned char bin[16];
  const char *zone = memchr(host, '%', len);
  size_t lit_len = zone != NULL ? (size_t)(zone - host) : len;
  if (len >= sizeof lit) {
    return bad(err, n, s, "the IPv6 address is too long");
  }
  memcpy(lit, host, lit_len);
  lit[lit_len] = '\0';
  if (inet_pton(AF_INET6, lit, bin) != 1) {
    return bad(err, n, s, "'%s' is not an IPv6 address", lit);
  }
  if (zone != NULL && zone + 1 == host + len) {
    return bad(err, n, s, "the IPv6 zone after '%%' is empty");
  }
  for (const char *q = zone != NULL ? zone + 1 : host + len; q < host + len;
       q++) {
    unsigned char c = (unsigned char)*q;
    if (!isalnum(c) && c != '-' && c != '_' && c != '.') {
      return bad(err, n, s, "bad byte 0x%02x in the IPv6 zone", c);
    }
  }
  return 0;
}

// name = letters, digits, '-', '_' and '.'; a name of only digits and dots
// must be an IPv4 address, so "999.1.1.1" fails here rather than at
// resolution.
static int check_name(const char *host, const char *s, char *err, size_t n)
{
  size_t len = strlen(host);
  int dotted = 1;
  for (const char *q = host; *q != '\0'; q++) {
    unsigned char c = (unsigned char)*q;
    if (!isalnum(c) && c != '-' && c != '_' && c != '.') {
      return isprint(c) ? bad(err, n, s, "bad character '%c' in the host "
                                         "name", c)
                        : bad(err, n, s, "bad byte 0x%02x in the host name",
                              c);
    }
    dotted &= isdigit(c) || c == '.';
  }
  unsigned char bin[4];
  if (dotted && len > 0 && inet_pton(AF_INET, host, bin) != 1) {
    return bad(err, n, s, "'%s' is not an IPv4 address", host);
  }
  return 0;
}

// "[" ipv6 "]": copies the address into a->host; *after is what follows.
static int split_ipv6(net_addr_t *a, const char *s, const char *rest,
                      const char **after, char *err, size_t n)
{
  const char *host = rest + 1;
  const char *close = strchr(host, ']');
  if (close == NULL) {
    return bad(err, n, s, "missing ']' after the IPv6 address");
  }
  size_t len = (size_t)(close - host);
  if (len == 0) {
    return bad(err, n, s, "the IPv6 address in [] is empty");
  }
  if (check_ipv6(host, len, s, err, n) != 0) {
    return UV_EINVAL;
  }
  if (close[1] != '\0' && close[1] != ':') {
    return bad(err, n, s, "unexpected '%s' after ']'", close + 1);
  }
  memcpy(a->host, host, len);
  a->host[len] = '\0';
  *after = close + 1;
  return 0;
}

// [ name ]: copies the name into a->host; *after is what follows.
static int split_name(net_addr_t *a, const char *s, const char *rest,
                      const char **after, char *err, size_t n)
{
  size_t len = strcspn(rest, ":");
  if (rest[len] == ':' && strchr(rest + len + 1, ':') != NULL) {
    return bad(err, n, s, "an IPv6 address needs brackets, as in [::1]:%d",
               NET_ADDR_DEFAULT_PORT);
  }
  if (len > NAME_MAX_LEN) {
    return bad(err, n, s, "the host name is longer than %d bytes",
               NAME_MAX_LEN);
  }
  memcpy(a->host, rest, len);
  a->host[len] = '\0';
  *after = rest + len;
  return check_name(a->host, s, err, n);
}

// hostport = "[" ipv6 "]" [ ":" port ] | [ name ] [ ":" port ]
// The port may be left out only after "tcp://" (`with_scheme`).
static int parse_tcp(net_addr_t *a, const char *s, const char *rest,
                     int with_scheme, char *err, size_t n)
{
  const char *after = rest;
  int rc = rest[0] == '[' ? split_ipv6(a, s, rest, &after, err, n)
                          : split_name(a, s, rest, &after, err, n);
  if (rc != 0) {
    return rc;
  }
  if (*after == ':') {
    rc = parse_port(after + 1, s, &a->port, err, n);
  } else if (!with_scheme) {
    rc = bad(err, n, s, "the port is missing (host:port)");
  } else if (a->host[0] == '\0') {
    rc = bad(err, n, s, "the host is missing");
  } else {
    a->port = NET_ADDR_DEFAULT_PORT;
  }
  if (rc != 0) {
    return rc;
  }
  a->kind = NET_ADDR_TCP;
  return 0;
}

// A scheme is letters before "://"; tcp and unix are handled before this.
static int unknown_scheme(const char *s, char *err, size_t n)
{
  const char *sep = strstr(s, "://");
  if (sep == NULL || sep == s) {
    return 0;
  }
  for (const char *q = s; q < sep; q++) {
    if (!isalpha((unsigned char)*q)) {
      return 0;
    }
  }
  return bad(err, n, s, "unknown scheme '%.*s' (use tcp:// or unix:)",
             (int)(sep - s), s);
}

/*
 * address = "stdio"
 *         | "unix:" path | "unix://" "/" path
 *         | "/" path | "./" path | "../" path
 *         | "tcp://" hostport | hostport
 */
int net_addr_parse(net_addr_t *a, const char *s, char *err, size_t errlen)
{
  memset(a, 0, sizeof *a);
  if (s == NULL || s[0] == '\0') {
    return bad(err, errlen, "", "the address is empty");
  }
  if (strcmp(s, "stdio") == 0) {
    a->kind = NET_ADDR_STDIO;
    return 0;
  }
  if (strncmp(s, "unix:", 5) == 0) {
    return parse_unix_scheme(a, s, err, errlen);
  }
  if (s[0] == '/' || strncmp(s, "./", 2) == 0 || strncmp(s, "../", 3) == 0) {
    return parse_unix(a, s, s, err, errlen);
  }
  if (strncmp(s, "tcp://", 6) == 0) {
    return parse_tcp(a, s, s + 6, 1, err, errlen);
  }
  if (unknown_scheme(s, err, errlen) != 0) {
    return UV_EINVAL;
  }
  if (strchr(s, ':') == NULL) {
    return bad(err, errlen, s,
               "expected host:port, tcp://host[:port], unix:path, "
               "/abs/path, ./rel/path or stdio");
  }
  return parse_tcp(a, s, s, 0, err, errlen);
}

char *net_addr_format(const net_addr_t *a, char *out, size_t n)
{
  if (n == 0) {
    return out;
  }
  switch (a->kind) {
  case NET_ADDR_TCP:
    if (strchr(a->host, ':') != NULL) {
      snprintf(out, n, "tcp://[%s]:%d", a->host, a->port);
    } else {
      snprintf(out, n, "tcp://%s:%d", a->host, a->port);
    }
    break;
  case NET_ADDR_UNIX:
    snprintf(out, n, "unix:%s%s", a->path[0] == '/' ? "//" : "", a->path);
    break;
  case NET_ADDR_STDIO:
    snprintf(out, n, "stdio");
    break;
  default:
    snprintf(out, n, "(no address)");
    break;
  }
  return out;
}

static int ipv6_is_loopback(const char *host)
{
  char lit[NET_ADDR_HOST_MAX];
  struct in6_addr in6;
  size_t len = strcspn(host, "%");
  memcpy(lit, host, len);
  lit[len] = '\0';
  if (inet_pton(AF_INET6, lit, &in6) != 1) {
    return 0;
  }
  return IN6_IS_ADDR_LOOPBACK(&in6) ||
         (IN6_IS_ADDR_V4MAPPED(&in6) && in6.s6_addr[12] == 127);
}

int net_addr_is_loopback(const net_addr_t *a)
{
  if (a->kind == NET_ADDR_UNIX || a->kind == NET_ADDR_STDIO) {
    return 1;
  }
  if (a->kind != NET_ADDR_TCP) {
    return 0;
  }
  if (strcasecmp(a->host, "localhost") == 0 ||
      strcasecmp(a->host, "localhost.") == 0) {
    return 1;
  }
  struct in_addr in4;
  if (inet_pton(AF_INET, a->host, &in4) == 1) {
    return (ntohl(in4.s_addr) >> 24) == 127;
  }
  return ipv6_is_loopback(a->host);
}
