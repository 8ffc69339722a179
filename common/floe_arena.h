/*
 * floe_arena — a bump allocator for one unit of work (a consumed message, an API request),
 * released all at once by floe_arena_reset(). protobuf-c unpacks into it through
 * floe_arena_pb_allocator(), so decoding a message costs no malloc once the arena is warm.
 * Not thread-safe: one arena per thread or per unit of work.
 */
#ifndef FLOE_ARENA_H
#define FLOE_ARENA_H

#include <stddef.h>

typedef struct floe_arena floe_arena;
struct ProtobufCAllocator;

/* chunk_size: bytes per chunk (larger requests get their own chunk). limit: the most the
 * arena may hold in total, 0 for no limit; past it allocations return NULL. */
floe_arena *floe_arena_new(size_t chunk_size, size_t limit);
void floe_arena_free(floe_arena *arena);

/* 16-byte aligned; NULL when out of memory or over the limit. Valid until reset/free. */
void *floe_arena_alloc(floe_arena *arena, size_t n);
char *floe_arena_strndup(floe_arena *arena, const char *s, size_t n);

/* Releases everything allocated; keeps the first chunk for reuse. */
void floe_arena_reset(floe_arena *arena);

/* Whether an allocation failed (limit or memory) since the last reset: lets a decoder
 * tell "too large once decoded" from "malformed". */
int floe_arena_exhausted(const floe_arena *arena);

/* Bytes handed out since the last reset. */
size_t floe_arena_used(const floe_arena *arena);

/* A protobuf-c allocator drawing from the arena; its free is a no-op. The returned
 * struct lives inside the arena object and is valid until floe_arena_free(). */
struct ProtobufCAllocator *floe_arena_pb_allocator(floe_arena *arena);

#endif
