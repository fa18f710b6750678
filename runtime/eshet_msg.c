// ESHET messages: the table of types, parsing and encoding (see
// eshet_msg.h).
//
// The grammar of one payload; each type carries the fields of its row in
// `types`, always in this order:
//
//   payload := type:u8 [version:u8] [timeout:u16be] [id:u16be] [ms:u32be]
//              [path NUL] [value]
//   path    := byte*            any bytes but NUL; the hub checks syntax
//   value   := one msgpack value, ending where the payload ends
#include "eshet_msg.h"

#include <string.h>

#include "mpk_scan.h"

// Short names for the columns of the table of types.
#define V ESHET_F_VERSION
#define T ESHET_F_TIMEOUT
#define I ESHET_F_ID
#define M ESHET_F_MS
#define P ESHET_F_PATH
#define X ESHET_F_VALUE

// seed-semantics.md §1.1, in the order of the type bytes.
static const eshet_type_t types[] = {
  {0x01, "hello", V | T, ESHET_FLAG_NONE, 0},
  {0x02, "hello_id", V | T | X, ESHET_FLAG_NONE, 0},
  {0x03, "hello_server", 0, ESHET_FLAG_NONE, 0},
  {0x04, "hello_id_server", X, ESHET_FLAG_NONE, 0},
  {0x05, "reply", I | X, ESHET_FLAG_OK, 1},
  {0x06, "reply", I | X, ESHET_FLAG_OK, 0},
  {0x07, "reply_state", I | X, ESHET_FLAG_KNOWN, 1},
  {0x08, "reply_state", I, ESHET_FLAG_KNOWN, 0},
  {0x09, "ping", I, ESHET_FLAG_NONE, 0},
  {0x0a, "reply_state_t", I | M | X, ESHET_FLAG_KNOWN, 1},
  {0x0b, "reply_state_t", I | M, ESHET_FLAG_KNOWN, 0},
  {0x10, "action_register", I | P, ESHET_FLAG_NONE, 0},
  {0x11, "action_call", I | P | X, ESHET_FLAG_NONE, 0},
  {0x20, "prop_register", I | P, ESHET_FLAG_NONE, 0},
  {0x21, "prop_get", I | P, ESHET_FLAG_NONE, 0},
  {0x22, "prop_set", I | P | X, ESHET_FLAG_NONE, 0},
  {0x23, "get", I | P, ESHET_FLAG_NONE, 0},
  {0x24, "set", I | P | X, ESHET_FLAG_NONE, 0},
  {0x30, "event_register", I | P, ESHET_FLAG_NONE, 0},
  {0x31, "event_emit", I | P | X, ESHET_FLAG_NONE, 0},
  {0x32, "event_listen", I | P, ESHET_FLAG_NONE, 0},
  {0x33, "event_notify", P | X, ESHET_FLAG_NONE, 0},
  {0x40, "state_register", I | P, ESHET_FLAG_NONE, 0},
  {0x41, "state_changed", I | P | X, ESHET_FLAG_NONE, 0},
  {0x42, "state_unknown", I | P, ESHET_FLAG_NONE, 0},
  {0x43, "state_observe", I | P, ESHET_FLAG_NONE, 0},
  {0x44, "state_notify", P | X, ESHET_FLAG_KNOWN, 1},
  {0x45, "state_notify", P, ESHET_FLAG_KNOWN, 0},
  {0x46, "state_observe_t", I | P, ESHET_FLAG_NONE, 0},
  {0x47, "state_set", I | P | X, ESHET_FLAG_NONE, 0},
};

#define NTYPES (sizeof types / sizeof types[0])

const eshet_type_t *eshet_msg_type(int code)
{
  for (size_t i = 0; i < NTYPES; i++) {
    if (types[i].code == code) {
      return &types[i];
    }
  }
  return NULL;
}

const eshet_type_t *eshet_msg_find(const char *name, int flag_set)
{
  for (size_t i = 0; i < NTYPES; i++) {
    const eshet_type_t *t = &types[i];
    if (strcmp(t->name, name) == 0 &&
        (t->flag == ESHET_FLAG_NONE || t->flag_set == !!flag_set)) {
      return t;
    }
  }
  return NULL;
}

// Bytes of the fixed-width fields after the type byte.
static size_t fixed_size(unsigned fields)
{
  return (fields & V ? 1 : 0) + (fields & T ? 2 : 0) + (fields & I ? 2 : 0) +
         (fields & M ? 4 : 0);
}

static int msg_fail(eshet_err_t *err, int code, int type)
{
  eshet_err_set(err, code);
  err->type = type;
  return code;
}

// Checks that v[0..n) is one msgpack value and nothing more; the report's
// offsets count from `base`, where the value starts in the payload.
static int check_value(const char *v, size_t n, size_t base, int type,
                       eshet_err_t *err)
{
  mpk_scan_t s;
  mpk_scan_init(&s, MPK_DEPTH_MAX);
  int rc = mpk_scan_run(&s, (const unsigned char *)v, n);
  if (rc != MPK_OK) {
    msg_fail(err, ESHET_EVALUE, type);
    err->mpk = rc;
    err->at = base + (size_t)s.pos;
    err->byte = rc == MPK_EBADBYTE ? (unsigned char)v[s.pos] : 0;
    return ESHET_EVALUE;
  }
  if (s.pos < n) {
    msg_fail(err, ESHET_ETRAILING, type);
    err->at = base + (size_t)s.pos;
    err->size = base + n;
    return ESHET_ETRAILING;
  }
  return ESHET_OK;
}

