// msgpack.unpack: one value from a byte string, like string.unpack.
//
// msgpack-c decodes into a zone; converting its objects to Lua allocates,
// and an allocation may raise. So the zone belongs to a userdata box,
// which frees it if the call never returns, and is reused from call to
// call: one zone chunk serves every value of typical size.
#include <lauxlib.h>

#include "l_msgpack.h"
#include "mpk_read.h"

#define DECODEBOX_MT "hilt.msgpack.DecodeBuffer"

typedef struct {
  msgpack_zone *zone;  // NULL until the first unpack
  int busy;            // an unpack is using zone
} decodebox_t;

static int decodebox_gc(lua_State *L)
{
  decodebox_t *box = luaL_checkudata(L, 1, DECODEBOX_MT);
  msgpack_zone_free(box->zone);
  box->zone = NULL;
  return 0;
}

void hilt__msgpack_decodebox_new(lua_State *L)
{
  decodebox_t *box = lua_newuserdatauv(L, sizeof *box, 0);
  box->zone = NULL;
  box->busy = 0;
  if (luaL_newmetatable(L, DECODEBOX_MT)) {
    lua_pushcfunction(L, decodebox_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
}

// Pushes the box this call decodes into. Converting runs the collector,
// whose finalizers may call unpack again, and an error may leave a box
// busy; either way a fresh box takes its place.
static decodebox_t *decodebox_take(lua_State *L)
{
  decodebox_t *box = lua_touserdata(L, lua_upvalueindex(MP_UV_DECODEBOX));
  if (box->busy) {
    hilt__msgpack_decodebox_new(L);
    lua_copy(L, -1, lua_upvalueindex(MP_UV_DECODEBOX));
    box = lua_touserdata(L, -1);
  } else {
    lua_pushvalue(L, lua_upvalueindex(MP_UV_DECODEBOX));
  }
  if (box->zone == NULL) {
    box->zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    if (box->zone == NULL) {
      luaL_error(L, "msgpack.unpack: out of memory");
    }
  }
  box->busy = 1;
  return box;
}

// The 0-based offset of the 1-based (or negative, from the end) pos.
static size_t check_pos(lua_State *L, int idx, size_t len)
{
  lua_Integer pos = luaL_optinteger(L, idx, 1);
  if (pos < 0 && (size_t)-pos <= len) {
    pos = (lua_Integer)len + pos + 1;
  }
  luaL_argcheck(L, pos >= 1 && (size_t)pos - 1 <= len, idx,
                "initial position out of string");
  return (size_t)pos - 1;
}

// unpack(bytes [, pos [, opts]]) -> value, next_pos
int hilt__msgpack_unpack(lua_State *L)
{
  size_t len;
  luaL_checktype(L, 1, LUA_TSTRING);
  const char *s = lua_tolstring(L, 1, &len);
  size_t off = check_pos(L, 2, len);
  mp_opts_t o;
  hilt__msgpack_opts(L, 3, MP_OPT_UNPACK, &o);
  lua_settop(L, 3);
  decodebox_t *box = decodebox_take(L);
  mpk_err_t err;
  msgpack_object obj;
  char msg[320];
  if (mpk_read_next(box->zone, &obj, s, len, &off, &err) != MPK_OK) {
    msgpack_zone_clear(box->zone);
    box->busy = 0;
    return luaL_error(L, "msgpack.unpack: %s",
                      mpk_err_format(&err, msg, sizeof msg));
  }
  mp_decoder_t d = {.L = L};
  int rc = hilt__msgpack_decode(&d, &obj, &o);
  msgpack_zone_clear(box->zone);
  box->busy = 0;
  if (rc != MP_DECODE_OK) {
    hilt__msgpack_decode_message(&d, rc, msg, sizeof msg);
    return luaL_error(L, "msgpack.unpack: %s", msg);
  }
  lua_pushinteger(L, (lua_Integer)off + 1);
  return 2;
}
