// hilt.Error objects (see errors.h).
#include "errors.h"

#include <lauxlib.h>
#include <stdarg.h>
#include <string.h>

#define ERROR_MT "hilt.Error"

// The message; an error that came over the wire also says its code and
// where it came from, since the message alone reads like a local one.
static int error_tostring(lua_State *L)
{
  lua_getfield(L, 1, "message");
  if (!lua_isstring(L, -1)) {
    lua_pushliteral(L, "error");
  }
  if (lua_getfield(L, 1, "remote") == LUA_TSTRING) {
    lua_getfield(L, 1, "code");
    lua_pushfstring(L, "%s (%s, from %s)", lua_tostring(L, -3),
                    luaL_optstring(L, -1, "failed"), lua_tostring(L, -2));
    return 1;
  }
  lua_pop(L, 1);
  return 1;
}

void hilt_error_push_metatable(lua_State *L)
{
  luaL_getmetatable(L, ERROR_MT);
}

void hilt__error_open(lua_State *L)
{
  if (luaL_newmetatable(L, ERROR_MT)) {
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
}

void hilt_error_push(lua_State *L, const char *code, const char *fmt, ...)
{
  va_list ap;
  lua_createtable(L, 0, 4);
  lua_pushstring(L, code);
  lua_setfield(L, -2, "code");
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_setfield(L, -2, "message");
  luaL_setmetatable(L, ERROR_MT);
}

int hilt_error_is(lua_State *L, int idx, const char *code)
{
  if (!lua_getmetatable(L, idx)) {
    return 0;
  }
  luaL_getmetatable(L, ERROR_MT);
  int is = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  if (!is || code == NULL) {
    return is;
  }
  lua_getfield(L, idx, "code");
  const char *c = lua_tostring(L, -1);
  is = c != NULL && strcmp(c, code) == 0;
  lua_pop(L, 1);
  return is;
}

void hilt_error_wrap(lua_State *L, const char *traceback)
{
  int top = lua_gettop(L);
  if (!hilt_error_is(L, top, NULL)) {
    lua_createtable(L, 0, 4);
    lua_pushliteral(L, "failed");
    lua_setfield(L, -2, "code");
    luaL_tolstring(L, top, NULL);
    lua_setfield(L, -2, "message");
    lua_pushvalue(L, top);
    lua_setfield(L, -2, "value");
    luaL_setmetatable(L, ERROR_MT);
    lua_replace(L, top);
  }
  if (traceback != NULL) {
    if (lua_getfield(L, top, "traceback") == LUA_TNIL) {
      lua_pushstring(L, traceback);
      lua_setfield(L, top, "traceback");
    }
    lua_pop(L, 1);
  }
}
