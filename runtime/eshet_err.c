// Error reports of the ESHET codec (see eshet_err.h).
#include "eshet_err.h"

#include <stdio.h>

#include "eshet_msg.h"
#include "mpk_scan.h"

void eshet_err_set(eshet_err_t *e, int code)
{
  *e = (eshet_err_t){.code = code, .type = -1};
}

const char *eshet_err_name(int code)
{
  switch (code) {
  case ESHET_EMORE: return "truncated";
  case ESHET_ESYNC: return "bad_sync";
  case ESHET_EEMPTY: return "empty_frame";
  case ESHET_ETOOBIG: return "too_large";
  case ESHET_ETYPE: return "unknown_type";
  case ESHET_ESHORT: return "too_short";
  case ESHET_EPATH: return "bad_path";
  case ESHET_ENOVALUE: return "missing_value";
  case ESHET_ETRAILING: return "trailing_bytes";
  case ESHET_EVALUE: return "bad_value";
  case ESHET_ETOOLONG: return "too_long";
  case ESHET_EEXTRA: return "unexpected_value";
  case ESHET_ENUL: return "path_has_nul";
  case ESHET_ENOMEM: return "no_memory";
  default: return "ok";
  }
}

// "action_call (0x11)", the way reports name a message's type.
static const char *type_name(const eshet_err_t *e, char *out, size_t n)
{
  const eshet_type_t *t = eshet_msg_type(e->type);
  if (t == NULL) {
    snprintf(out, n, "message");
  } else {
    snprintf(out, n, "%s (0x%02x)", t->name, (unsigned)t->code);
  }
  return out;
}

static void format_value(const eshet_err_t *e, const char *type, char *out,
                         size_t n)
{
  unsigned long long at = (unsigned long long)e->at + 1;
  switch (e->mpk) {
  case MPK_EBADBYTE:
    snprintf(out, n, "bad msgpack value in %s: invalid byte 0x%02x at "
                     "payload byte %llu", type, (unsigned)e->byte & 0xff, at);
    break;
  case MPK_EDEPTH:
    snprintf(out, n, "bad msgpack value in %s: nested deeper than %d levels "
                     "at payload byte %llu", type, MPK_DEPTH_MAX, at);
    break;
  default:
    snprintf(out, n, "bad msgpack value in %s: truncated, the payload ends "
                     "inside it", type);
  }
}

static void format_trailing(const eshet_err_t *e, const char *type,
                            char *out, size_t n)
{
  const eshet_type_t *t = eshet_msg_type(e->type);
  size_t extra = e->size - e->at;
  snprintf(out, n, "%zu trailing byte%s after the %s of %s, from payload "
                   "byte %llu", extra, extra == 1 ? "" : "s",
           t != NULL && (t->fields & ESHET_F_VALUE) ? "value" : "fields",
           type, (unsigned long long)e->at + 1);
}

char *eshet_err_format(const eshet_err_t *e, char *out, size_t n)
{
  char type[48];
  unsigned long long offset = (unsigned long long)e->offset + 1;
  type_name(e, type, sizeof type);
  switch (e->code) {
  case ESHET_ESYNC:
    snprintf(out, n, "bad sync byte 0x%02x at byte %llu of the stream (a "
                     "frame starts with 0x47)", (unsigned)e->byte & 0xff,
             offset);
    break;
  case ESHET_EEMPTY:
    snprintf(out, n, "empty frame at byte %llu of the stream (a payload "
                     "holds at least its type byte)", offset);
    break;
  case ESHET_ETOOBIG:
    snprintf(out, n, "frame at byte %llu of the stream is %zu bytes, more "
                     "than the limit of %zu", offset, e->size, e->need);
    break;
  case ESHET_ETYPE:
    snprintf(out, n, "unknown type byte 0x%02x", (unsigned)e->type & 0xff);
    break;
  case ESHET_ESHORT:
    snprintf(out, n, "payload too short for type %s: %zu byte%s, needs at "
                     "least %zu", type, e->size, e->size == 1 ? "" : "s",
             e->need);
    break;
  case ESHET_EPATH:
    snprintf(out, n, "path not NUL-terminated in %s", type);
    break;
  case ESHET_ENOVALUE:
    snprintf(out, n, "missing value in %s", type);
    break;
  case ESHET_ETRAILING:
    format_trailing(e, type, out, n);
    break;
  case ESHET_EVALUE:
    format_value(e, type, out, n);
    break;
  case ESHET_ETOOLONG:
    snprintf(out, n, "payload of %s would be %zu bytes, more than 65535",
             type, e->size);
    break;
  case ESHET_EEXTRA:
    snprintf(out, n, "%s carries no value", type);
    break;
  case ESHET_ENUL:
    snprintf(out, n, "path of %s contains a NUL byte", type);
    break;
  case ESHET_ENOMEM:
    snprintf(out, n, "out of memory");
    break;
  default:
    snprintf(out, n, "no error");
  }
  return out;
}
