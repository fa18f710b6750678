// A child's environment: the parent's with changes applied (see proc.h).
#include "proc.h"

#include <stdlib.h>
#include <string.h>

// The length of the name in "NAME=value" or "NAME".
static size_t name_len(const char *s)
{
  const char *eq = strchr(s, '=');
  return eq != NULL ? (size_t)(eq - s) : strlen(s);
}

// Applies one change to env[0..k): drops every entry of its name, then
// appends it if it sets a value. Returns the new count.
static size_t apply(char **env, size_t k, const char *change)
{
  size_t len = name_len(change);
  size_t j = 0;
  for (size_t i = 0; i < k; i++) {
    if (strncmp(env[i], change, len) != 0 || env[i][len] != '=') {
      env[j++] = env[i];
    }
  }
  if (change[len] == '=') {
    env[j++] = (char *)change;
  }
  return j;
}

char **proc_env_merge(char *const *base, const char *const *changes,
                      size_t n)
{
  size_t nb = 0;
  while (base != NULL && base[nb] != NULL) {
    nb++;
  }
  char **env = malloc((nb + n + 1) * sizeof *env);
  if (env == NULL) {
    return NULL;
  }
  if (nb > 0) {
    memcpy(env, base, nb * sizeof *env);
  }
  size_t k = nb;
  for (size_t i = 0; i < n; i++) {
    k = apply(env, k, changes[i]);
  }
  env[k] = NULL;
  return env;
}
