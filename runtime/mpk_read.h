// Decoding one msgpack value from a complete byte string with msgpack-c,
// with failures turned into mpk_err_t reports.
#ifndef HILT_MPK_READ_H
#define HILT_MPK_READ_H

#include <msgpack.h>

#include "mpk_err.h"

/// Decodes the value starting at data[*off] into *obj, taking memory from
/// `zone`: the caller keeps the zone (reusing one zone across calls saves a
/// malloc per value) and clears it once done with obj. Strings in obj point
/// into data. On MPK_OK *off is advanced past the value; bytes after it are
/// left alone. Otherwise *off is unchanged, *err says why (EMORE, EBADBYTE,
/// EDEPTH at msgpack-c's ceiling of 32, ENOMEM) and its code is returned.
///
/// msgpack-c allocates room for a container's elements as soon as it reads
/// the count, so a short hostile input that claims billions of elements
/// makes it ask malloc for that much; the request fails (or is released
/// unused) and the input reads as truncated, but sanitizers may report it.
/// Untrusted streams belong in mpk_stream, which frames values first.
int mpk_read_next(msgpack_zone *zone, msgpack_object *obj, const char *data,
                  size_t len, size_t *off, mpk_err_t *err);

#endif