static unsigned load16(const unsigned char *p)
{
  return (unsigned)p[0] << 8 | p[1];
}

// Reads the fixed-width fields at u[1..]; the caller checked their size.
static void read_fixed(const unsigned char *u, unsigned fields,
                       eshet_msg_t *m)
{
  size_t pos = 1;
  if (fields & V) {
    m->version = u[pos++];
  }
  if (fields & T) {
    m->timeout = (uint16_t)load16(u + pos);
    pos += 2;
  }
  if (fields & I) {
    m->id = (uint16_t)load16(u + pos);
    pos += 2;
  }
  if (fields & M) {
    m->ms = (uint32_t)load16(u + pos) << 16 | load16(u + pos + 2);
  }
}

int eshet_msg_parse(const char *p, size_t n, eshet_msg_t *m,
                    eshet_err_t *err)
{
  const unsigned char *u = (const unsigned char *)p;
  memset(m, 0, sizeof *m);
  if (n == 0) {
    return msg_fail(err, ESHET_EEMPTY, -1);
  }
  const eshet_type_t *t = eshet_msg_type(u[0]);
  if (t == NULL) {
    return msg_fail(err, ESHET_ETYPE, u[0]);
  }
  m->type = u[0];
  size_t pos = 1 + fixed_size(t->fields);
  if (n < pos) {
    msg_fail(err, ESHET_ESHORT, m->type);
    err->size = n;
    err->need = pos + (t->fields & P ? 1 : 0) + (t->fields & X ? 1 : 0);
    return ESHET_ESHORT;
  }
  read_fixed(u, t->fields, m);
  if (t->fields & P) {
    const char *nul = memchr(p + pos, 0, n - pos);
    if (nul == NULL) {
      return msg_fail(err, ESHET_EPATH, m->type);
    }
    m->path = p + pos;
    m->path_len = (size_t)(nul - m->path);
    pos += m->path_len + 1;
  }
  if (!(t->fields & X)) {
    if (pos == n) {
      return ESHET_OK;
    }
    msg_fail(err, ESHET_ETRAILING, m->type);
    err->at = pos;
    err->size = n;
    return ESHET_ETRAILING;
  }
  if (pos == n) {
    return msg_fail(err, ESHET_ENOVALUE, m->type);
  }
  int rc = check_value(p + pos, n - pos, pos, m->type, err);
  if (rc != ESHET_OK) {
    return rc;
  }
  m->value = p + pos;
  m->value_len = n - pos;
  m->has_value = 1;
  return ESHET_OK;
}

int eshet_msg_check(const eshet_msg_t *m, size_t *size, eshet_err_t *err)
{
  const eshet_type_t *t = eshet_msg_type(m->type);
  if (t == NULL) {
    return msg_fail(err, ESHET_ETYPE, m->type);
  }
  size_t n = 1 + fixed_size(t->fields);
  if (t->fields & P) {
    if (m->path_len > 0 && memchr(m->path, 0, m->path_len) != NULL) {
      return msg_fail(err, ESHET_ENUL, m->type);
    }
    n += m->path_len + 1;
  }
  if (t->fields & X) {
    if (!m->has_value || m->value_len == 0) {
      return msg_fail(err, ESHET_ENOVALUE, m->type);
    }
    int rc = check_value(m->value, m->value_len, n, m->type, err);
    if (rc != ESHET_OK) {
      return rc;
    }
    // Two lengths of bytes in memory: the sum cannot wrap.
    n += m->value_len;
  } else if (m->has_value) {
    return msg_fail(err, ESHET_EEXTRA, m->type);
  }
  if (n > ESHET_PAYLOAD_MAX) {
    msg_fail(err, ESHET_ETOOLONG, m->type);
    err->size = n;
    return ESHET_ETOOLONG;
  }
  *size = ESHET_HEADER + n;
  return ESHET_OK;
}

static void store16(unsigned char *p, unsigned v)
{
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
}

size_t eshet_msg_write(const eshet_msg_t *m, char *out)
{
  const eshet_type_t *t = eshet_msg_type(m->type);
  unsigned char *o = (unsigned char *)out;
  size_t pos = ESHET_HEADER;
  o[pos++] = m->type;
  if (t->fields & V) {
    o[pos++] = m->version;
  }
  if (t->fields & T) {
    store16(o + pos, m->timeout);
    pos += 2;
  }
  if (t->fields & I) {
    store16(o + pos, m->id);
    pos += 2;
  }
  if (t->fields & M) {
    store16(o + pos, m->ms >> 16);
    store16(o + pos + 2, m->ms & 0xffff);
    pos += 4;
  }
  if (t->fields & P) {
    if (m->path_len > 0) {
      memcpy(o + pos, m->path, m->path_len);
    }
    pos += m->path_len;
    o[pos++] = 0;
  }
  if (t->fields & X) {
    memcpy(o + pos, m->value, m->value_len);
    pos += m->value_len;
  }
  o[0] = ESHET_SYNC;
  store16(o + 1, (unsigned)(pos - ESHET_HEADER));
  return pos;
}
