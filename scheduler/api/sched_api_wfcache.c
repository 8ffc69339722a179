/*
 * The workflow specs launches name, kept by the API thread that read them. A registered
 * version never changes (registration refuses another spec under a version; nothing
 * updates or deletes one), so a launch naming a version it launched before need not read
 * PostgreSQL again (issue 25: one round trip of a launch's three). A launch naming no
 * version asks for the latest and always reads. Per thread, so without a lock; bounded:
 * WFCACHE_SLOTS specs of at most WFCACHE_SPEC_MAX bytes each, the least recently used one
 * making room.
 */
#include "sched_api_int.h"

#include "floe_mem.h"
#include "store_registry.h"

#include <string.h>

enum { WFCACHE_SLOTS = 16, WFCACHE_SPEC_MAX = 256 * 1024 };

typedef struct wf_slot {
    char *key; /* project '\n' domain '\n' name '\n' version: no part holds a newline */
    uint8_t *spec;
    size_t spec_len;
    uint64_t used;
} wf_slot;

struct api_wfcache {
    wf_slot slot[WFCACHE_SLOTS];
    uint64_t clock;
};

void
api_wfcache_free(api_wfcache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < WFCACHE_SLOTS; i++) {
        floe_free(c->slot[i].key);
        floe_free(c->slot[i].spec);
    }
    floe_free(c);
}

static char *
key_of(const char *project, const char *domain, const char *name, const char *version)
{
    const char *parts[] = {project, domain, name, version};
    size_t len = 0;
    for (size_t i = 0; i < 4; i++)
        len += strlen(parts[i]) + 1;
    char *k = floe_malloc(len);
    if (k == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < 4; i++) {
        size_t n = strlen(parts[i]);
        memcpy(k + o, parts[i], n);
        o += n;
        k[o++] = i < 3 ? '\n' : '\0';
    }
    return k;
}

/* Takes key (freed when the spec cannot be kept: the launch goes on without). */
static void
remember(api_thread *t, char *key, const store_entity *e)
{
    uint8_t *spec = floe_malloc(e->spec_len ? e->spec_len : 1);
    if (spec == NULL || (t->wf == NULL && (t->wf = floe_calloc(1, sizeof(*t->wf))) == NULL)) {
        floe_free(spec);
        floe_free(key);
        return;
    }
    memcpy(spec, e->spec, e->spec_len);
    wf_slot *s = &t->wf->slot[0];
    for (size_t i = 1; i < WFCACHE_SLOTS && s->key != NULL; i++)
        if (t->wf->slot[i].key == NULL || t->wf->slot[i].used < s->used)
            s = &t->wf->slot[i];
    floe_free(s->key);
    floe_free(s->spec);
    *s = (wf_slot){.key = key, .spec = spec, .spec_len = e->spec_len, .used = ++t->wf->clock};
}

floe_rc
api_workflow_spec(api_thread *t, api_req *r, const char *project, const char *domain,
                  const char *name, const char *version, const uint8_t **spec, size_t *len)
{
    char *key = version != NULL ? key_of(project, domain, name, version) : NULL;
    for (size_t i = 0; key != NULL && t->wf != NULL && i < WFCACHE_SLOTS; i++) {
        wf_slot *s = &t->wf->slot[i];
        if (s->key == NULL || strcmp(s->key, key) != 0)
            continue;
        floe_free(key);
        /* A copy in the request's arena: the slot may be taken by a later launch. */
        uint8_t *copy = floe_arena_alloc(r->arena, s->spec_len ? s->spec_len : 1);
        if (copy == NULL) {
            api_fail(r, FLOE_ENOMEM, "out of memory");
            return FLOE_ENOMEM;
        }
        memcpy(copy, s->spec, s->spec_len);
        s->used = ++t->wf->clock;
        *spec = copy;
        *len = s->spec_len;
        return FLOE_OK;
    }
    store_entity e;
    floe_rc rc = store_registry_get(t->pg, STORE_WORKFLOW, project, domain, name, version, r->arena,
                                    &e, &r->err);
    if (rc == FLOE_OK) {
        *spec = e.spec;
        *len = e.spec_len;
        if (key != NULL && e.spec_len <= WFCACHE_SPEC_MAX) {
            remember(t, key, &e);
            key = NULL;
        }
    }
    floe_free(key);
    return rc;
}
