// Finds lua/hilt/ so the binary works from the build tree, an install
// prefix or anywhere it is copied along with its library, without LUA_PATH.
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "bind.h"

static int has_library(const char *dir)
{
  char probe[PATH_MAX];
  snprintf(probe, sizeof probe, "%s/hilt/init.lua", dir);
  return access(probe, R_OK) == 0;
}

// Candidates in order: $HILT_LUA_DIR, next to the binary (build tree:
// build/hilt -> lua/; install: bin/hilt -> share/hilt/lua), then the
// directories compiled in.
static int candidates(char out[][PATH_MAX], int max)
{
  int n = 0;
  const char *env = getenv("HILT_LUA_DIR");
  if (env != NULL && *env != '\0') {
    snprintf(out[n++], PATH_MAX, "%s", env);
  }
  char exe[PATH_MAX];
  size_t size = sizeof exe;
  if (uv_exepath(exe, &size) == 0) {
    char *slash = strrchr(exe, '/');
    if (slash != NULL) {
      *slash = '\0';
      snprintf(out[n++], PATH_MAX, "%s/../lua", exe);
      snprintf(out[n++], PATH_MAX, "%s/../share/hilt/lua", exe);
    }
  }
  snprintf(out[n++], PATH_MAX, "%s", HILT_SOURCE_LUA_DIR);
  snprintf(out[n++], PATH_MAX, "%s", HILT_INSTALL_LUA_DIR);
  return n < max ? n : max;
}

const char *hilt__libpath_setup(lua_State *L, const char **tried)
{
  static char dirs[5][PATH_MAX];
  static char list[5 * PATH_MAX];
  int n = candidates(dirs, 5);
  list[0] = '\0';
  for (int i = 0; i < n; i++) {
    char real[PATH_MAX];
    const char *dir = realpath(dirs[i], real) ? real : dirs[i];
    if (has_library(dir)) {
      lua_getglobal(L, "package");
      lua_getfield(L, -1, "path");
      lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir,
                      lua_tostring(L, -1));
      lua_setfield(L, -3, "path");
      lua_pop(L, 2);
      snprintf(dirs[i], PATH_MAX, "%s", dir);
      return dirs[i];
    }
    strncat(list, "\n  ", sizeof list - strlen(list) - 1);
    strncat(list, dirs[i], sizeof list - strlen(list) - 1);
  }
  *tried = list;
  return NULL;
}
