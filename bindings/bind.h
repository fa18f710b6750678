// Shared declarations of the binding files: each l_<module>.c adds its
// functions to the hilt.core table at the top of the stack.
#ifndef HILT_BIND_H
#define HILT_BIND_H

#include <lua.h>

void hilt__task_lib(lua_State *L);
void hilt__timer_lib(lua_State *L);
void hilt__log_lib(lua_State *L);
void hilt__signal_lib(lua_State *L);
void hilt__tty_lib(lua_State *L);
void hilt__edit_lib(lua_State *L);

/// While owned, SIGINT no longer interrupts the main task: a watcher of
/// the script's (hilt.signal) handles it, as the REPL does.
void hilt_sigint_own(int owned);

/// Counts timers that are started and not stopped, for leak checks.
int hilt__timer_active_count(void);

int luaopen_hilt_core(lua_State *L);
int luaopen_hilt_msgpack(lua_State *L);
int luaopen_hilt_rpc_core(lua_State *L);
int luaopen_hilt_net_core(lua_State *L);
int luaopen_hilt_process_core(lua_State *L);
int luaopen_hilt_serial_core(lua_State *L);
int luaopen_hilt_json(lua_State *L);
int luaopen_hilt_http(lua_State *L);
int luaopen_hilt_eshet_core(lua_State *L);

/// Fills package.path so lua/hilt/ is found wherever hilt runs from.
/// Returns the directory used, or NULL (then *tried lists the candidates).
const char *hilt__libpath_setup(lua_State *L, const char **tried);

#endif
