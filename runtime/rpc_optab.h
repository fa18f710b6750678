// A table of operations by id: open addressing with linear probing and
// backward-shift deletion, so it never fills with tombstones however many
// operations come and go. Holds pointers it does not own.
#ifndef HILT_RPC_OPTAB_H
#define HILT_RPC_OPTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t id;
  void *op;        // NULL: the slot is free
} rpc_optab_slot_t;

typedef struct {
  rpc_optab_slot_t *slots;  // NULL while empty
  size_t cap;               // a power of two, or 0
  size_t count;
} rpc_optab_t;

void rpc_optab_init(rpc_optab_t *t);
/// Frees the slots; the operations are the caller's.
void rpc_optab_free(rpc_optab_t *t);
/// The operation with this id, or NULL.
void *rpc_optab_get(const rpc_optab_t *t, uint32_t id);
/// Adds op (not NULL) under an id not in the table. Returns 0, or -1 when
/// out of memory (nothing added).
int rpc_optab_put(rpc_optab_t *t, uint32_t id, void *op);
/// Removes the id's entry and returns its op, or NULL if absent.
void *rpc_optab_del(rpc_optab_t *t, uint32_t id);
/// Calls fn on every op; fn must not change the table.
void rpc_optab_each(const rpc_optab_t *t, void (*fn)(void *op, void *data),
                    void *data);

#endif
