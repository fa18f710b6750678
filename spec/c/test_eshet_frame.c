// Unit tests of ESHET's binary protocol (runtime/eshet_*.c): every type
// byte of seed-semantics.md §1.1 parsed from bytes written by hand and
// encoded back to the same bytes, a stream of frames split at every byte,
// and each error with the report a user reads.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "eshet_frame.h"
#include "eshet_msg.h"

#define LIT(s) s, sizeof s - 1

// One payload per type byte, with the fields it must parse to.
typedef struct {
  const char *payload;
  size_t n;
  const char *name;
  int version, timeout, id;
  uint32_t ms;
  const char *path;   // NULL when the type has none
  size_t value_len;   // 0 when the type carries no value
} case_t;

static const case_t cases[] = {
  {LIT("\x01\x01\x00\x1e"), "hello", 1, 30, 0, 0, NULL, 0},
  {LIT("\x02\x01\x01\x2c\xa3" "mac"), "hello_id", 1, 300, 0, 0, NULL, 4},
  {LIT("\x03"), "hello_server", 0, 0, 0, 0, NULL, 0},
  {LIT("\x04\x2a"), "hello_id_server", 0, 0, 0, 0, NULL, 1},
  {LIT("\x05\x00\x07\xc3"), "reply", 0, 0, 7, 0, NULL, 1},
  {LIT("\x06\x00\x07\xa4" "oops"), "reply", 0, 0, 7, 0, NULL, 5},
  {LIT("\x07\x01\x02\x05"), "reply_state", 0, 0, 258, 0, NULL, 1},
  {LIT("\x08\x01\x02"), "reply_state", 0, 0, 258, 0, NULL, 0},
  {LIT("\x09\xff\xff"), "ping", 0, 0, 65535, 0, NULL, 0},
  {LIT("\x0a\x00\x01\x00\x01\x02\x03\xc0"), "reply_state_t", 0, 0, 1,
   0x00010203, NULL, 1},
  {LIT("\x0b\x00\x01\xff\xff\xff\xff"), "reply_state_t", 0, 0, 1,
   0xffffffff, NULL, 0},
  {LIT("\x10\x00\x02/a/b\x00"), "action_register", 0, 0, 2, 0, "/a/b", 0},
  {LIT("\x11\x00\x03/a/b\x00\x92\x01\x02"), "action_call", 0, 0, 3, 0,
   "/a/b", 3},
  {LIT("\x20\x00\x04/p\x00"), "prop_register", 0, 0, 4, 0, "/p", 0},
  {LIT("\x21\x00\x05/p\x00"), "prop_get", 0, 0, 5, 0, "/p", 0},
  {LIT("\x22\x00\x06/p\x00\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"), "prop_set",
   0, 0, 6, 0, "/p", 9},
  {LIT("\x23\x00\x07/p\x00"), "get", 0, 0, 7, 0, "/p", 0},
  {LIT("\x24\x00\x08/p\x00\x81\xa1k\xc2"), "set", 0, 0, 8, 0, "/p", 4},
  {LIT("\x30\x00\x09/e\x00"), "event_register", 0, 0, 9, 0, "/e", 0},
  {LIT("\x31\x00\x0a/e\x00\xc0"), "event_emit", 0, 0, 10, 0, "/e", 1},
  {LIT("\x32\x00\x0b/e\x00"), "event_listen", 0, 0, 11, 0, "/e", 0},
  {LIT("\x33/e\x00\x01"), "event_notify", 0, 0, 0, 0, "/e", 1},
  {LIT("\x40\x00\x0c/s\x00"), "state_register", 0, 0, 12, 0, "/s", 0},
  {LIT("\x41\x00\x0d/s\x00\x02"), "state_changed", 0, 0, 13, 0, "/s", 1},
  {LIT("\x42\x00\x0e/s\x00"), "state_unknown", 0, 0, 14, 0, "/s", 0},
  {LIT("\x43\x00\x0f/s\x00"), "state_observe", 0, 0, 15, 0, "/s", 0},
  {LIT("\x44/s\x00\x03"), "state_notify", 0, 0, 0, 0, "/s", 1},
  {LIT("\x45/s\x00"), "state_notify", 0, 0, 0, 0, "/s", 0},
  {LIT("\x46\x00\x10/s\x00"), "state_observe_t", 0, 0, 16, 0, "/s", 0},
  {LIT("\x47\x00\x11\x00\x90"), "state_set", 0, 0, 17, 0, "", 1},
};

