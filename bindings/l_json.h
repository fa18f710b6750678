// Internal declarations shared by the hilt.json binding files: l_json.c
// (the module and decode) and l_json_encode.c.
#ifndef HILT_L_JSON_H
#define HILT_L_JSON_H

#include <jansson.h>
#include <lua.h>

// Nesting limit of encode and decode, and of decode's max_depth option.
#define JS_DEPTH_MAX 128

// Every function of the module closes over these upvalues.
enum {
  JS_UV_ARRAY = 1,  // hilt.msgpack's Array marker
  JS_UV_MAP,        // hilt.msgpack's Map marker
  JS_UV_BOX,        // the metatable of jbox_t
  JS_NUP = JS_UV_BOX
};

/// The C memory of one encode or decode, owned by a userdata so that an
/// error raised while Lua values are made (out of memory) leaks nothing:
/// the box's __gc frees what is left in it.
typedef struct {
  json_t *root;
  char *out;   // json_dumps's output
} jbox_t;

/// Pushes an empty box. Must run inside a module closure.
jbox_t *hilt__json_box_new(lua_State *L);

/// Frees what the box holds, now.
void hilt__json_box_free(jbox_t *box);

/// json.encode(value) -> string
int hilt__json_encode(lua_State *L);

#endif
