// Streams let go of with bytes still queued (stream:close(), __gc) linger
// until those bytes have been sent, or sending them failed, then close:
// closing a stream never drops what was written to it. The Lua object is
// gone by then, so lingering streams are kept in a list of their own.
//
// When hilt exits, lua_close runs the finalizers of the remaining objects
// in the reverse order of their making: the sentinel made when hilt.net
// is opened runs after every stream's, and closes what still lingers, so
// that the loop's last run frees it (handles closed behind net_stream's
// back would never be).
#include <lauxlib.h>
#include <stdlib.h>

#include "l_net.h"

typedef struct linger_s {
  net_stream_t *s;
  struct linger_s *prev, *next;
} linger_t;

static linger_t *lingering;

static void linger_done(net_stream_t *s, linger_t *g)
{
  if (g->prev != NULL) {
    g->prev->next = g->next;
  } else {
    lingering = g->next;
  }
  if (g->next != NULL) {
    g->next->prev = g->prev;
  }
  free(g);
  net_stream_set_cb(s, NULL, NULL);
  net_stream_close(s);
}

static void linger_connect(net_stream_t *s, int status, const char *err,
                           void *data)
{
  if (status != 0) {
    linger_done(s, data);
  }
}

static void linger_end(net_stream_t *s, int status, void *data)
{
  if (status != 0) {
    linger_done(s, data);
  }
}

static void linger_drain(net_stream_t *s, void *data)
{
  linger_done(s, data);
}

static const net_stream_cb_t linger_cb = {linger_connect, NULL, linger_end,
                                          linger_drain, NULL};

void hilt__net_linger(net_stream_t *s)
{
  linger_t *g = malloc(sizeof *g);
  if (g == NULL) {
    net_stream_set_cb(s, NULL, NULL);
    net_stream_close(s);
    return;
  }
  g->s = s;
  g->prev = NULL;
  g->next = lingering;
  if (lingering != NULL) {
    lingering->prev = g;
  }
  lingering = g;
  net_stream_read_stop(s);
  net_stream_set_cb(s, &linger_cb, g);
}

static int l_sentinel_gc(lua_State *L)
{
  while (lingering != NULL) {
    linger_done(lingering->s, lingering);
  }
  return 0;
}

void hilt__net_linger_open(lua_State *L)
{
  if (lua_getfield(L, LUA_REGISTRYINDEX, "hilt.net.linger") != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  lua_newuserdatauv(L, 1, 0);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_sentinel_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, "hilt.net.linger");
}
