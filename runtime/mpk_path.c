// Error paths into a value (see mpk_path.h).
#include "mpk_path.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define ROOT "value"
#define ROOT_CUT "value..."
#define KEY_SHOWN 32  // bytes of a non-identifier key shown in full

void mpk_path_init(mpk_path_t *p)
{
  p->start = MPK_PATH_SIZE - 1;
  p->buf[p->start] = '\0';
  p->truncated = 0;
}

// Steps never reach the front bytes, which stay free for the root name.
static void prepend(mpk_path_t *p, const char *step, size_t n)
{
  if (p->truncated || n > p->start - (sizeof ROOT_CUT - 1)) {
    p->truncated = 1;
    return;
  }
  p->start -= n;
  memcpy(p->buf + p->start, step, n);
}

void mpk_path_text(mpk_path_t *p, const char *text)
{
  prepend(p, text, strlen(text));
}

void mpk_path_index(mpk_path_t *p, int64_t i)
{
  char step[32];
  prepend(p, step, (size_t)snprintf(step, sizeof step, "[%" PRId64 "]", i));
}

void mpk_path_uindex(mpk_path_t *p, uint64_t u)
{
  char step[32];
  prepend(p, step, (size_t)snprintf(step, sizeof step, "[%" PRIu64 "]", u));
}

void mpk_path_number(mpk_path_t *p, double x)
{
  char step[40];
  prepend(p, step, (size_t)snprintf(step, sizeof step, "[%.14g]", x));
}

static int is_identifier(const char *s, size_t n)
{
  if (n == 0 || n > KEY_SHOWN || (s[0] >= '0' && s[0] <= '9')) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9'))) {
      return 0;
    }
  }
  return 1;
}

// Writes s as the body of a Lua string literal; returns the length.
static size_t escape(char *out, const char *s, size_t n)
{
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      out[k++] = '\\';
      out[k++] = (char)c;
    } else if (c < 0x20 || c > 0x7e) {
      k += (size_t)sprintf(out + k, "\\x%02x", c);
    } else {
      out[k++] = (char)c;
    }
  }
  return k;
}

void mpk_path_key(mpk_path_t *p, const char *s, size_t n)
{
  char step[KEY_SHOWN * 4 + 16];
  size_t k = 0;
  if (is_identifier(s, n)) {
    step[k++] = '.';
    memcpy(step + k, s, n);
    prepend(p, step, k + n);
    return;
  }
  k += (size_t)sprintf(step, "[\"");
  k += escape(step + k, s, n > KEY_SHOWN ? KEY_SHOWN : n);
  if (n > KEY_SHOWN) {
    k += (size_t)sprintf(step + k, "...");
  }
  k += (size_t)sprintf(step + k, "\"]");
  prepend(p, step, k);
}

const char *mpk_path_get(mpk_path_t *p)
{
  const char *root = p->truncated ? ROOT_CUT : ROOT;
  size_t n = strlen(root);
  memcpy(p->buf + p->start - n, root, n);
  return p->buf + p->start - n;
}
