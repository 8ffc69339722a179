#include "floe_arena.h"

#include "floe_mem.h"

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <string.h>

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(16) unsigned char data[];
} arena_chunk;

struct floe_arena {
    arena_chunk *head; /* current chunk; older ones follow */
    size_t chunk_size;
    size_t limit;
    size_t total; /* bytes handed out since reset */
    int exhausted;
    ProtobufCAllocator pb;
};

#define ARENA_ALIGN 16

static void *arena_pb_alloc(void *data, size_t size);
static void arena_pb_free(void *data, void *ptr);

static arena_chunk *
arena_chunk_new(size_t size)
{
    arena_chunk *c = floe_malloc(sizeof(*c) + size);
    if (c == NULL)
        return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

floe_arena *
floe_arena_new(size_t chunk_size, size_t limit)
{
    floe_arena *arena = floe_calloc(1, sizeof(*arena));
    if (arena == NULL)
        return NULL;
    arena->chunk_size = chunk_size < 256 ? 256 : chunk_size;
    arena->limit = limit;
    arena->pb.alloc = arena_pb_alloc;
    arena->pb.free = arena_pb_free;
    arena->pb.allocator_data = arena;
    return arena;
}

void
floe_arena_free(floe_arena *arena)
{
    if (arena == NULL)
        return;
    arena_chunk *c = arena->head;
    while (c != NULL) {
        arena_chunk *next = c->next;
        floe_free(c);
        c = next;
    }
    floe_free(arena);
}

void *
floe_arena_alloc(floe_arena *arena, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n ||
        (arena->limit != 0 && (need > arena->limit || arena->total > arena->limit - need))) {
        arena->exhausted = 1;
        return NULL;
    }
    arena_chunk *c = arena->head;
    if (c == NULL || c->size - c->used < need) {
        size_t size = need > arena->chunk_size ? need : arena->chunk_size;
        arena_chunk *fresh = arena_chunk_new(size);
        if (fresh == NULL) {
            arena->exhausted = 1;
            return NULL;
        }
        if (c != NULL && need > arena->chunk_size) {
            /* An oversized block goes behind the current chunk so its free space stays in
             * use for later small requests. */
            fresh->next = c->next;
            c->next = fresh;
        } else {
            fresh->next = c;
            arena->head = fresh;
        }
        c = fresh;
    }
    void *p = c->data + c->used;
    c->used += need;
    arena->total += need;
    return p;
}

char *
floe_arena_strndup(floe_arena *arena, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = floe_arena_alloc(arena, len + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void
floe_arena_reset(floe_arena *arena)
{
    arena->exhausted = 0;
    if (arena->head == NULL)
        return;
    /* Keep one chunk of the standard size (the last in the list is the oldest). */
    arena_chunk *keep = NULL;
    arena_chunk *c = arena->head;
    while (c != NULL) {
        arena_chunk *next = c->next;
        if (keep == NULL && c->size == arena->chunk_size)
            keep = c;
        else
            floe_free(c);
        c = next;
    }
    if (keep != NULL) {
        keep->next = NULL;
        keep->used = 0;
    }
    arena->head = keep;
    arena->total = 0;
    arena->exhausted = 0;
}

int
floe_arena_exhausted(const floe_arena *arena)
{
    return arena->exhausted;
}

size_t
floe_arena_used(const floe_arena *arena)
{
    return arena->total;
}

/* --- protobuf-c allocator ----------------------------------------------------------- */

static void *
arena_pb_alloc(void *data, size_t size)
{
    return floe_arena_alloc(data, size);
}

static void
arena_pb_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr;
}

ProtobufCAllocator *
floe_arena_pb_allocator(floe_arena *arena)
{
    return &arena->pb;
}
