/*
 * floe_map — a hash table from NUL-terminated string keys to pointers, for the engine's
 * in-memory indexes (executions in flight, plans, node ids). Open addressing with linear
 * probing; grows at 70 % load, never shrinks below its initial size.
 *
 * The map does not copy keys: a key must stay valid and unchanged while its entry is in
 * the map (keep it inside the value it maps to). Not thread-safe.
 */
#ifndef FLOE_MAP_H
#define FLOE_MAP_H

#include "floe_err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct floe_map floe_map;

floe_map *floe_map_new(size_t initial);
void floe_map_free(floe_map *m); /* values are not freed; NULL is a no-op */

void *floe_map_get(const floe_map *m, const char *key);
/* Inserts or replaces. FLOE_ENOMEM when it cannot grow (the map is unchanged). */
floe_rc floe_map_put(floe_map *m, const char *key, void *value);
/* Returns the removed value, or NULL. */
void *floe_map_del(floe_map *m, const char *key);
size_t floe_map_count(const floe_map *m);

/* Iteration: *pos starts at 0; returns the next value or NULL at the end. The map must not
 * change during an iteration (collect, then delete). */
void *floe_map_next(const floe_map *m, size_t *pos);

/* A string's hash for the maps: SipHash-1-3 under a key drawn at random once a process,
 * so it differs between processes (never persist or send it). */
uint64_t floe_hash_str(const char *s);
/* SipHash-c-d of len bytes under key (16 bytes, little-endian words). */
uint64_t floe_siphash(const uint8_t key[16], const void *data, size_t len, int c, int d);

#endif
