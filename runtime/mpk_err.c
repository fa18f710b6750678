// Error reports of the msgpack helpers (see mpk_err.h).
#include "mpk_err.h"

#include <stdio.h>

const char *mpk_err_name(int code)
{
  switch (code) {
  case MPK_EMORE:
    return "truncated";
  case MPK_EBADBYTE:
    return "malformed";
  case MPK_EDEPTH:
    return "too_deep";
  case MPK_ETOOBIG:
    return "too_large";
  case MPK_ENOMEM:
    return "no_memory";
  default:
    return "ok";
  }
}

char *mpk_err_format(const mpk_err_t *e, char *out, size_t n)
{
  unsigned long long start = e->start + 1, at = e->at + 1;
  switch (e->code) {
  case MPK_EMORE:
    snprintf(out, n,
             "truncated input: value starting at byte %llu needs more than "
             "the %llu bytes given",
             start, (unsigned long long)e->given);
    break;
  case MPK_EBADBYTE:
    snprintf(out, n, "malformed input: invalid byte 0x%02x at byte %llu",
             e->byte & 0xff, at);
    break;
  case MPK_EDEPTH:
    snprintf(out, n, "nesting deeper than %llu level%s at byte %llu",
             (unsigned long long)e->limit, e->limit == 1 ? "" : "s", at);
    break;
  case MPK_ETOOBIG:
    snprintf(out, n,
             "value starting at byte %llu is larger than the limit of %llu "
             "bytes",
             start, (unsigned long long)e->limit);
    break;
  case MPK_ENOMEM:
    snprintf(out, n, "out of memory");
    break;
  default:
    snprintf(out, n, "no error");
  }
  return out;
}
