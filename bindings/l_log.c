// hilt.core.log(level, message [, source]) and the level controls.
#include <lauxlib.h>

#include "bind.h"
#include "log.h"

static hilt_log_level_t check_level(lua_State *L, int idx)
{
  const char *name = luaL_checkstring(L, idx);
  int level = hilt_log_parse(name);
  if (level < 0) {
    luaL_argerror(L, idx, lua_pushfstring(L, "unknown log level '%s' "
                  "(debug, info, warn, error, off)", name));
  }
  return (hilt_log_level_t)level;
}

static int l_log(lua_State *L)
{
  hilt_log_level_t level = check_level(L, 1);
  const char *msg = luaL_checkstring(L, 2);
  const char *source = luaL_optstring(L, 3, NULL);
  luaL_argcheck(L, level < HILT_LOG_OFF, 1, "cannot log at level 'off'");
  hilt_log_write(level, source, msg);
  return 0;
}

static int l_log_enabled(lua_State *L)
{
  lua_pushboolean(L, hilt_log_enabled(check_level(L, 1)));
  return 1;
}

static int l_log_level(lua_State *L)
{
  lua_pushstring(L, hilt_log_name(hilt_log_get_level()));
  if (!lua_isnoneornil(L, 1)) {
    hilt_log_set_level(check_level(L, 1));
  }
  return 1;
}

static const luaL_Reg log_funcs[] = {
  {"log", l_log},
  {"log_enabled", l_log_enabled},
  {"log_level", l_log_level},
  {NULL, NULL},
};

void hilt__log_lib(lua_State *L)
{
  luaL_setfuncs(L, log_funcs, 0);
}
