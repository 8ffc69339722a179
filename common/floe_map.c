/*
 * floe_map — open addressing, linear probing, backward-shift deletion (no tombstones,
 * so lookups stay short however many executions come and go). Keys are hashed with
 * SipHash-1-3 under a random key of the process.
 */
#include "floe_map.h"

#include "floe_mem.h"
#include "floe_time.h"

#include <endian.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* SipHash (Aumasson and Bernstein), written from its description: c rounds a word, d to
 * finish. */
#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

uint64_t
floe_siphash(const uint8_t key[16], const void *data, size_t len, int c, int d)
{
    uint64_t k0, k1;
    memcpy(&k0, key, 8);
    memcpy(&k1, key + 8, 8);
    k0 = le64toh(k0);
    k1 = le64toh(k1);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1,
             v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    const uint8_t *in = data, *end = in + (len & ~(size_t)7);
    for (; in != end; in += 8) {
        uint64_t m;
        memcpy(&m, in, 8);
        m = le64toh(m);
        v3 ^= m;
        for (int i = 0; i < c; i++)
            SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)in[i] << (8 * i);
    v3 ^= b;
    for (int i = 0; i < c; i++)
        SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < d; i++)
        SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* The process's key: random, so which keys collide cannot be worked out from outside
 * (review L1: execution and node ids are the caller's, and an unkeyed hash let them be
 * chosen to fall in one run of slots). */
static uint8_t hash_key[16];
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;

static void
hash_key_init(void)
{
    if (floe_random_bytes(hash_key, sizeof(hash_key)) == 0)
        return;
    /* No getrandom(2) (an old kernel, a seccomp filter): a key no one outside can read. */
    uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&t;
    memcpy(hash_key, &t, 8);
    t = (uint64_t)clock();
    memcpy(hash_key + 8, &t, 8);
}

uint64_t
floe_hash_str(const char *s)
{
    pthread_once(&hash_once, hash_key_init);
    return floe_siphash(hash_key, s, strlen(s), 1, 3);
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
