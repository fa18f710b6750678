// HTTP/1.x requests read by a server: a resumable parser over
// nodejs/http-parser that collects each request whole (request line,
// headers, body) and queues it once its last byte has arrived. Bytes may
// arrive split anywhere; pipelined requests come out in order.
//
// Limits are checked as bytes arrive, so a hostile peer costs at most
// max_head bytes of headers and max_body bytes of body per request.
#ifndef HILT_HTTP_REQ_H
#define HILT_HTTP_REQ_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>

// The largest header limit: http-parser's own, past which it fails first.
#define HTTP_REQ_HEAD_MAX HTTP_MAX_HEADER_SIZE

// One header: offsets into the request's `head` bytes.
typedef struct {
  size_t name, name_len;  // the name, lowercased
  size_t value, value_len;
} http_req_header_t;

typedef struct http_req_s http_req_t;

/// A complete request. Everything it points to is owned by it and freed by
/// http_req_free.
struct http_req_s {
  http_req_t *next;    // the queue of the parser
  const char *method;  // "GET", a static string
  int version_major, version_minor;
  int keep_alive;      // the connection may carry another request
  int upgrade;         // Upgrade with Connection: upgrade, or CONNECT
  char *head;          // the URL, then the header names and values
  size_t head_len, head_cap;
  size_t url_len;      // the URL is head[0..url_len)
  size_t path, path_len;  // offsets into head
  size_t query, query_len;
  int has_query;
  http_req_header_t *headers;  // in arrival order; names may repeat
  size_t n_headers, headers_cap;
  char *body;          // decoded (chunks joined); NULL when empty
  size_t body_len, body_cap;
};

typedef enum {
  HTTP_REQ_IDLE,    // between requests
  HTTP_REQ_HEAD,    // reading a request line and headers
  HTTP_REQ_BODY,    // reading a body
  HTTP_REQ_DONE,    // stopped: after Connection: close, an upgrade or eof
  HTTP_REQ_FAILED,
} http_req_phase_t;

/// The parser. Fields are read-only outside http_req.c.
typedef struct {
  http_parser parser;
  size_t max_head;     // request line and headers, blank line included
  size_t max_body;
  http_req_phase_t phase;
  uint32_t head_base;  // parser.nread when the last request ended
  http_req_t *cur;     // the request being read, or NULL
  int in_value;        // the last header bytes were a value
  http_req_t *first, *last;  // complete requests, oldest first
  int status;          // once failed: 400, 413, 431, or 500 (no memory)
  char why[96];        // once failed: "request body over 1048576 bytes"
} http_req_parser_t;

/// Starts a parser. max_head is in 1..HTTP_REQ_HEAD_MAX.
void http_req_parser_init(http_req_parser_t *p, size_t max_head,
                          size_t max_body);

/// Parses data[0..len), queueing each request it completes. Returns 0, or
/// -1 once the parser has failed (now or before; see status and why):
/// requests completed before the failure stay queued, and every later
/// call returns -1 again. Once the parser is done (a request without
/// keep-alive, an upgrade), the bytes that follow are ignored.
int http_req_parser_feed(http_req_parser_t *p, const char *data, size_t len);

/// Tells the parser the peer has closed. Returns 0, or -1 when a request
/// was cut short (or the parser had failed). The parser is done after.
int http_req_parser_eof(http_req_parser_t *p);

/// Takes the oldest complete request off the queue, or returns NULL. The
/// caller owns it.
http_req_t *http_req_parser_take(http_req_parser_t *p);

/// Frees what the parser holds (the queue, a partial request).
/// Idempotent; the parser must be initialised again to be reused.
void http_req_parser_close(http_req_parser_t *p);

/// Frees a request taken from a parser. NULL is fine.
void http_req_free(http_req_t *r);

#endif
