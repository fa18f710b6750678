// Status codes and error reports shared by the msgpack helpers (mpk_*).
// Offsets in reports are 0-based; mpk_err_format prints them 1-based, the
// way a Lua user counts bytes in a string.
#ifndef HILT_MPK_ERR_H
#define HILT_MPK_ERR_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  MPK_OK = 0,
  MPK_EMORE = -1,    // the value is not complete: more bytes are needed
  MPK_EBADBYTE = -2, // a byte that starts no msgpack value (0xc1)
  MPK_EDEPTH = -3,   // containers nested deeper than allowed
  MPK_ETOOBIG = -4,  // a value larger than the caller's size limit
  MPK_ENOMEM = -5,
} mpk_status_t;

/// What went wrong and where. `start` is the offset of the value that
/// failed, `at` the offending byte or header, `given` how many bytes from
/// `start` were available, `byte` the offending byte (EBADBYTE), `limit`
/// the depth or size limit (EDEPTH, ETOOBIG).
typedef struct {
  int code;
  uint64_t start;
  uint64_t at;
  uint64_t given;
  uint64_t limit;
  int byte;
} mpk_err_t;

/// Writes a one-line description of `e` (no prefix, no trailing newline)
/// into out[0..n), always NUL-terminated. Returns out.
char *mpk_err_format(const mpk_err_t *e, char *out, size_t n);

/// The code's short name for scripts: "truncated", "malformed",
/// "too_deep", "too_large", "no_memory"; a static string.
const char *mpk_err_name(int code);

#endif