#define NCASES (sizeof cases / sizeof cases[0])

static int parse(const char *p, size_t n, eshet_msg_t *m, eshet_err_t *err)
{
  eshet_err_set(err, ESHET_OK);
  return eshet_msg_parse(p, n, m, err);
}

static int fields_match(const case_t *c, const eshet_msg_t *m)
{
  size_t path_len = c->path != NULL ? strlen(c->path) : 0;
  return m->type == (uint8_t)c->payload[0] && m->version == c->version &&
         m->timeout == c->timeout && m->id == c->id && m->ms == c->ms &&
         m->path_len == path_len &&
         (c->path == NULL ? m->path == NULL
                          : memcmp(m->path, c->path, path_len) == 0) &&
         m->has_value == (c->value_len > 0) && m->value_len == c->value_len &&
         (c->value_len == 0 || m->value == c->payload + c->n - c->value_len);
}

// Encodes *m; returns the frame (malloc'd) and its size, or NULL.
static char *encode(const eshet_msg_t *m, size_t *size, eshet_err_t *err)
{
  eshet_err_set(err, ESHET_OK);
  if (eshet_msg_check(m, size, err) != ESHET_OK) {
    return NULL;
  }
  char *out = malloc(*size);
  CHECK(eshet_msg_write(m, out) == *size);
  return out;
}

static void test_every_type(void)
{
  int covered = 0, ok = 1, round = 1;
  for (size_t i = 0; i < NCASES; i++) {
    const case_t *c = &cases[i];
    const eshet_type_t *t = eshet_msg_type((unsigned char)c->payload[0]);
    eshet_msg_t m;
    eshet_err_t err;
    ok &= t != NULL && strcmp(t->name, c->name) == 0 &&
          parse(c->payload, c->n, &m, &err) == ESHET_OK &&
          fields_match(c, &m);
    // Encoding gives back the header and the very same payload.
    size_t size;
    char *frame = encode(&m, &size, &err);
    round &= frame != NULL && size == c->n + 3 && frame[0] == 0x47 &&
             (size_t)((unsigned char)frame[1] << 8 |
                      (unsigned char)frame[2]) == c->n &&
             memcmp(frame + 3, c->payload, c->n) == 0;
    free(frame);
  }
  CHECK(ok);
  CHECK(round);
  // The cases hold every type byte the table defines, and no other.
  for (int b = 0; b < 256; b++) {
    int listed = 0;
    for (size_t i = 0; i < NCASES; i++) {
      listed |= (unsigned char)cases[i].payload[0] == b;
    }
    covered += listed;
    CHECK(listed == (eshet_msg_type(b) != NULL));
  }
  CHECK(covered == 30);
}

static void test_names(void)
{
  CHECK(eshet_msg_find("reply", 1)->code == 0x05);
  CHECK(eshet_msg_find("reply", 0)->code == 0x06);
  CHECK(eshet_msg_find("reply_state", 1)->code == 0x07);
  CHECK(eshet_msg_find("reply_state", 0)->code == 0x08);
  CHECK(eshet_msg_find("reply_state_t", 0)->code == 0x0b);
  CHECK(eshet_msg_find("state_notify", 1)->code == 0x44);
  CHECK(eshet_msg_find("state_notify", 0)->code == 0x45);
  CHECK(eshet_msg_find("ping", 0)->code == 0x09);
  CHECK(eshet_msg_find("ping", 1)->code == 0x09);
  CHECK(eshet_msg_find("hello_server", 0)->code == 0x03);
  CHECK(eshet_msg_find("pong", 0) == NULL);
  CHECK(eshet_msg_type(0x06)->flag == ESHET_FLAG_OK &&
        eshet_msg_type(0x06)->flag_set == 0);
  CHECK(eshet_msg_type(0x0a)->flag == ESHET_FLAG_KNOWN &&
        eshet_msg_type(0x0a)->flag_set == 1);
}

