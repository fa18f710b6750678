// The request parser of http_req.h. http-parser calls back with pieces of
// the URL, header names, header values and body as it meets them; a piece
// may be cut at any byte, so each is appended to what came before.
//
// A request on the wire:
//
//   request    = request-line *( header CRLF ) CRLF [ body ]
//   request-line = method SP url SP "HTTP/" digit "." digit CRLF
//   body       = Content-Length bytes | chunks (Transfer-Encoding: chunked)
//
// Header bytes are counted by http-parser itself (parser.nread, exact after
// each http_parser_execute). feed hands it at most the bytes left under
// max_head while a request's headers are being read, so the limit holds
// to the byte however the input is split; the parser pauses at the end of
// each request so the next one starts a new slice.
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_req.h"

// Records the first failure and drops the request being read. Returns -1.
static int fail(http_req_parser_t *p, int status, const char *why)
{
  if (p->phase != HTTP_REQ_FAILED) {
    snprintf(p->why, sizeof p->why, "%s", why);
    p->status = status;
    p->phase = HTTP_REQ_FAILED;
  }
  http_req_free(p->cur);
  p->cur = NULL;
  return -1;
}

// "request headers over 16384 bytes" (431), "request body over ..." (413).
static int fail_over(http_req_parser_t *p, int status, const char *what,
                     size_t limit)
{
  char why[64];
  snprintf(why, sizeof why, "request %s over %zu bytes", what, limit);
  return fail(p, status, why);
}

static int fail_nomem(http_req_parser_t *p)
{
  return fail(p, 500, "out of memory");
}

// --- growing buffers -----------------------------------------------------

// Appends s[0..n) to *data (length *len, capacity *cap). Returns 0 or -1.
static int append(char **data, size_t *len, size_t *cap, const char *s,
                  size_t n)
{
  if (n > *cap - *len) {
    size_t want = *cap < 64 ? 64 : *cap;
    while (want - *len < n) {
      want *= 2;
    }
    char *grown = realloc(*data, want);
    if (grown == NULL) {
      return -1;
    }
    *data = grown;
    *cap = want;
  }
  memcpy(*data + *len, s, n);
  *len += n;
  return 0;
}

static int head_append(http_req_parser_t *p, const char *s, size_t n)
{
  http_req_t *r = p->cur;
  return append(&r->head, &r->head_len, &r->head_cap, s, n);
}

// Starts a header whose name begins at the end of head.
static int header_start(http_req_t *r)
{
  if (r->n_headers == r->headers_cap) {
    size_t want = r->headers_cap == 0 ? 8 : 2 * r->headers_cap;
    http_req_header_t *grown = realloc(r->headers, want * sizeof *grown);
    if (grown == NULL) {
      return -1;
    }
    r->headers = grown;
    r->headers_cap = want;
  }
  r->headers[r->n_headers++] = (http_req_header_t){.name = r->head_len};
  return 0;
}

// --- http-parser callbacks ------------------------------------------------

static http_req_parser_t *of(http_parser *hp)
{
  return hp->data;
}

static int on_message_begin(http_parser *hp)
{
  http_req_parser_t *p = of(hp);
  p->cur = calloc(1, sizeof *p->cur);
  if (p->cur == NULL) {
    fail_nomem(p);
    return -1;
  }
  p->phase = HTTP_REQ_HEAD;
  p->in_value = 0;
  return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
  http_req_parser_t *p = of(hp);
  if (head_append(p, at, n) != 0) {
    fail_nomem(p);
    return -1;
  }
  p->cur->url_len += n;
  return 0;
}

// Trailers after a chunked body come through the same callbacks; they
// are not kept.
static int on_header_field(http_parser *hp, const char *at, size_t n)
{
  http_req_parser_t *p = of(hp);
  http_req_t *r = p->cur;
  if (p->phase != HTTP_REQ_HEAD) {
    return 0;
  }
  if ((r->n_headers == 0 || p->in_value) && header_start(r) != 0) {
    fail_nomem(p);
    return -1;
  }
  p->in_value = 0;
  if (head_append(p, at, n) != 0) {
    fail_nomem(p);
    return -1;
  }
  r->headers[r->n_headers - 1].name_len += n;
  return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
  http_req_parser_t *p = of(hp);
  http_req_t *r = p->cur;
  if (p->phase != HTTP_REQ_HEAD) {
    return 0;
  }
  http_req_header_t *h = &r->headers[r->n_headers - 1];
  if (!p->in_value) {
    h->value = r->head_len;
    p->in_value = 1;
  }
  if (head_append(p, at, n) != 0) {
    fail_nomem(p);
    return -1;
  }
  h->value_len += n;
  return 0;
}

// Splits the URL into path and query: origin form ("/a?b") or absolute
// form ("http://host/a?b"). A URL http-parser cannot split ("*") is all
// path.
static void split_url(http_req_t *r, int is_connect)
{
  struct http_parser_url u;
  http_parser_url_init(&u);
  r->path = 0;
  r->path_len = r->url_len;
  if (http_parser_parse_url(r->head, r->url_len, is_connect, &u) != 0) {
    return;
  }
  r->path_len = 0;
  if (u.field_set & (1 << UF_PATH)) {
    r->path = u.field_data[UF_PATH].off;
    r->path_len = u.field_data[UF_PATH].len;
  }
  if (u.field_set & (1 << UF_QUERY)) {
    r->has_query = 1;
    r->query = u.field_data[UF_QUERY].off;
    r->query_len = u.field_data[UF_QUERY].len;
  }
}

