// hilt's address syntax: where to listen or connect, as a user writes it.
//
//   tcp://host:port  tcp://[v6addr]:port  tcp://host (port 7420)
//   host:port  [v6addr]:port  :port (every interface, for listening)
//   unix:///abs/path  unix:rel/path  /abs/path  ./rel/path  ../rel/path
//   stdio
//
// Parsing only checks the text: host names are resolved when a connection
// is made or a listener opened (net_stream.h), so a parsed address may
// still fail to resolve.
#ifndef HILT_NET_ADDR_H
#define HILT_NET_ADDR_H

#include <stddef.h>
#include <sys/un.h>

#define NET_ADDR_DEFAULT_PORT 7420

// Longest host name (RFC 1035) plus room for an IPv6 zone, with the NUL.
#define NET_ADDR_HOST_MAX 256

// A unix socket path must fit sockaddr_un.sun_path with its NUL.
#define NET_ADDR_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

// A buffer this large holds any net_addr_format result.
#define NET_ADDR_STRLEN (NET_ADDR_HOST_MAX + 32)

typedef enum {
  NET_ADDR_TCP = 1,
  NET_ADDR_UNIX = 2,
  NET_ADDR_STDIO = 3,
} net_addr_kind_t;

typedef struct {
  net_addr_kind_t kind;
  // TCP: a name, an IPv4 literal or an IPv6 literal without brackets
  // (with its "%zone" if any); "" for every interface.
  char host[NET_ADDR_HOST_MAX];
  // TCP: 0..65535 from the parser. 0 is for net_listen (any free port,
  // see net_listener_addr); net_connect refuses it.
  int port;
  // UNIX: the path as written, absolute or relative to the working
  // directory.
  char path[NET_ADDR_PATH_MAX];
} net_addr_t;

/// Parses `s` into *a. Returns 0, or UV_EINVAL with a one-line message in
/// err[0..errlen) that quotes the input and says what is wrong, e.g.
/// "bad address 'tcp://x:99999': port must be 0..65535". err may be NULL;
/// the message is truncated to fit and always NUL-terminated. *a is
/// cleared first, so it is all zero after a failure.
int net_addr_parse(net_addr_t *a, const char *s, char *err, size_t errlen);

/// Writes the canonical text of `a` into out[0..n), always NUL-terminated:
/// "tcp://host:port", "tcp://[v6addr]:port", "tcp://:port" (every
/// interface), "unix:///abs/path", "unix:rel/path" or "stdio". Parsing the
/// result gives `a` back. NET_ADDR_STRLEN bytes always suffice. Returns
/// out.
char *net_addr_format(const net_addr_t *a, char *out, size_t n);

/// True (1) when `a` can only be reached from this machine: 127.0.0.0/8,
/// ::1 (also as ::ffff:127.x.y.z), the name "localhost", a unix socket or
/// stdio. Any other name is not local, whatever it resolves to, and
/// neither is "" (every interface).
int net_addr_is_loopback(const net_addr_t *a);

#endif
