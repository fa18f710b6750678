// hilt.http: the request parser of an HTTP/1.x server (docs/json-http.md),
// over runtime/http_req.c. p:feed(bytes) returns the requests the bytes
// complete as Lua tables; responses are written in Lua.
//
// The parser's memory belongs to its userdata. A request is turned into a
// table while it is still queued in the parser, and taken off and freed
// only once the table is made, so an error raised meanwhile leaks nothing.
#include <lauxlib.h>
#include <string.h>

#include "bind.h"
#include "http_req.h"

#define PARSER_MT "hilt.http.Parser"
#define HEAD_DEFAULT (16 * 1024)
#define BODY_DEFAULT (1024 * 1024)

typedef struct {
  http_req_parser_t p;
  int closed;
  // Making tables runs the collector, whose finalizers might call this
  // parser while its requests are being read: such calls raise. An error
  // that escapes meanwhile (out of memory) leaves it set for good.
  int busy;
} lparser_t;

static lparser_t *check_parser(lua_State *L, int idx)
{
  lparser_t *lp = luaL_checkudata(L, idx, PARSER_MT);
  if (lp->closed) {
    luaL_argerror(L, idx, "parser is closed");
  }
  if (lp->busy) {
    luaL_argerror(L, idx, "parser is busy (called from a finalizer while it "
                          "returns requests, or broken by an error during "
                          "that)");
  }
  return lp;
}

// Reads the size option `name` of the table at idx, between 1 and max.
static size_t size_opt(lua_State *L, int idx, const char *name,
                       lua_Integer dflt, lua_Integer max)
{
  int ok = 1;
  lua_Integer v = dflt;
  if (lua_getfield(L, idx, name) != LUA_TNIL) {
    v = lua_tointegerx(L, -1, &ok);
  }
  if (!ok || v < 1 || v > max) {
    luaL_argerror(L, idx,
                  lua_pushfstring(L, "option '%s' must be an integer in "
                                     "1..%I",
                                  name, max));
  }
  lua_pop(L, 1);
  return (size_t)v;
}

static void check_opts(lua_State *L, int idx)
{
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    if (strcmp(k, "max_header_bytes") != 0 && strcmp(k, "max_body") != 0) {
      luaL_argerror(L, idx,
                    lua_pushfstring(L, "unknown option '%s'",
                                    luaL_tolstring(L, -2, NULL)));
    }
  }
}

// parser([opts]) -> Parser. Options: max_header_bytes (request line and
// headers, default 16 KiB, at most 80 KiB), max_body (default 1 MiB).
static int l_parser(lua_State *L)
{
  size_t head = HEAD_DEFAULT, body = BODY_DEFAULT;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    check_opts(L, 1);
    head = size_opt(L, 1, "max_header_bytes", HEAD_DEFAULT, HTTP_REQ_HEAD_MAX);
    body = size_opt(L, 1, "max_body", BODY_DEFAULT, LUA_MAXINTEGER);
  }
  lparser_t *lp = lua_newuserdatauv(L, sizeof *lp, 0);
  http_req_parser_init(&lp->p, head, body);
  lp->closed = 0;
  lp->busy = 0;
  luaL_setmetatable(L, PARSER_MT);
  return 1;
}

// --- requests as tables ----------------------------------------------------

// Sets headers[name] = value in the table at the top, joining a repeated
// name's values with ", " in arrival order.
static void push_headers(lua_State *L, const http_req_t *r)
{
  lua_createtable(L, 0, (int)r->n_headers);
  for (size_t i = 0; i < r->n_headers; i++) {
    const http_req_header_t *h = &r->headers[i];
    lua_pushlstring(L, r->head + h->name, h->name_len);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TSTRING) {
      lua_pushliteral(L, ", ");
      lua_pushlstring(L, r->head + h->value, h->value_len);
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushlstring(L, r->head + h->value, h->value_len);
    }
    lua_rawset(L, -3);
  }
}

static void set_string(lua_State *L, const char *name, const char *s,
                       size_t n)
{
  lua_pushlstring(L, s != NULL ? s : "", n);
  lua_setfield(L, -2, name);
}