static int on_headers_complete(http_parser *hp)
{
  http_req_parser_t *p = of(hp);
  http_req_t *r = p->cur;
  for (size_t i = 0; i < r->n_headers; i++) {
    char *name = r->head + r->headers[i].name;
    for (size_t j = 0; j < r->headers[i].name_len; j++) {
      name[j] = (char)tolower((unsigned char)name[j]);
    }
  }
  r->method = http_method_str((enum http_method)hp->method);
  r->version_major = hp->http_major;
  r->version_minor = hp->http_minor;
  split_url(r, hp->method == HTTP_CONNECT);
  // A declared length over the limit fails now, before any body byte.
  if (!(hp->flags & F_CHUNKED) && hp->content_length != ULLONG_MAX &&
      hp->content_length > p->max_body) {
    fail_over(p, 413, "body", p->max_body);
    return -1;
  }
  p->phase = HTTP_REQ_BODY;
  return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
  http_req_parser_t *p = of(hp);
  http_req_t *r = p->cur;
  if (n > p->max_body - r->body_len) {
    fail_over(p, 413, "body", p->max_body);
    return -1;
  }
  if (append(&r->body, &r->body_len, &r->body_cap, at, n) != 0) {
    fail_nomem(p);
    return -1;
  }
  return 0;
}

// Queues the request and pauses, so feed starts the next one's slice.
static int on_message_complete(http_parser *hp)
{
  http_req_parser_t *p = of(hp);
  http_req_t *r = p->cur;
  r->keep_alive = http_should_keep_alive(hp);
  r->upgrade = hp->upgrade;
  if (p->last != NULL) {
    p->last->next = r;
  } else {
    p->first = r;
  }
  p->last = r;
  p->cur = NULL;
  p->phase = r->keep_alive && !r->upgrade ? HTTP_REQ_IDLE : HTTP_REQ_DONE;
  http_parser_pause(hp, 1);
  return 0;
}

static const http_parser_settings settings = {
  .on_message_begin = on_message_begin,
  .on_url = on_url,
  .on_header_field = on_header_field,
  .on_header_value = on_header_value,
  .on_headers_complete = on_headers_complete,
  .on_body = on_body,
  .on_message_complete = on_message_complete,
};

// --- the parser -----------------------------------------------------------

void http_req_parser_init(http_req_parser_t *p, size_t max_head,
                          size_t max_body)
{
  memset(p, 0, sizeof *p);
  http_parser_init(&p->parser, HTTP_REQUEST);
  p->parser.data = p;
  p->max_head = max_head;
  p->max_body = max_body;
  p->phase = HTTP_REQ_IDLE;
}

// Turns http-parser's failure into the parser's, unless a callback has
// already failed it with a reason of its own.
static int fail_errno(http_req_parser_t *p, enum http_errno e)
{
  char why[96];
  if (e == HPE_HEADER_OVERFLOW) {
    return fail_over(p, 431, "headers", HTTP_REQ_HEAD_MAX);
  }
  snprintf(why, sizeof why, "bad HTTP request: %s", http_errno_description(e));
  return fail(p, 400, why);
}

// The bytes that count against max_head so far: those since the last
// request ended, while no body is being read.
static size_t head_used(const http_req_parser_t *p)
{
  return p->parser.nread - p->head_base;
}

int http_req_parser_feed(http_req_parser_t *p, const char *data, size_t len)
{
  size_t off = 0;
  while (off < len && p->phase < HTTP_REQ_DONE) {
    size_t n = len - off;
    if (p->phase != HTTP_REQ_BODY) {
      // Each byte fed now is one more header byte.
      if (head_used(p) >= p->max_head) {
        return fail_over(p, 431, "headers", p->max_head);
      }
      n = n < p->max_head - head_used(p) ? n : p->max_head - head_used(p);
    }
    off += http_parser_execute(&p->parser, &settings, data + off, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&p->parser);
    if (e == HPE_PAUSED) {
      // A request ended. http-parser counts a chunked body's trailers
      // into the next request's header bytes; they are not its.
      http_parser_pause(&p->parser, 0);
      p->head_base = p->parser.nread;
    } else if (e != HPE_OK) {
      return fail_errno(p, e);
    }
  }
  return p->phase == HTTP_REQ_FAILED ? -1 : 0;
}

int http_req_parser_eof(http_req_parser_t *p)
{
  if (p->phase == HTTP_REQ_FAILED) {
    return -1;
  }
  if (p->phase == HTTP_REQ_DONE) {
    return 0;
  }
  http_parser_execute(&p->parser, &settings, "", 0);
  enum http_errno e = HTTP_PARSER_ERRNO(&p->parser);
  if (e == HPE_INVALID_EOF_STATE) {
    return fail(p, 400, "request cut short: the peer closed before its end");
  }
  if (e != HPE_OK && e != HPE_PAUSED) {
    return fail_errno(p, e);
  }
  p->phase = HTTP_REQ_DONE;
  return 0;
}

http_req_t *http_req_parser_take(http_req_parser_t *p)
{
  http_req_t *r = p->first;
  if (r != NULL) {
    p->first = r->next;
    p->last = p->first != NULL ? p->last : NULL;
    r->next = NULL;
  }
  return r;
}

void http_req_parser_close(http_req_parser_t *p)
{
  http_req_t *r;
  while ((r = http_req_parser_take(p)) != NULL) {
    http_req_free(r);
  }
  http_req_free(p->cur);
  p->cur = NULL;
  if (p->phase != HTTP_REQ_FAILED) {
    p->phase = HTTP_REQ_DONE;
  }
}

void http_req_free(http_req_t *r)
{
  if (r != NULL) {
    free(r->head);
    free(r->headers);
    free(r->body);
    free(r);
  }
}
