// hilt.eshet.core: ESHET's binary protocol v1 (runtime/eshet_frame.c,
// eshet_msg.c) for the bus hub and ESHET clients written in Lua. Values
// stay msgpack bytes: hilt.msgpack packs and unpacks them.
//
//   local d = eshet.decoder([max_buffer])   -- max_buffer: largest frame,
//                                           -- header included, 4..65538
//   local msgs, err, code = d:feed(bytes)   -- messages whole so far, in
//                                           -- order; on a broken stream
//                                           -- also a message and a code
//   local frame = eshet.encode(name, fields)
//
// A message is a table {type = name, code = type byte, ...} with the
// fields its type carries and no others. Two type bytes that differ in one
// yes/no share a name and carry it as `ok` or `known`; `value` is there
// exactly when the type byte carries one:
//
//   type             code        fields
//   hello            0x01        version, timeout
//   hello_id         0x02        version, timeout, value (the client id)
//   hello_server     0x03        -
//   hello_id_server  0x04        value (the client id)
//   reply            0x05/0x06   id, ok (true/false), value
//   reply_state      0x07/0x08   id, known (true/false), value if known
//   ping             0x09        id
//   reply_state_t    0x0a/0x0b   id, ms, known (true/false), value if known
//   action_register  0x10        id, path
//   action_call      0x11        id, path, value (the arguments' array)
//   prop_register    0x20        id, path
//   prop_get         0x21        id, path
//   prop_set         0x22        id, path, value
//   get              0x23        id, path
//   set              0x24        id, path, value
//   event_register   0x30        id, path
//   event_emit       0x31        id, path, value
//   event_listen     0x32        id, path
//   event_notify     0x33        path, value
//   state_register   0x40        id, path
//   state_changed    0x41        id, path, value
//   state_unknown    0x42        id, path
//   state_observe    0x43        id, path
//   state_notify     0x44/0x45   path, known (true/false), value if known
//   state_observe_t  0x46        id, path
//   state_set        0x47        id, path, value
//
// encode takes the same fields (so encode(m.type, m) sends a decoded m
// again) and ignores `type`, `code` and fields the type does not carry,
// except a `value` where none can go.
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "bind.h"
#include "eshet_frame.h"
#include "eshet_msg.h"

#define DECODER_MT "hilt.eshet.decoder"

typedef struct {
  eshet_frame_t frame;
  int closed;
} decoder_t;

static decoder_t *l_check_decoder(lua_State *L, int idx)
{
  decoder_t *d = luaL_checkudata(L, idx, DECODER_MT);
  if (d->closed) {
    luaL_argerror(L, idx, "decoder is closed");
  }
  return d;
}