static void set_boolean(lua_State *L, const char *name, int b)
{
  lua_pushboolean(L, b);
  lua_setfield(L, -2, name);
}

static void push_request(lua_State *L, const http_req_t *r)
{
  lua_createtable(L, 0, 10);
  lua_pushstring(L, r->method);
  lua_setfield(L, -2, "method");
  set_string(L, "url", r->head, r->url_len);
  set_string(L, "path", r->head + r->path, r->path_len);
  if (r->has_query) {
    set_string(L, "query", r->head + r->query, r->query_len);
  }
  lua_pushfstring(L, "%d.%d", r->version_major, r->version_minor);
  lua_setfield(L, -2, "version");
  push_headers(L, r);
  lua_setfield(L, -2, "headers");
  set_string(L, "body", r->body, r->body_len);
  set_boolean(L, "keep_alive", r->keep_alive);
  set_boolean(L, "upgrade", r->upgrade);
}

// Returns the complete requests as a list, then, after a failure, its
// message and suggested status: reqs | reqs, message, status.
static int push_result(lua_State *L, lparser_t *lp, int rc)
{
  lp->busy = 1;
  lua_newtable(L);
  for (int i = 1; lp->p.first != NULL; i++) {
    push_request(L, lp->p.first);
    lua_rawseti(L, -2, i);
    http_req_free(http_req_parser_take(&lp->p));
  }
  lp->busy = 0;
  if (rc == 0) {
    return 1;
  }
  lua_pushstring(L, lp->p.why);
  lua_pushinteger(L, lp->p.status);
  return 3;
}

// --- methods ------------------------------------------------------------------

// p:feed(bytes) -> reqs [, message, status]
static int l_parser_feed(lua_State *L)
{
  lparser_t *lp = check_parser(L, 1);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  return push_result(L, lp, http_req_parser_feed(&lp->p, s, n));
}

// p:eof() -> reqs [, message, status]: the peer has closed.
static int l_parser_eof(lua_State *L)
{
  lparser_t *lp = check_parser(L, 1);
  return push_result(L, lp, http_req_parser_eof(&lp->p));
}

// p:close(): frees the parser; later calls raise. Idempotent.
static int l_parser_close(lua_State *L)
{
  lparser_t *lp = luaL_checkudata(L, 1, PARSER_MT);
  if (!lp->closed) {
    check_parser(L, 1);
    lp->closed = 1;
    http_req_parser_close(&lp->p);
  }
  return 0;
}

// Nothing can be reading requests once the parser is garbage.
static int l_parser_gc(lua_State *L)
{
  lparser_t *lp = luaL_checkudata(L, 1, PARSER_MT);
  if (!lp->closed) {
    lp->closed = 1;
    http_req_parser_close(&lp->p);
  }
  return 0;
}

static int l_parser_tostring(lua_State *L)
{
  static const char *const phases[] = {"idle", "reading headers",
                                       "reading a body", "done", "failed"};
  lparser_t *lp = luaL_checkudata(L, 1, PARSER_MT);
  lua_pushfstring(L, "http.parser (%s)",
                  lp->closed ? "closed" : phases[lp->p.phase]);
  return 1;
}

// status_text(code) -> "Not Found" | nil
static int l_status_text(lua_State *L)
{
  lua_Integer code = luaL_checkinteger(L, 1);
  const char *s = code >= 100 && code <= 999
                      ? http_status_str((enum http_status)code)
                      : "<unknown>";
  if (strcmp(s, "<unknown>") == 0) {
    lua_pushnil(L);
  } else {
    lua_pushstring(L, s);
  }
  return 1;
}

int luaopen_hilt_http(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"feed", l_parser_feed},
    {"eof", l_parser_eof},
    {"close", l_parser_close},
    {NULL, NULL},
  };
  static const luaL_Reg meta[] = {
    {"__gc", l_parser_gc},
    {"__close", l_parser_close},
    {"__tostring", l_parser_tostring},
    {NULL, NULL},
  };
  static const luaL_Reg funcs[] = {
    {"parser", l_parser},
    {"status_text", l_status_text},
    {NULL, NULL},
  };
  luaL_newmetatable(L, PARSER_MT);
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
