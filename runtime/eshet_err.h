// Status codes and error reports of ESHET's binary protocol (eshet_frame,
// eshet_msg). A report says what is wrong in the words of the protocol:
// the sync byte, the type byte, the field. Stream offsets are 0-based;
// eshet_err_format prints them 1-based, as mpk_err_format does.
#ifndef HILT_ESHET_ERR_H
#define HILT_ESHET_ERR_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  ESHET_OK = 0,
  ESHET_EMORE = -1,      // the frame is not complete: more bytes are needed
  ESHET_ESYNC = -2,      // a frame starts with a byte other than 0x47
  ESHET_EEMPTY = -3,     // a frame whose payload length is 0
  ESHET_ETOOBIG = -4,    // a frame larger than the reader's limit
  ESHET_ETYPE = -5,      // a type byte the protocol does not define
  ESHET_ESHORT = -6,     // the payload ends inside the fixed fields
  ESHET_EPATH = -7,      // no NUL after the path
  ESHET_ENOVALUE = -8,   // the type carries a value and there is none
  ESHET_ETRAILING = -9,  // bytes after the value, or after a type's fields
  ESHET_EVALUE = -10,    // the value is not one well-formed msgpack value
  ESHET_ETOOLONG = -11,  // encode: the payload would pass 65535 bytes
  ESHET_EEXTRA = -12,    // encode: a value given to a type that has none
  ESHET_ENUL = -13,      // encode: a NUL inside the path
  ESHET_ENOMEM = -14,
} eshet_status_t;

/// What went wrong and where. Frame errors (ESYNC, EEMPTY, ETOOBIG) set
/// `offset`, the stream offset of the frame; message errors set `type`,
/// the type byte (-1 for frame errors). `byte` is the offending byte
/// (ESYNC, EVALUE's malformed byte), `size` the payload or frame size,
/// `need` the least payload a type needs (ESHORT) or the size limit
/// (ETOOBIG), `at` a payload offset (ETRAILING, EVALUE), `mpk` the msgpack
/// scanner's status (EVALUE).
typedef struct {
  int code;
  int type;
  int byte;
  int mpk;
  size_t size;
  size_t need;
  size_t at;
  uint64_t offset;
} eshet_err_t;

/// Sets *e to code `code` with nothing else known (type -1).
void eshet_err_set(eshet_err_t *e, int code);

/// Writes a one-line description of `e` (no prefix, no trailing newline)
/// into out[0..n), always NUL-terminated. Returns out.
char *eshet_err_format(const eshet_err_t *e, char *out, size_t n);

/// The code's short name for scripts ("bad_sync", "unknown_type", ...);
/// a static string.
const char *eshet_err_name(int code);

#endif
