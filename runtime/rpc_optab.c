// Operations by id (see rpc_optab.h).
#include "rpc_optab.h"

#include <stdlib.h>

// Ids are mostly consecutive, so a multiplicative hash spreads them.
static size_t slot_of(const rpc_optab_t *t, uint32_t id)
{
  return (size_t)((id * 2654435769u) >> 7) & (t->cap - 1);
}

void rpc_optab_init(rpc_optab_t *t)
{
  t->slots = NULL;
  t->cap = 0;
  t->count = 0;
}

void rpc_optab_free(rpc_optab_t *t)
{
  free(t->slots);
  rpc_optab_init(t);
}

void *rpc_optab_get(const rpc_optab_t *t, uint32_t id)
{
  if (t->count == 0) {
    return NULL;
  }
  for (size_t i = slot_of(t, id);; i = (i + 1) & (t->cap - 1)) {
    if (t->slots[i].op == NULL) {
      return NULL;
    }
    if (t->slots[i].id == id) {
      return t->slots[i].op;
    }
  }
}

static void place(rpc_optab_t *t, uint32_t id, void *op)
{
  size_t i = slot_of(t, id);
  while (t->slots[i].op != NULL) {
    i = (i + 1) & (t->cap - 1);
  }
  t->slots[i].id = id;
  t->slots[i].op = op;
}

// Keeps the load at most 1/2 (growing) and at least 1/8 (shrinking, down
// to 16 slots) so a burst of operations does not pin its memory.
static int resize(rpc_optab_t *t, size_t cap)
{
  rpc_optab_slot_t *old = t->slots;
  size_t old_cap = t->cap;
  rpc_optab_slot_t *slots = calloc(cap, sizeof *slots);
  if (slots == NULL) {
    return -1;
  }
  t->slots = slots;
  t->cap = cap;
  for (size_t i = 0; i < old_cap; i++) {
    if (old[i].op != NULL) {
      place(t, old[i].id, old[i].op);
    }
  }
  free(old);
  return 0;
}

int rpc_optab_put(rpc_optab_t *t, uint32_t id, void *op)
{
  if (2 * (t->count + 1) > t->cap &&
      resize(t, t->cap == 0 ? 16 : 2 * t->cap) != 0) {
    return -1;
  }
  place(t, id, op);
  t->count++;
  return 0;
}

void *rpc_optab_del(rpc_optab_t *t, uint32_t id)
{
  if (t->count == 0) {
    return NULL;
  }
  size_t mask = t->cap - 1, i = slot_of(t, id);
  while (t->slots[i].op != NULL && t->slots[i].id != id) {
    i = (i + 1) & mask;
  }
  void *op = t->slots[i].op;
  if (op == NULL) {
    return NULL;
  }
  // Backward shift: pull later entries of the probe run into the hole when
  // their home slot is not between the hole and them.
  for (size_t j = (i + 1) & mask; t->slots[j].op != NULL; j = (j + 1) & mask) {
    size_t home = slot_of(t, t->slots[j].id);
    if (((j - home) & mask) >= ((j - i) & mask)) {
      t->slots[i] = t->slots[j];
      i = j;
    }
  }
  t->slots[i].op = NULL;
  t->count--;
  if (t->cap > 16 && 8 * t->count < t->cap) {
    resize(t, t->cap / 2);  // on failure the table simply stays large
  }
  return op;
}

void rpc_optab_each(const rpc_optab_t *t, void (*fn)(void *op, void *data),
                    void *data)
{
  for (size_t i = 0; i < t->cap; i++) {
    if (t->slots[i].op != NULL) {
      fn(t->slots[i].op, data);
    }
  }
}
