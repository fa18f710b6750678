// msgpack.unpacker: a streaming reader over mpk_stream. Bytes go in with
// feed() in chunks of any size; complete values come out of next() or the
// values() iterator as soon as their last byte has arrived.
//
// The stream owns the bytes of the last value and the userdata owns the
// stream, so an error raised mid-conversion leaks nothing: __gc frees it.
#include <lauxlib.h>

#include "l_msgpack.h"
#include "mpk_stream.h"

typedef struct {
  mpk_stream_t stream;
  mp_opts_t opts;
  int closed;
  // Converting a value to Lua runs the collector, whose finalizers might
  // call this unpacker while its value is still in use: such calls raise.
  // An error that escapes mid-conversion (out of memory) leaves it set,
  // and the unpacker unusable.
  int busy;
} unpacker_t;

static unpacker_t *check_unpacker(lua_State *L, int idx)
{
  unpacker_t *u = luaL_checkudata(L, idx, MP_MT_UNPACKER);
  if (u->closed) {
    luaL_argerror(L, idx, "unpacker is closed");
  }
  if (u->busy) {
    luaL_argerror(L, idx, "unpacker is busy (called from a finalizer while "
                          "it converts a value, or broken by an error "
                          "during one)");
  }
  return u;
}

// unpacker([opts]) -> Unpacker
int hilt__msgpack_unpacker_new(lua_State *L)
{
  mp_opts_t o;
  hilt__msgpack_opts(L, 1, MP_OPT_STREAM, &o);
  unpacker_t *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->opts = o;
  u->closed = 0;
  u->busy = 0;
  mpk_stream_init(&u->stream, o.max_depth, o.max_size);
  luaL_setmetatable(L, MP_MT_UNPACKER);
  return 1;
}

static int push_stream_error(lua_State *L, const mpk_err_t *err)
{
  char msg[320];
  lua_pushnil(L);
  lua_pushfstring(L, "msgpack.unpacker: %s",
                  mpk_err_format(err, msg, sizeof msg));
  lua_pushstring(L, mpk_err_name(err->code));
  return 3;
}

// u:feed(bytes). Raises when the unpacker has failed: reset it first.
static int l_unpacker_feed(lua_State *L)
{
  unpacker_t *u = check_unpacker(L, 1);
  size_t n;
  luaL_checktype(L, 2, LUA_TSTRING);
  const char *s = lua_tolstring(L, 2, &n);
  int rc = mpk_stream_feed(&u->stream, s, n);
  if (rc == MPK_ENOMEM) {
    return luaL_error(L, "msgpack.unpacker: out of memory");
  }
  if (rc != MPK_OK) {
    char msg[320];
    return luaL_error(L, "msgpack.unpacker: feed after a failure (%s); "
                         "call reset() first",
                      mpk_err_format(&u->stream.err, msg, sizeof msg));
  }
  return 0;
}

// Takes the next value: pushes true, value, next_pos (1 + bytes consumed),
// or false when more bytes are needed, or nil, message, code.
static int unpacker_take(lua_State *L, unpacker_t *u)
{
  const char *value;
  size_t size, pos = 0;
  int rc = mpk_stream_next(&u->stream, &value, &size);
  if (rc == MPK_EMORE) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (rc != MPK_OK) {
    mpk_err_t err = u->stream.err;
    err.code = rc;
    return push_stream_error(L, &err);
  }
  mp_decoder_t d = {.L = L};
  u->busy = 1;
  rc = hilt__msgpack_decode(&d, value, size, &pos, &u->opts);
  u->busy = 0;
  if (rc != MP_DECODE_OK) {
    char msg[320];
    hilt__msgpack_decode_message(&d, rc, msg, sizeof msg);
    lua_pushnil(L);
    lua_pushfstring(L, "msgpack.unpacker: %s", msg);
    lua_pushstring(L, hilt__msgpack_decode_code(&d, rc));
    return 3;
  }
  lua_pushboolean(L, 1);
  lua_rotate(L, -2, 1);
  lua_pushinteger(L, (lua_Integer)mpk_stream_offset(&u->stream) + 1);
  return 3;
}

// u:next() -> true, value, next_pos | false | nil, message, code
static int l_unpacker_next(lua_State *L)
{
  unpacker_t *u = check_unpacker(L, 1);
  lua_settop(L, 1);
  return unpacker_take(L, u);
}

// The iterator of values(): next_pos, value per complete value; ends
// when more bytes are needed; raises on bad input.
static int unpacker_iter(lua_State *L)
{
  unpacker_t *u = check_unpacker(L, 1);
  lua_settop(L, 1);
  int n = unpacker_take(L, u);
  if (n == 1) {
    return 0;
  }
  if (lua_isnil(L, 2)) {
    lua_settop(L, 3);
    return lua_error(L);
  }
  lua_rotate(L, 3, 1);
  return 2;
}

// for pos, value in u:values() do ... end
static int l_unpacker_values(lua_State *L)
{
  check_unpacker(L, 1);
  for (int i = 1; i <= MP_NUP; i++) {
    lua_pushvalue(L, lua_upvalueindex(i));
  }
  lua_pushcclosure(L, unpacker_iter, MP_NUP);
  lua_pushvalue(L, 1);
  return 2;
}

static int l_unpacker_buffered(lua_State *L)
{
  unpacker_t *u = check_unpacker(L, 1);
  lua_pushinteger(L, (lua_Integer)mpk_stream_buffered(&u->stream));
  return 1;
}

static int l_unpacker_reset(lua_State *L)
{
  mpk_stream_reset(&check_unpacker(L, 1)->stream);
  return 0;
}

static void unpacker_free(unpacker_t *u)
{
  if (!u->closed) {
    mpk_stream_close(&u->stream);
    u->closed = 1;
  }
}

// u:close(): frees the buffer; later calls raise. Idempotent.
static int l_unpacker_close(lua_State *L)
{
  unpacker_t *u = luaL_checkudata(L, 1, MP_MT_UNPACKER);
  if (!u->closed) {
    check_unpacker(L, 1);
  }
  unpacker_free(u);
  return 0;
}

// Nothing can be converting once the unpacker is garbage.
static int l_unpacker_gc(lua_State *L)
{
  unpacker_free(luaL_checkudata(L, 1, MP_MT_UNPACKER));
  return 0;
}

static int l_unpacker_tostring(lua_State *L)
{
  unpacker_t *u = luaL_checkudata(L, 1, MP_MT_UNPACKER);
  if (u->closed) {
    lua_pushliteral(L, "msgpack.unpacker (closed)");
  } else {
    lua_pushfstring(L, "msgpack.unpacker (%I bytes buffered)",
                    (lua_Integer)mpk_stream_buffered(&u->stream));
  }
  return 1;
}

void hilt__msgpack_unpacker_open(lua_State *L, int uv)
{
  static const luaL_Reg methods[] = {
    {"feed", l_unpacker_feed},
    {"next", l_unpacker_next},
    {"values", l_unpacker_values},
    {"buffered", l_unpacker_buffered},
    {"reset", l_unpacker_reset},
    {"close", l_unpacker_close},
    {NULL, NULL},
  };
  static const luaL_Reg meta[] = {
    {"__gc", l_unpacker_gc},
    {"__close", l_unpacker_close},
    {"__tostring", l_unpacker_tostring},
    {NULL, NULL},
  };
  luaL_newmetatable(L, MP_MT_UNPACKER);
  luaL_setfuncs(L, meta, 0);
  lua_createtable(L, 0, 6);
  hilt__msgpack_setfuncs(L, uv, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
