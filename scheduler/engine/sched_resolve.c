#include "sched_resolve.h"

#include "store_registry.h"

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