// The stream of all cases' frames, in order; *n its size.
static char *all_frames(size_t *n)
{
  char *s = malloc(4096);
  *n = 0;
  for (size_t i = 0; i < NCASES; i++) {
    s[(*n)++] = 0x47;
    s[(*n)++] = (char)(cases[i].n >> 8);
    s[(*n)++] = (char)cases[i].n;
    memcpy(s + *n, cases[i].payload, cases[i].n);
    *n += cases[i].n;
  }
  return s;
}

// Reads the chunks s[cut[k]..cut[k+1]) in turn; counts the payloads and
// checks each against the case of its position. Returns the count, or -1
// on a wrong payload or an error.
static int read_chunks(const char *s, const size_t *cut, int ncut)
{
  eshet_frame_t f;
  int count = 0, bad = 0;
  eshet_frame_init(&f, 0);
  for (int k = 0; k + 1 < ncut; k++) {
    const char *in = s + cut[k];
    size_t n = cut[k + 1] - cut[k];
    const char *payload;
    size_t size;
    int rc;
    while ((rc = eshet_frame_next(&f, &in, &n, &payload, &size)) ==
           ESHET_OK) {
      bad |= count >= (int)NCASES || size != cases[count].n ||
             memcmp(payload, cases[count].payload, size) != 0;
      count++;
    }
    bad |= rc != ESHET_EMORE || n != 0;
  }
  bad |= eshet_frame_buffered(&f) != 0;
  eshet_frame_close(&f);
  return bad ? -1 : count;
}

static void test_splits(void)
{
  size_t n;
  char *s = all_frames(&n);
  size_t whole[] = {0, n};
  CHECK(read_chunks(s, whole, 2) == (int)NCASES);
  int ok = 1;
  for (size_t i = 0; i <= n; i++) {
    size_t cut[] = {0, i, n};
    ok &= read_chunks(s, cut, 3) == (int)NCASES;
  }
  CHECK(ok);
  // Three chunks, the first cut inside the first frames.
  for (size_t i = 0; i <= 24; i++) {
    for (size_t j = i; j <= n; j++) {
      size_t cut[] = {0, i, j, n};
      ok &= read_chunks(s, cut, 4) == (int)NCASES;
    }
  }
  CHECK(ok);
  size_t *bytes = malloc((n + 1) * sizeof *bytes);
  for (size_t i = 0; i <= n; i++) {
    bytes[i] = i;
  }
  CHECK(read_chunks(s, bytes, (int)n + 1) == (int)NCASES);
  free(bytes);
  free(s);
}

