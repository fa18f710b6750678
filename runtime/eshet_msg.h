// The messages of ESHET's binary protocol, version 1 (reference:
// ../shared/reference/seed-semantics.md §1.1): parsing one frame's payload
// and encoding one message as a whole frame. Values stay msgpack bytes:
// parsing checks that a value is exactly one well-formed msgpack value and
// points at it; encoding copies bytes packed by the caller.
//
// Both directions parse and encode alike, so a server, a client and the
// tests share one table of types.
#ifndef HILT_ESHET_MSG_H
#define HILT_ESHET_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "eshet_err.h"
#include "eshet_frame.h"

/// The fields a type carries after its type byte, in this order on the
/// wire: u8 version, u16 timeout, u16 id, u32 ms, NUL-terminated path,
/// then one msgpack value to the end of the payload.
enum {
  ESHET_F_VERSION = 1 << 0,
  ESHET_F_TIMEOUT = 1 << 1,
  ESHET_F_ID = 1 << 2,
  ESHET_F_MS = 1 << 3,
  ESHET_F_PATH = 1 << 4,
  ESHET_F_VALUE = 1 << 5,
};

/// Pairs of type bytes that differ only in one yes/no: a reply that is ok
/// or an error, a state that is known or unknown. Both share a name.
enum { ESHET_FLAG_NONE, ESHET_FLAG_OK, ESHET_FLAG_KNOWN };

typedef struct {
  uint8_t code;      // the type byte
  const char *name;  // "action_call"; shared by the two bytes of a pair
  unsigned fields;   // ESHET_F_*
  int flag;          // ESHET_FLAG_*
  int flag_set;      // the flag's value for this byte (ok, known)
} eshet_type_t;

typedef struct {
  uint8_t type;        // the type byte
  uint8_t version;     // hello, hello_id
  uint16_t timeout;    // hello, hello_id: seconds, 0 for none
  uint16_t id;         // requests and replies
  uint32_t ms;         // reply_state_t: ms since the state last changed
  const char *path;    // path's bytes, without the NUL
  size_t path_len;
  const char *value;   // the msgpack value's bytes
  size_t value_len;
  int has_value;
} eshet_msg_t;

/// The type of type byte `code`, or NULL for a byte the protocol does not
/// define. The entry is static.
const eshet_type_t *eshet_msg_type(int code);

/// The type named `name` whose flag is `flag_set` (ignored for types
/// without a flag), or NULL. The entry is static.
const eshet_type_t *eshet_msg_find(const char *name, int flag_set);

/// Parses one frame's payload p[0..n) into *m, whose path and value point
/// into p. Returns ESHET_OK, or ETYPE, ESHORT, EPATH, ENOVALUE, ETRAILING
/// or EVALUE with *err filled (err->type set once the type byte is read).
int eshet_msg_parse(const char *p, size_t n, eshet_msg_t *m,
                    eshet_err_t *err);

/// Checks that *m can be sent: a known type, a path without NUL, a value
/// exactly when the type carries one and then one well-formed msgpack
/// value, a payload of at most 65535 bytes. Fields the type does not carry
/// are ignored. Returns ESHET_OK and the frame's size in *size, or ETYPE,
/// ENUL, ENOVALUE, EEXTRA, EVALUE, ETRAILING or ETOOLONG with *err
/// filled.
int eshet_msg_check(const eshet_msg_t *m, size_t *size, eshet_err_t *err);

/// Writes the frame of *m, which eshet_msg_check accepted, into out: the
/// size bytes that it returned. Returns that size.
size_t eshet_msg_write(const eshet_msg_t *m, char *out);

#endif