// decoder([max_buffer]) -> decoder
static int l_eshet_decoder(lua_State *L)
{
  lua_Integer max = luaL_optinteger(L, 1, ESHET_FRAME_MAX);
  luaL_argcheck(L, max >= ESHET_FRAME_MIN, 1,
                "max_buffer must be at least 4 (a header and a type byte)");
  decoder_t *d = lua_newuserdatauv(L, sizeof *d, 0);
  eshet_frame_init(&d->frame, max > ESHET_FRAME_MAX ? ESHET_FRAME_MAX
                                                    : (size_t)max);
  d->closed = 0;
  luaL_setmetatable(L, DECODER_MT);
  return 1;
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void push_msg(lua_State *L, const eshet_msg_t *m)
{
  const eshet_type_t *t = eshet_msg_type(m->type);
  lua_createtable(L, 0, 6);
  lua_pushstring(L, t->name);
  lua_setfield(L, -2, "type");
  set_int(L, "code", m->type);
  if (t->fields & ESHET_F_VERSION) {
    set_int(L, "version", m->version);
  }
  if (t->fields & ESHET_F_TIMEOUT) {
    set_int(L, "timeout", m->timeout);
  }
  if (t->fields & ESHET_F_ID) {
    set_int(L, "id", m->id);
  }
  if (t->fields & ESHET_F_MS) {
    set_int(L, "ms", m->ms);
  }
  if (t->fields & ESHET_F_PATH) {
    lua_pushlstring(L, m->path, m->path_len);
    lua_setfield(L, -2, "path");
  }
  if (m->has_value) {
    lua_pushlstring(L, m->value, m->value_len);
    lua_setfield(L, -2, "value");
  }
  if (t->flag != ESHET_FLAG_NONE) {
    lua_pushboolean(L, t->flag_set);
    lua_setfield(L, -2, t->flag == ESHET_FLAG_OK ? "ok" : "known");
  }
}

// d:feed(bytes) -> messages [, message, code]. Once the stream is broken
// every feed returns no messages and the same message and code.
static int l_decoder_feed(lua_State *L)
{
  decoder_t *d = l_check_decoder(L, 1);
  size_t n;
  luaL_checktype(L, 2, LUA_TSTRING);
  const char *in = lua_tolstring(L, 2, &n);
  lua_settop(L, 2);
  lua_newtable(L);
  const char *payload;
  size_t size;
  int rc, count = 0;
  while ((rc = eshet_frame_next(&d->frame, &in, &n, &payload, &size)) ==
         ESHET_OK) {
    eshet_msg_t m;
    eshet_err_t err;
    if (eshet_msg_parse(payload, size, &m, &err) != ESHET_OK) {
      eshet_frame_fail(&d->frame, &err);
      rc = err.code;
      break;
    }
    push_msg(L, &m);
    lua_rawseti(L, 3, ++count);
  }
  if (rc == ESHET_EMORE) {
    return 1;
  }
  char msg[200];
  lua_pushfstring(L, "eshet: %s",
                  eshet_err_format(&d->frame.err, msg, sizeof msg));
  lua_pushstring(L, eshet_err_name(d->frame.err.code));
  return 3;
}

// d:buffered() -> bytes held of a frame not yet complete
static int l_decoder_buffered(lua_State *L)
{
  decoder_t *d = l_check_decoder(L, 1);
  lua_pushinteger(L, (lua_Integer)eshet_frame_buffered(&d->frame));
  return 1;
}

static void decoder_free(decoder_t *d)
{
  if (!d->closed) {
    eshet_frame_close(&d->frame);
    d->closed = 1;
  }
}

// d:close(): frees what the decoder holds; later calls raise. Idempotent.
static int l_decoder_close(lua_State *L)
{
  decoder_free(luaL_checkudata(L, 1, DECODER_MT));
  return 0;
}

static int l_decoder_tostring(lua_State *L)
{
  decoder_t *d = luaL_checkudata(L, 1, DECODER_MT);
  if (d->closed) {
    lua_pushliteral(L, "eshet.decoder (closed)");
  } else if (d->frame.err.code != ESHET_OK) {
    lua_pushfstring(L, "eshet.decoder (failed: %s)",
                    eshet_err_name(d->frame.err.code));
  } else {
    lua_pushfstring(L, "eshet.decoder (%I bytes buffered)",
                    (lua_Integer)eshet_frame_buffered(&d->frame));
  }
  return 1;
}

// Raises argument #2 of encode: a field of message type `name`.
static int field_error(lua_State *L, const char *name, const char *field,
                       const char *what)
{
  return luaL_argerror(L, 2, lua_pushfstring(L, "field '%s' of %s %s",
                                             field, name, what));
}

// fields[field] as an integer in 0..max; left on the stack.
static lua_Integer check_uint(lua_State *L, const char *name,
                              const char *field, lua_Integer max)
{
  int type = lua_getfield(L, 2, field);
  int isint;
  lua_Integer v = lua_tointegerx(L, -1, &isint);
  if (type == LUA_TNIL) {
    field_error(L, name, field, "is missing");
  }
  if (!isint || type != LUA_TNUMBER || v < 0 || v > max) {
    field_error(L, name, field,
                lua_pushfstring(L, "must be an integer in 0..%I",
                                (lua_Integer)max));
  }
  return v;
}

// The yes/no that picks one byte of a pair: `ok` or `known`.
static int check_flag(lua_State *L, const char *name,
                      const eshet_type_t *t)
{
  const char *field = t->flag == ESHET_FLAG_OK ? "ok" : "known";
  if (lua_getfield(L, 2, field) != LUA_TBOOLEAN) {
    field_error(L, name, field,
                lua_pushfstring(L, "must be true or false, got %s",
                                luaL_typename(L, -1)));
  }
  return lua_toboolean(L, -1);
}

// Reads the fields type t carries into *m; strings stay on the stack.
static void check_fields(lua_State *L, const char *name,
                         const eshet_type_t *t, eshet_msg_t *m)
{
  if (t->fields & ESHET_F_VERSION) {
    m->version = (uint8_t)check_uint(L, name, "version", 0xff);
  }
  if (t->fields & ESHET_F_TIMEOUT) {
    m->timeout = (uint16_t)check_uint(L, name, "timeout", 0xffff);
  }
  if (t->fields & ESHET_F_ID) {
    m->id = (uint16_t)check_uint(L, name, "id", 0xffff);
  }
  if (t->fields & ESHET_F_MS) {
    m->ms = (uint32_t)check_uint(L, name, "ms", 0xffffffff);
  }
  if (t->fields & ESHET_F_PATH) {
    if (lua_getfield(L, 2, "path") != LUA_TSTRING) {
      field_error(L, name, "path", "must be a string");
    }
    m->path = lua_tolstring(L, -1, &m->path_len);
    if (memchr(m->path, 0, m->path_len) != NULL) {
      field_error(L, name, "path", "contains a NUL byte");
    }
  }
  int type = lua_getfield(L, 2, "value");
  if (!(t->fields & ESHET_F_VALUE)) {
    if (type != LUA_TNIL) {
      char what[48];
      snprintf(what, sizeof what, "given, but type byte 0x%02x carries none",
               (unsigned)t->code);
      field_error(L, name, "value", what);
    }
    return;
  }
  if (type != LUA_TSTRING) {
    field_error(L, name, "value",
                type == LUA_TNIL ? "is missing"
                                 : "must be a string of msgpack bytes "
                                   "(msgpack.pack(v))");
  }
  m->value = lua_tolstring(L, -1, &m->value_len);
  m->has_value = 1;
}

// encode(name, fields) -> the frame's bytes
static int l_eshet_encode(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  const eshet_type_t *t = eshet_msg_find(name, 1);
  if (t == NULL) {
    return luaL_argerror(L, 1, lua_pushfstring(L, "unknown message type "
                                                  "'%s'", name));
  }
  if (t->flag != ESHET_FLAG_NONE) {
    t = eshet_msg_find(name, check_flag(L, name, t));
  }
  eshet_msg_t m = {.type = t->code};
  check_fields(L, name, t, &m);
  size_t size;
  eshet_err_t err;
  if (eshet_msg_check(&m, &size, &err) != ESHET_OK) {
    char msg[200];
    return luaL_argerror(L, 2, lua_pushstring(L, eshet_err_format(
                                                     &err, msg, sizeof msg)));
  }
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, size);
  eshet_msg_write(&m, out);
  luaL_pushresultsize(&b, size);
  return 1;
}

int luaopen_hilt_eshet_core(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"feed", l_decoder_feed},
    {"buffered", l_decoder_buffered},
    {"close", l_decoder_close},
    {NULL, NULL},
  };
  static const luaL_Reg meta[] = {
    {"__gc", l_decoder_close},
    {"__close", l_decoder_close},
    {"__tostring", l_decoder_tostring},
    {NULL, NULL},
  };
  static const luaL_Reg funcs[] = {
    {"decoder", l_eshet_decoder},
    {"encode", l_eshet_encode},
    {NULL, NULL},
  };
  luaL_newmetatable(L, DECODER_MT);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  lua_pushinteger(L, ESHET_PAYLOAD_MAX);
  lua_setfield(L, -2, "max_payload");
  return 1;
}