// A frame inside one chunk is handed out in place; one that spans chunks
// is copied, and its buffer let go once the next frame is asked for.
static void test_buffering(void)
{
  eshet_frame_t f;
  const char *payload, *in;
  size_t size, n;
  static const char two[] = "\x47\x00\x03\x09\x00\x01\x47\x00\x03\x09";
  eshet_frame_init(&f, 0);
  in = two;
  n = sizeof two - 1;
  CHECK(eshet_frame_next(&f, &in, &n, &payload, &size) == ESHET_OK);
  CHECK(payload == two + 3 && size == 3 && n == 4);
  CHECK(eshet_frame_next(&f, &in, &n, &payload, &size) == ESHET_EMORE);
  CHECK(n == 0 && eshet_frame_buffered(&f) == 4);
  in = "\x00\x02";
  n = 2;
  CHECK(eshet_frame_next(&f, &in, &n, &payload, &size) == ESHET_OK);
  CHECK(size == 3 && memcmp(payload, "\x09\x00\x02", 3) == 0);
  eshet_frame_close(&f);

  // The largest frame, its payload an action_register with a long path.
  size_t big = ESHET_FRAME_MAX;
  char *s = malloc(big);
  memcpy(s, "\x47\xff\xff\x10\x00\x01", 6);
  memset(s + 6, 'a', big - 7);
  s[big - 1] = 0;
  eshet_frame_init(&f, 0);
  in = s;
  n = 1000;
  CHECK(eshet_frame_next(&f, &in, &n, &payload, &size) == ESHET_EMORE);
  n = big - 1000;
  CHECK(eshet_frame_next(&f, &in, &n, &payload, &size) == ESHET_OK);
  eshet_msg_t m;
  eshet_err_t err;
  CHECK(size == 65535 && parse(payload, size, &m, &err) == ESHET_OK);
  CHECK(m.id == 1 && m.path_len == 65531 && f.cap >= big);
  in = "\x47";
  n = 1;
  CHECK(eshet_frame_next(&f, &in, &n, &payload, &size) == ESHET_EMORE);
  CHECK(f.cap < big);
  eshet_frame_close(&f);
  free(s);
}

static void check_report(const eshet_err_t *err, const char *want)
{
  char msg[200];
  eshet_err_format(err, msg, sizeof msg);
  if (strcmp(msg, want) != 0) {
    fprintf(stderr, "report: %s\n  want: %s\n", msg, want);
  }
  CHECK(strcmp(msg, want) == 0);
}

// Feeds s whole; returns the code that ended it, and the frames before.
static int read_all(eshet_frame_t *f, const char *s, size_t n, int *frames)
{
  const char *payload;
  size_t size;
  int rc;
  *frames = 0;
  while ((rc = eshet_frame_next(f, &s, &n, &payload, &size)) == ESHET_OK) {
    (*frames)++;
  }
  return rc;
}

static void test_frame_errors(void)
{
  eshet_frame_t f;
  int frames;
  eshet_frame_init(&f, 0);
  CHECK(read_all(&f, LIT("\x48\x00\x01\x03"), &frames) == ESHET_ESYNC);
  check_report(&f.err, "bad sync byte 0x48 at byte 1 of the stream (a "
                       "frame starts with 0x47)");
  CHECK(strcmp(eshet_err_name(f.err.code), "bad_sync") == 0);
  // The stream stays broken, whatever comes next.
  CHECK(read_all(&f, LIT("\x47\x00\x01\x03"), &frames) == ESHET_ESYNC);
  CHECK(frames == 0);
  eshet_frame_close(&f);

  // Found at the same byte fed whole or one byte at a time.
  static const char late[] = "\x47\x00\x01\x03\x47\x00\x01\x03\x00";
  eshet_frame_init(&f, 0);
  CHECK(read_all(&f, LIT(late), &frames) == ESHET_ESYNC && frames == 2);
  check_report(&f.err, "bad sync byte 0x00 at byte 9 of the stream (a "
                       "frame starts with 0x47)");
  eshet_frame_close(&f);
  eshet_frame_init(&f, 0);
  int total = 0, rc = ESHET_EMORE;
  for (size_t i = 0; i < sizeof late - 1 && rc == ESHET_EMORE; i++) {
    rc = read_all(&f, late + i, 1, &frames);
    total += frames;
  }
  CHECK(rc == ESHET_ESYNC && total == 2 && f.err.offset == 8);
  eshet_frame_close(&f);

  eshet_frame_init(&f, 0);
  CHECK(read_all(&f, LIT("\x47\x00\x01\x03\x47\x00\x00"), &frames) ==
        ESHET_EEMPTY && frames == 1);
  check_report(&f.err, "empty frame at byte 5 of the stream (a payload "
                       "holds at least its type byte)");
  eshet_frame_close(&f);

  // A limit of 10 bytes takes a 10-byte frame, and refuses an 11-byte one
  // as soon as its header is in.
  eshet_frame_init(&f, 10);
  CHECK(read_all(&f, LIT("\x47\x00\x07\x10\x00\x01/ab\x00"), &frames) ==
        ESHET_EMORE && frames == 1);
  eshet_frame_close(&f);
  eshet_frame_init(&f, 10);
  CHECK(read_all(&f, LIT("\x47\x00\x08"), &frames) == ESHET_ETOOBIG);
  check_report(&f.err, "frame at byte 1 of the stream is 11 bytes, more "
                       "than the limit of 10");
  eshet_frame_close(&f);

  // A caller that cannot parse a payload breaks the stream for good.
  eshet_err_t err;
  eshet_frame_init(&f, 0);
  eshet_err_set(&err, ESHET_ETYPE);
  err.type = 0x0c;
  eshet_frame_fail(&f, &err);
  CHECK(read_all(&f, LIT("\x47\x00\x01\x03"), &frames) == ESHET_ETYPE);
  check_report(&f.err, "unknown type byte 0x0c");
  eshet_frame_close(&f);
}

