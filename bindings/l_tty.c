// The terminal in hilt.core: tty_raw(fd) puts a terminal in raw mode for
// `hilt console` and tty_restore() puts it back. The mode saved first is
// restored whatever ends the program: tty_restore, the Lua state closing,
// or exit() (an atexit handler), so a terminal is never left raw.
#include <lauxlib.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "bind.h"
#include "errors.h"

static struct termios saved;
static int saved_fd = -1;  // a duplicate of the terminal, while raw
static int atexit_set;

static void restore(void)
{
  if (saved_fd >= 0) {
    tcsetattr(saved_fd, TCSAFLUSH, &saved);
    close(saved_fd);
    saved_fd = -1;
  }
}

// tty_raw([fd]) -> true: raw input and output on the terminal at fd
// (default 0): bytes pass as typed, with no echo, no line editing and no
// signals from Ctrl-C. Raises `failed` when fd is not a terminal.
static int l_tty_raw(lua_State *L)
{
  int fd = (int)luaL_optinteger(L, 1, 0);
  if (saved_fd >= 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  struct termios t;
  if (!isatty(fd) || tcgetattr(fd, &t) != 0) {
    hilt_error_push(L, "failed", "fd %d is not a terminal", fd);
    return lua_error(L);
  }
  int dup_fd = dup(fd);
  if (dup_fd < 0) {
    hilt_error_push(L, "failed", "cannot keep the terminal: %s",
                    strerror(errno));
    return lua_error(L);
  }
  saved = t;
  saved_fd = dup_fd;
  if (!atexit_set) {
    atexit(restore);
    atexit_set = 1;
  }
  cfmakeraw(&t);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  tcsetattr(fd, TCSAFLUSH, &t);
  lua_pushboolean(L, 1);
  return 1;
}

// tty_restore(): the terminal as it was before tty_raw. Idempotent.
static int l_tty_restore(lua_State *L)
{
  restore();
  return 0;
}

// The Lua state closing (an error that ends the program) restores too.
static int l_tty_gc(lua_State *L)
{
  restore();
  return 0;
}

void hilt__tty_lib(lua_State *L)
{
  lua_pushcfunction(L, l_tty_raw);
  lua_setfield(L, -2, "tty_raw");
  lua_pushcfunction(L, l_tty_restore);
  lua_setfield(L, -2, "tty_restore");
  // A sentinel whose finalizer runs when the state closes.
  lua_newuserdatauv(L, 0, 0);
  lua_newtable(L);
  lua_pushcfunction(L, l_tty_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, "hilt.tty.sentinel");
}
