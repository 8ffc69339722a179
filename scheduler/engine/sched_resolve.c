#include "sched_resolve.h"

#include "store_registry.h"

#include <string.h>

floe_rc
sched_resolve(void *arg, spec_kind kind, const char *name, const char *version, floe_arena *arena,
              const uint8_t **data, size_t *len, floe_err *err)
{
    const sched_resolve_scope *s = arg;
    store_entity e;
    floe_err local;
    floe_rc rc = store_registry_get(s->pg, (store_kind)kind, s->project, s->domain, name, version,
                                    arena, &e, &local);
    if (rc == FLOE_ENOTFOUND)
        return rc;
    if (rc != FLOE_OK) {
        if (err != NULL)
            *err = local;
        return rc;
    }
    *data = e.spec;
    *len = e.spec_len;
    return FLOE_OK;
}

const char **
sched_resolve_classes(const char *csv, floe_arena *a, size_t *n)
{
    size_t count = 1;
    for (const char *p = csv; *p; p++)
        count += *p == ',';
    const char **out = floe_arena_alloc(a, count * sizeof(*out));
    if (out == NULL)
        return NULL;
    *n = 0;
    for (const char *p = csv; *p;) {
        size_t len = strcspn(p, ",");
        if ((out[*n] = floe_arena_strndup(a, p, len)) == NULL)
            return NULL;
        (*n)++;
        p += len;
        if (*p == ',')
            p++;
    }
    return out;
}