static void test_parse_errors(void)
{
  static const struct {
    const char *payload;
    size_t n;
    int code;
    const char *report;
  } bad[] = {
    {LIT("\x0c"), ESHET_ETYPE, "unknown type byte 0x0c"},
    {LIT("\x00\x01"), ESHET_ETYPE, "unknown type byte 0x00"},
    {LIT("\x48"), ESHET_ETYPE, "unknown type byte 0x48"},
    {LIT("\x01\x01"), ESHET_ESHORT, "payload too short for type hello "
                                    "(0x01): 2 bytes, needs at least 4"},
    {LIT("\x11\x00"), ESHET_ESHORT, "payload too short for type action_call "
                                    "(0x11): 2 bytes, needs at least 5"},
    {LIT("\x0a\x00\x01\x00"), ESHET_ESHORT, "payload too short for type "
     "reply_state_t (0x0a): 4 bytes, needs at least 8"},
    {LIT("\x10\x00\x01/a"), ESHET_EPATH,
     "path not NUL-terminated in action_register (0x10)"},
    {LIT("\x33"), ESHET_EPATH, "path not NUL-terminated in event_notify "
                               "(0x33)"},
    {LIT("\x11\x00\x01/a\x00"), ESHET_ENOVALUE,
     "missing value in action_call (0x11)"},
    {LIT("\x04"), ESHET_ENOVALUE, "missing value in hello_id_server (0x04)"},
    {LIT("\x10\x00\x01/a\x00\x01"), ESHET_ETRAILING, "1 trailing byte after "
     "the fields of action_register (0x10), from payload byte 7"},
    {LIT("\x03\x00\x00"), ESHET_ETRAILING, "2 trailing bytes after the "
     "fields of hello_server (0x03), from payload byte 2"},
    {LIT("\x45/s\x00\xc0"), ESHET_ETRAILING, "1 trailing byte after the "
     "fields of state_notify (0x45), from payload byte 5"},
    {LIT("\x05\x00\x01\x01\x02\x03"), ESHET_ETRAILING, "2 trailing bytes "
     "after the value of reply (0x05), from payload byte 5"},
    {LIT("\x05\x00\x01\xc1"), ESHET_EVALUE, "bad msgpack value in reply "
     "(0x05): invalid byte 0xc1 at payload byte 4"},
    {LIT("\x06\x00\x01\x92\x01"), ESHET_EVALUE, "bad msgpack value in reply "
     "(0x06): truncated, the payload ends inside it"},
    {LIT("\x33/e\x00\xdb\xff\xff\xff\xff"), ESHET_EVALUE, "bad msgpack "
     "value in event_notify (0x33): truncated, the payload ends inside it"},
  };
  int ok = 1;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    eshet_msg_t m;
    eshet_err_t err;
    int rc = parse(bad[i].payload, bad[i].n, &m, &err);
    ok &= rc == bad[i].code && err.code == rc;
    check_report(&err, bad[i].report);
  }
  CHECK(ok);

  // Nesting past msgpack's limit of 64 levels.
  char deep[80];
  memcpy(deep, "\x05\x00\x01", 3);
  memset(deep + 3, 0x91, 65);
  deep[68] = 0x01;
  eshet_msg_t m;
  eshet_err_t err;
  CHECK(parse(deep, 69, &m, &err) == ESHET_EVALUE);
  check_report(&err, "bad msgpack value in reply (0x05): nested deeper "
                     "than 64 levels at payload byte 68");
  CHECK(parse(deep + 1, 68 - 1, &m, &err) == ESHET_ETYPE);
  CHECK(parse(deep, 0, &m, &err) == ESHET_EEMPTY);
  CHECK(strcmp(eshet_err_name(ESHET_EVALUE), "bad_value") == 0);
}

