// Paths into a value for error messages: "value.params[2].cb". Errors are
// found deep inside a value and reported after the recursion unwinds, so
// each level prepends its own step on the way out. Fixed size, no
// allocation; an over-long path keeps its innermost steps ("value...[7]").
#ifndef HILT_MPK_PATH_H
#define HILT_MPK_PATH_H

#include <stddef.h>
#include <stdint.h>

#define MPK_PATH_SIZE 256

typedef struct {
  char buf[MPK_PATH_SIZE];
  size_t start;  // the steps are buf[start..], NUL-terminated
  int truncated;
} mpk_path_t;

/// Starts an empty path (which reads "value").
void mpk_path_init(mpk_path_t *p);

/// Prepends "[i]".
void mpk_path_index(mpk_path_t *p, int64_t i);

/// Prepends "[u]" for an unsigned 64-bit key.
void mpk_path_uindex(mpk_path_t *p, uint64_t u);

/// Prepends "[x]" for a float key, formatted like Lua's %.14g.
void mpk_path_number(mpk_path_t *p, double x);

/// Prepends ".name" when s[0..n) is an identifier, else ["s"] with quotes,
/// backslashes and unprintable bytes escaped, cut to a readable length.
void mpk_path_key(mpk_path_t *p, const char *s, size_t n);

/// Prepends `text` as is, e.g. "[true]".
void mpk_path_text(mpk_path_t *p, const char *text);

/// The whole path, "value" first. Valid until the next call on p.
const char *mpk_path_get(mpk_path_t *p);

#endif
