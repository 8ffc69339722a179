/*
 * floe_map — open addressing, linear probing, backward-shift deletion (no tombstones,
 * so lookups stay short however many executions come and go).
 */
#include "floe_map.h"

#include "floe_mem.h"

#include <string.h>

typedef struct map_slot {
    const char *key; /* NULL: empty */
    uint64_t hash;
    void *value;
} map_slot;

struct floe_map {
    map_slot *slots;
    size_t cap; /* power of two */
    size_t count;
    size_t min_cap;
};

uint64_t
floe_hash_str(const char *s)
{
    /* FNV-1a, then a final mix so low bits depend on every byte. */
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

floe_map *
floe_map_new(size_t initial)
{
    size_t cap = 16;
    while (cap < initial * 2)
        cap <<= 1;
    floe_map *m = floe_calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->slots = floe_calloc(cap, sizeof(map_slot));
    if (m->slots == NULL) {
        floe_free(m);
        return NULL;
    }
    m->cap = m->min_cap = cap;
    return m;
}

void
floe_map_free(floe_map *m)
{
    if (m == NULL)
        return;
    floe_free(m->slots);
    floe_free(m);
}

static size_t
map_find(const floe_map *m, const char *key, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const map_slot *s = &m->slots[i];
        if (s->key == NULL || (s->hash == h && strcmp(s->key, key) == 0))
            return i;
    }
}

void *
floe_map_get(const floe_map *m, const char *key)
{
    const map_slot *s = &m->slots[map_find(m, key, floe_hash_str(key))];
    return s->key != NULL ? s->value : NULL;
}

static floe_rc
map_resize(floe_map *m, size_t cap)
{
    map_slot *slots = floe_calloc(cap, sizeof(map_slot));
    if (slots == NULL)
        return FLOE_ENOMEM;
    map_slot *old = m->slots;
    size_t old_cap = m->cap;
    m->slots = slots;
    m->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key == NULL)
            continue;
        size_t mask = cap - 1, j = old[i].hash & mask;
        while (slots[j].key != NULL)
            j = (j + 1) & mask;
        slots[j] = old[i];
    }
    floe_free(old);
    return FLOE_OK;
}

floe_rc
floe_map_put(floe_map *m, const char *key, void *value)
{
    if ((m->count + 1) * 10 > m->cap * 7 && map_resize(m, m->cap * 2) != FLOE_OK)
        return FLOE_ENOMEM;
    uint64_t h = floe_hash_str(key);
    map_slot *s = &m->slots[map_find(m, key, h)];
    if (s->key == NULL)
        m->count++;
    s->key = key;
    s->hash = h;
    s->value = value;
    return FLOE_OK;
}

void *
floe_map_del(floe_map *m, const char *key)
{
    size_t mask = m->cap - 1;
    size_t i = map_find(m, key, floe_hash_str(key));
    if (m->slots[i].key == NULL)
        return NULL;
    void *value = m->slots[i].value;
    /* Backward shift: move later members of the probe run into the hole. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j].key == NULL)
            break;
        size_t home = m->slots[j].hash & mask;
        /* Can slot j move to i? Only if its home is not in (i, j] cyclically. */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = NULL;
    m->slots[i].value = NULL;
    m->count--;
    if (m->cap > m->min_cap && m->count * 10 < m->cap)
        (void)map_resize(m, m->cap / 2); /* best effort: a failed shrink changes nothing */
    return value;
}

size_t
floe_map_count(const floe_map *m)
{
    return m->count;
}

void *
floe_map_next(const floe_map *m, size_t *pos)
{
    while (*pos < m->cap) {
        const map_slot *s = &m->slots[(*pos)++];
        if (s->key != NULL)
            return s->value;
    }
    return NULL;
}