static void test_encode_errors(void)
{
  eshet_msg_t m = {.type = 0x0c};
  eshet_err_t err;
  size_t size;
  CHECK(encode(&m, &size, &err) == NULL && err.code == ESHET_ETYPE);
  m = (eshet_msg_t){.type = 0x10, .id = 1, .path = "/a\0b", .path_len = 4};
  CHECK(encode(&m, &size, &err) == NULL && err.code == ESHET_ENUL);
  check_report(&err, "path of action_register (0x10) contains a NUL byte");
  m = (eshet_msg_t){.type = 0x11, .path = "/a", .path_len = 2};
  CHECK(encode(&m, &size, &err) == NULL && err.code == ESHET_ENOVALUE);
  check_report(&err, "missing value in action_call (0x11)");
  m = (eshet_msg_t){.type = 0x09, .value = "\x01", .value_len = 1,
                    .has_value = 1};
  CHECK(encode(&m, &size, &err) == NULL && err.code == ESHET_EEXTRA);
  check_report(&err, "ping (0x09) carries no value");
  m = (eshet_msg_t){.type = 0x05, .value = "\x92\x01", .value_len = 2,
                    .has_value = 1};
  CHECK(encode(&m, &size, &err) == NULL && err.code == ESHET_EVALUE);
  m.value = "\x01\x02";
  CHECK(encode(&m, &size, &err) == NULL && err.code == ESHET_ETRAILING);
  check_report(&err, "1 trailing byte after the value of reply (0x05), "
                     "from payload byte 5");

  // 65535 payload bytes fit; one more does not.
  char *path = malloc(65532);
  memset(path, 'a', 65532);
  m = (eshet_msg_t){.type = 0x10, .id = 1, .path = path, .path_len = 65531};
  char *frame = encode(&m, &size, &err);
  CHECK(frame != NULL && size == ESHET_FRAME_MAX);
  CHECK(memcmp(frame, "\x47\xff\xff\x10\x00\x01", 6) == 0 &&
        frame[size - 1] == 0);
  free(frame);
  m.path_len = 65532;
  CHECK(encode(&m, &size, &err) == NULL && err.code == ESHET_ETOOLONG);
  check_report(&err, "payload of action_register (0x10) would be 65536 "
                     "bytes, more than 65535");
  m = (eshet_msg_t){.type = 0x31, .path = "/e", .path_len = 2, .value = path,
                    .value_len = 65532, .has_value = 1};
  memcpy(path, "\xc5\xff\xf9", 3);  // bin 16 of 65529 bytes
  CHECK(encode(&m, &size, &err) == NULL && err.code == ESHET_ETOOLONG);
  free(path);
}

int main(void)
{
  test_every_type();
  test_names();
  test_splits();
  test_buffering();
  test_frame_errors();
  test_parse_errors();
  test_encode_errors();
  return check_summary();
}
