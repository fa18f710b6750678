// The frames of ESHET's binary protocol: a sync byte 0x47, the payload's
// length as a big-endian u16, then the payload (one message, read with
// eshet_msg_parse). A reader takes bytes in chunks of any size as they
// arrive and hands out whole payloads: pointing into the chunk when a
// frame lies inside it, copying only a frame that spans chunks.
//
// A frame that does not start with 0x47, or has an empty payload, breaks
// the stream (there is no resynchronisation point): the reader stays
// failed, and the connection is to be closed.
#ifndef HILT_ESHET_FRAME_H
#define HILT_ESHET_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "eshet_err.h"

#define ESHET_SYNC 0x47
#define ESHET_HEADER 3
#define ESHET_PAYLOAD_MAX 65535
#define ESHET_FRAME_MAX (ESHET_HEADER + ESHET_PAYLOAD_MAX)
#define ESHET_FRAME_MIN (ESHET_HEADER + 1)

typedef struct {
  char *buf;          // owned: the start of a frame that spans chunks
  size_t len;         // bytes of it held
  size_t cap;
  size_t max_frame;   // largest frame accepted, header included
  uint64_t offset;    // stream offset of the frame being read
  eshet_err_t err;    // err.code != ESHET_OK once failed
} eshet_frame_t;

/// Starts a reader that accepts frames of up to max_frame bytes, header
/// included: clamped to ESHET_FRAME_MIN..ESHET_FRAME_MAX, 0 for the
/// largest. Allocates nothing until a frame spans chunks.
void eshet_frame_init(eshet_frame_t *f, size_t max_frame);

/// Frees what the reader holds; it may be initialised again. Idempotent.
void eshet_frame_close(eshet_frame_t *f);

/// Takes the next frame from the bytes held and then from the chunk
/// *in[0..*n), advancing *in and *n past the bytes it uses. Returns
///   ESHET_OK: *payload and *size are the payload, valid until the next
///     call on f and while the chunk lives;
///   ESHET_EMORE: the chunk is used up (*n == 0), its tail is held;
///   ESHET_ESYNC, EEMPTY, ETOOBIG or ENOMEM: the stream is broken, f->err
///     says how, and every later call returns the same.
/// Call it until it returns anything but ESHET_OK.
int eshet_frame_next(eshet_frame_t *f, const char **in, size_t *n,
                     const char **payload, size_t *size);

/// Marks the stream broken by a message its caller could not parse:
/// later calls of eshet_frame_next return err->code. Frees the buffer.
void eshet_frame_fail(eshet_frame_t *f, const eshet_err_t *err);

/// Bytes held of a frame not yet complete; 0 once the stream is broken.
size_t eshet_frame_buffered(const eshet_frame_t *f);

#endif
